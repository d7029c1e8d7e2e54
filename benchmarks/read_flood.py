"""A read flood against a real 4-validator network: heights per minute with and without it.

Starts a local network of 4 node processes, then alternates quiet and flooded windows of
`--window` seconds (`--cycles` of each); in a flooded window `--connections` client threads,
each from its own loopback address (127.0.0.10, 127.0.0.11, ...: a node counts reads per
client address), request costly reads — console pages, block lists of 100 headers, the
genesis, blocks and their event batches — from every node, as fast as the answers come.
Prints the heights per minute of each window and the ratio flooded / quiet (a same-run
ratio: this machine is shared, absolute figures are noise), and the flood's answers by
status.

`--mix` chooses what the flood sends: `pages` (the reads above), `gated` (the reads the
query gate bounds: contract queries, proof documents, history documents, the governance
views), `hostile` (an anonymous client's abuse: malformed and oversized bodies on the
submission, private-data and query routes, out-of-range and oversized query strings, 15 KiB
of headers, half-closed pipelined connections, connections left idle mid-head), `streams`
(block event streams replaying the chain from height 1 to the top, then again), or `all`
(each connection one of the first three in turn).

    .venv/bin/python benchmarks/read_flood.py --window 30 --cycles 2 --connections 48
    .venv/bin/python benchmarks/read_flood.py --mix all
"""

from __future__ import annotations

import argparse
import collections
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tianfu.bench.netcheck import free_base_ports, height
from tianfu.node.localnet import LocalNetwork

HTML = {"accept": "text/html", "accept-language": "en"}


def reads(top: int) -> list[tuple[str, dict[str, str]]]:
    h = max(1, top - 1)
    return [
        ("/v1/blocks?limit=100", {}),
        ("/orgs", HTML),
        ("/", HTML),
        ("/blocks", HTML),
        ("/v1/genesis", {}),
        (f"/v1/blocks/{h}", {}),
        (f"/v1/blocks/{h}/events", {}),
        ("/validators", HTML),
        (f"/blocks/{h}", HTML),
    ]


QUERY = {"contract": "governance", "method": "list_orgs", "args": []}
GATED = [
    ("POST", "/v1/query", QUERY),
    ("GET", "/v1/proofs/orgs", None),
    ("GET", "/v1/proofs/validators", None),
    ("GET", "/v1/proofs/state/governance/orgs", None),
    ("GET", "/v1/proofs/history/governance/orgs?limit=256", None),
    ("GET", "/v1/orgs", None),
    ("GET", "/v1/contracts", None),
    ("POST", "/v1/proofs/state", {"reads": [{"contract": "governance", "key": "orgs"}] * 64}),
]


def hostile(client: httpx.Client, n: int, host: str, port: int, local: str) -> str:
    """One of an anonymous client's abuses (by `n`); its answer's status or error."""
    junk = os.urandom(1 << 20)
    octets = {"content-type": "application/octet-stream"}
    kind = n % 10
    if kind == 0:
        r = client.post("/v1/txs", content=junk, headers=octets)
    elif kind == 1:
        r = client.post("/v1/txs/batch", content=junk[: 1 << 19], headers=octets)
    elif kind == 2:
        r = client.post("/v1/private/read", content=junk[:4096], headers=octets)
    elif kind == 3:
        r = client.post("/v1/query", content=b'{"contract":' + b"[" * 50_000)
    elif kind == 4:
        r = client.get("/v1/blocks?limit=99999999999999999999999&from=-1")
    elif kind == 5:
        r = client.get("/v1/state/governance/" + "k" * 8000 + "?height=0&prove=maybe")
    elif kind == 6:
        r = client.get("/search?q=" + "x" * 8000, headers={"x-junk": "y" * 15_000})
    elif kind == 7:
        r = client.get("/v1/blocks/1", headers={"x-forwarded-for": "10.9.9.9", "range": "bytes=0-"})
    else:
        return _raw(host, port, local, half_close=kind == 8)
    return str(r.status_code)


def _raw(host: str, port: int, local: str, half_close: bool) -> str:
    """Pipelined GETs then a half-close (read every answer), or a head left unfinished."""
    with socket.create_connection((host, port), timeout=30, source_address=(local, 0)) as s:
        if half_close:
            s.sendall(b"GET /v1/genesis HTTP/1.1\r\nHost: n\r\n\r\n" * 3)
            s.shutdown(socket.SHUT_WR)
        else:
            s.sendall(b"GET /v1/blocks HTTP/1.1\r\nHost: n\r\nX-Slow: ")
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        answers = got.count(b"HTTP/1.1 ")
        return f"raw:{answers}" if half_close else f"raw-idle:{got[9:12].decode() or 'closed'}"


def replay(url: str, local: str, done: threading.Event, top: int) -> str:
    """A block event stream from height 1, read up to height `top` (or until the flood
    stops); the caller opens the next."""
    import json

    from websockets.sync.client import connect

    ws_url = url.replace("http://", "ws://") + f"/v1/events/blocks?from=1&to={top}"
    try:
        with connect(ws_url, source_address=(local, 0), open_timeout=30) as ws:
            height = 0
            while not done.is_set() and height < top:
                height = json.loads(ws.recv(timeout=30))["height"]
            return "stream"
    except Exception as exc:  # a refusal (429) or a closed stream: counted by kind
        return f"stream:{type(exc).__name__}"


class Flood:
    def __init__(self, urls: list[str], connections: int, mix: str = "pages") -> None:
        self.urls = urls
        self.connections = connections
        self.mix = mix
        self.on = threading.Event()
        self.done = threading.Event()
        self.off = threading.Event()  # set while the flood is paused (streams end)
        self.statuses: collections.Counter[str] = collections.Counter()
        self.top = 1
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(connections)
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _run(self, i: int) -> None:
        local = f"127.0.0.{10 + i % 240}"
        transport = httpx.HTTPTransport(local_address=local)
        url = self.urls[i % len(self.urls)]
        host, port = url.rsplit("/", 1)[-1].split(":")
        mix = ("pages", "gated", "hostile")[i % 3] if self.mix == "all" else self.mix
        with httpx.Client(base_url=url, transport=transport, timeout=30) as client:
            n = i
            while not self.done.is_set():
                if not self.on.wait(0.2):
                    continue
                n += 1
                try:
                    if mix == "pages":
                        path, headers = reads(self.top)[n % 9]
                        status = str(client.get(path, headers=headers).status_code)
                    elif mix == "gated":
                        method, path, body = GATED[n % len(GATED)]
                        status = str(client.request(method, path, json=body).status_code)
                    elif mix == "streams":
                        status = replay(url, local, self.off, self.top)
                    else:
                        status = hostile(client, n, host, int(port), local)
                except (httpx.HTTPError, OSError) as exc:
                    status = type(exc).__name__
                self.statuses[f"{mix}:{status}"] += 1


def rate(urls: list[str], seconds: float) -> float:
    """Heights per minute of node 0 over `seconds`."""
    start_h, t0 = height(urls[0], timeout=30), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    end_h, t1 = height(urls[0], timeout=30), time.monotonic()
    return (end_h - start_h) * 60 / (t1 - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=30)
    ap.add_argument("--cycles", type=int, default=2)
    ap.add_argument("--connections", type=int, default=48)
    ap.add_argument(
        "--mix", choices=("pages", "gated", "hostile", "streams", "all"), default="pages"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="read-flood-") as tmp:
        api, p2p = free_base_ports(5)
        net, _ = LocalNetwork.prepare(
            Path(tmp) / "net", 4, True, api_base_port=api, p2p_base_port=p2p
        )
        net.start()
        try:
            net.wait_ready(timeout=120)
            urls = [net.url(c) for c in net.configs]
            flood = Flood(urls, args.connections, args.mix)
            flood.start()
            quiet, flooded = [], []
            for _ in range(args.cycles):
                flood.on.clear()
                flood.off.set()
                quiet.append(rate(urls, args.window))
                flood.top = height(urls[0], timeout=30)
                flood.off.clear()
                flood.on.set()
                flooded.append(rate(urls, args.window))
            flood.on.clear()
            flood.off.set()
            flood.done.set()
            q, f = sum(quiet) / len(quiet), sum(flooded) / len(flooded)
            print("quiet   heights/min:", " ".join(f"{x:.1f}" for x in quiet))
            print("flooded heights/min:", " ".join(f"{x:.1f}" for x in flooded))
            print(f"ratio flooded/quiet: {f / q:.2f}" if q else "no heights while quiet")
            print("flood answers:", dict(sorted(flood.statuses.items())))
        finally:
            net.stop()


if __name__ == "__main__":
    main()
