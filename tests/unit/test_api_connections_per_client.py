"""The node's HTTP server bounds the connections one client address may hold open
(`make_server(max_connections_per_client=)`), beside the node-wide bound. One address could
hold every one of the node's connections (1,024; each idle one closed after 10 s, and
opened again at once), so that every other client's connection — an honest member's
transaction submission among them — was answered 429. Now one more than the per-client
bound from that address is answered 429 and closed, while another address is served; a
closed connection gives its place back; a reverse proxy the operator declared trusted is
not bound (its clients are many)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
from test_api_server import WAIT_S, _read_until_closed

from tianfu.api.app import create_app
from tianfu.api.server import Connections, make_server
from tianfu.testing.appchain import AppChain
from tianfu.testing.threadserver import ServerThread

PER_CLIENT = 4


def _connect(port: int, source: str) -> socket.socket:
    s = socket.socket()
    s.settimeout(WAIT_S)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def _status(port: int, source: str) -> int:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=WAIT_S) as client:
        return client.get(f"http://127.0.0.1:{port}/v1/status").status_code


def _served(chain: AppChain, trusted: tuple[str, ...] = ()) -> ServerThread:
    server = make_server(
        create_app(chain.service, trusted_proxies=trusted),
        "127.0.0.1",
        0,
        max_connections=64,
        max_connections_per_client=PER_CLIENT,
    )
    return ServerThread(server).start(WAIT_S)


def test_one_address_holds_at_most_its_share_of_connections(tmp_path: Path) -> None:
    chain = AppChain(tmp_path)
    running = _served(chain)
    try:
        idle = [_connect(running.port, "127.0.0.2") for _ in range(PER_CLIENT)]
        extra = _connect(running.port, "127.0.0.2")
        answer = _read_until_closed(extra)
        assert answer.startswith(b"HTTP/1.1 429 "), answer[:100]
        assert b"too many connections open from your address (at most 4)" in answer
        assert _status(running.port, "127.0.0.3") == 200  # another client is served
        idle.pop().close()
        deadline = time.monotonic() + WAIT_S
        while True:  # the closed connection's place is given back
            try:
                status = _status(running.port, "127.0.0.2")
            except httpx.TransportError:
                status = None
            if status == 200:
                break
            assert time.monotonic() < deadline, "the connection's place never came back"
            time.sleep(0.05)
        for s in [*idle, extra]:
            s.close()
    finally:
        running.stop(WAIT_S)
        chain.close()


def test_by_default_one_address_holds_at_most_half_the_connections(tmp_path: Path) -> None:
    chain = AppChain(tmp_path)
    server = make_server(create_app(chain.service), "127.0.0.1", 0, max_connections=200)
    running = ServerThread(server).start(WAIT_S)
    try:
        held = [_connect(running.port, "127.0.0.5") for _ in range(100)]
        assert _status(running.port, "127.0.0.6") == 200  # (all 100 are counted by now)
        extra = _connect(running.port, "127.0.0.5")
        answer = _read_until_closed(extra)
        assert b"too many connections open from your address (at most 100)" in answer
        for s in [*held, extra]:
            s.close()
    finally:
        running.stop(WAIT_S)
        chain.close()


def test_a_trusted_proxy_is_not_bound_per_client(tmp_path: Path) -> None:
    chain = AppChain(tmp_path)
    running = _served(chain, trusted=("127.0.0.4",))
    try:
        held = [_connect(running.port, "127.0.0.4") for _ in range(PER_CLIENT + 2)]
        assert _status(running.port, "127.0.0.4") == 200
        for s in held:
            s.close()
    finally:
        running.stop(WAIT_S)
        chain.close()


def test_the_counts_go_back_to_nothing() -> None:
    count = Connections(3, 2)
    entered = [count.enter("10.0.0.1") for _ in range(3)]
    assert [refusal is None for _, refusal in entered] == [True, True, False]
    assert count.enter("10.0.0.2")[1] is not None  # the node's limit: 4 > 3
    for key, _ in entered:
        count.leave(key)
    count.leave("10.0.0.2")
    assert count.open == 0 and count.by_client == {}
