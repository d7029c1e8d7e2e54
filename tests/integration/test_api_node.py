"""The API of a real node process under abuse: a flood of the most expensive queries does
not stop block production (the query gate answers the excess 429, each query is
gas-bounded), a half-sent request is closed at the node's read deadline, and integers out
of range or absurdly nested arguments are refused with 400."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

import httpx
import pytest

from tianfu.api.server import DEFAULT_HEAD_TIMEOUT_S
from tianfu.codec import encode

pytestmark = pytest.mark.timeout(240)

SPINNER = """
def touch(ctx, key):
    ctx.put(key, 1)


@view
def spin(ctx):
    n = 0
    while True:
        n = n + 1
"""
WAIT_S = 90.0


def _deploy_spinner(dev_chain) -> None:
    admin = dev_chain.client(dev_chain.admin)
    if any(c["name"] == "spinner" for c in admin.contracts()):
        return
    pid = admin.propose_contract("spinner", SPINNER)
    assert admin.approve_contract(pid).result["status"] == "activated"


def test_a_query_flood_does_not_stop_block_production(dev_chain) -> None:
    _deploy_spinner(dev_chain)
    url = dev_chain.node.url
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def flood() -> None:
        with httpx.Client(base_url=url, timeout=WAIT_S) as client:
            while not stop.is_set():
                r = client.post("/v1/query", json={"contract": "spinner", "method": "spin"})
                statuses[r.status_code] += 1
                if r.status_code == 400:
                    assert "out of gas" in r.json()["error"]

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(12)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + WAIT_S
        while statuses[429] == 0 or statuses[400] == 0:  # the flood is on, and refused
            assert time.monotonic() < deadline, dict(statuses)
            time.sleep(0.05)
        admin = dev_chain.client(dev_chain.admin, timeout=WAIT_S)
        for i in range(5):  # transactions still commit while the flood goes on
            assert admin.invoke("spinner", "touch", f"k{i}").ok
    finally:
        stop.set()
        for t in threads:
            t.join(WAIT_S)
    assert set(statuses) <= {400, 429}, dict(statuses)


def test_a_half_sent_request_is_closed_at_the_deadline(dev_chain) -> None:
    host, port = "127.0.0.1", dev_chain.node.port
    with socket.create_connection((host, port), timeout=DEFAULT_HEAD_TIMEOUT_S + WAIT_S) as s:
        s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")
        assert httpx.get(dev_chain.node.url + "/v1/status", timeout=WAIT_S).status_code == 200
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 ") and b"request head not received" in answer


def test_out_of_range_and_nested_input_is_400(dev_chain) -> None:
    url = dev_chain.node.url
    for path in (f"/v1/blocks/{2**70}", f"/v1/blocks/{2**70}/commit", f"/v1/blocks?from={2**70}"):
        r = httpx.get(url + path, timeout=WAIT_S)
        assert r.status_code == 400 and "less than or equal" in r.json()["error"], path
    admin = dev_chain.admin
    client = dev_chain.client(admin)
    tx = client.build_tx("governance", "get_identity", "MARKER")
    raw = encode(tx)
    marker = encode(["MARKER"])
    deep = raw.replace(marker, b"\x91" * 20_000 + b"\x90")
    r = httpx.post(
        url + "/v1/txs",
        content=deep,
        timeout=WAIT_S,
        headers={"content-type": "application/octet-stream"},
    )
    assert r.status_code == 400 and "nested too deeply" in r.json()["error"]
