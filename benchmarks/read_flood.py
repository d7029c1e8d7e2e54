"""A read flood against a real 4-validator network: heights per minute with and without it.

Starts a local network of 4 node processes, then alternates quiet and flooded windows of
`--window` seconds (`--cycles` of each); in a flooded window `--connections` client threads,
each from its own loopback address (127.0.0.10, 127.0.0.11, ...: a node counts reads per
client address), request costly reads — console pages, block lists of 100 headers, the
genesis, blocks and their event batches — from every node, as fast as the answers come.
Prints the heights per minute of each window and the ratio flooded / quiet (a same-run
ratio: this machine is shared, absolute figures are noise), and the flood's answers by
status.

    .venv/bin/python benchmarks/read_flood.py --window 30 --cycles 2 --connections 48
"""

from __future__ import annotations

import argparse
import collections
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


class Flood:
    def __init__(self, urls: list[str], connections: int) -> None:
        self.urls = urls
        self.connections = connections
        self.on = threading.Event()
        self.done = threading.Event()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.top = 1
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(connections)
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _run(self, i: int) -> None:
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + i % 240}")
        url = self.urls[i % len(self.urls)]
        with httpx.Client(base_url=url, transport=transport, timeout=30) as client:
            n = i
            while not self.done.is_set():
                if not self.on.wait(0.2):
                    continue
                path, headers = reads(self.top)[n % 9]
                n += 1
                try:
                    status = str(client.get(path, headers=headers).status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.statuses[status] += 1


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
            flood = Flood(urls, args.connections)
            flood.start()
            quiet, flooded = [], []
            for _ in range(args.cycles):
                flood.on.clear()
                quiet.append(rate(urls, args.window))
                flood.top = height(urls[0], timeout=30)
                flood.on.set()
                flooded.append(rate(urls, args.window))
            flood.on.clear()
            flood.done.set()
            q, f = sum(quiet) / len(quiet), sum(flooded) / len(flooded)
            print("quiet   heights/min:", " ".join(f"{x:.1f}" for x in quiet))
            print("flooded heights/min:", " ".join(f"{x:.1f}" for x in flooded))
            print(f"ratio flooded/quiet: {f / q:.2f}" if q else "no heights while quiet")
            print("flood answers:", dict(flood.statuses))
        finally:
            net.stop()


if __name__ == "__main__":
    main()
