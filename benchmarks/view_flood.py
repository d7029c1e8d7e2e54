"""Gas-burning views and failing transactions against a real 4-validator network: heights
per minute, and an honest member's transactions, with and without them.

Starts a local network of 4 node processes and deploys a contract (by governance vote)
with a view and a method that each loop until they run out of their whole gas
(`max_gas_per_tx`). Then, in one run, three windows of `--window` seconds each:

1. **quiet**: nothing but the honest member;
2. **views**: `--connections` anonymous client threads, each from its own loopback address,
   query the burning view on every node as fast as the answers come;
3. **failing**: a member with a valid identity submits batches of the burning method
   (each cheap to admit, each failing after a transaction's whole gas) to node 1, keeping
   `--backlog` of them pending.

All the while an honest member (another organisation) sends one cheap transaction at a
time to node 1 and waits for its commit. Printed per window: heights per minute of node 1,
the ratio to the quiet window (same-run ratios: this machine is shared), the honest
transactions committed and their latency in blocks (commit height minus the height when
sent: p50 / max), and the flood's answers by status. At the end every node must be at one
height with one state root.

    .venv/bin/python benchmarks/view_flood.py --window 40 --connections 24
"""

from __future__ import annotations

import argparse
import collections
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tianfu.bench.netcheck import free_base_ports, height
from tianfu.client import Client
from tianfu.node.localnet import LocalnetEnv, LocalNetwork

BURN = """
@view
def spin(ctx):
    x = 0
    while True:
        x = x + 1


def spin_tx(ctx):
    x = 0
    while True:
        x = x + 1


def note(ctx, n):
    ctx.put('n', n)
    return n
"""


class Honest:
    """One cheap transaction at a time, each waited for: latencies in blocks."""

    def __init__(self, client: Client, url: str) -> None:
        self.client, self.url = client, url
        self.latencies: list[int] = []
        self.pending = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.done.is_set():
            n += 1
            sent_at = height(self.url, timeout=30)
            try:
                r = self.client.invoke("burn", "note", n, check=False)
            except Exception:  # a refusal or timeout: counted as not committed
                self.pending += 1
                continue
            if r.committed and r.height is not None:
                self.latencies.append(r.height - sent_at)
            else:
                self.pending += 1

    def take(self) -> tuple[list[int], int]:
        out, pending = self.latencies, self.pending
        self.latencies, self.pending = [], 0
        return out, pending


def views(
    urls: list[str], connections: int, on: threading.Event, stats: collections.Counter[str]
) -> None:
    def run(i: int) -> None:
        local = f"127.0.0.{10 + i % 240}"
        transport = httpx.HTTPTransport(local_address=local)
        body = {"contract": "burn", "method": "spin", "args": []}
        with httpx.Client(base_url=urls[i % len(urls)], transport=transport, timeout=60) as c:
            while on.is_set():
                try:
                    r = c.post("/v1/query", json=body)
                    stats[f"view:{r.status_code}"] += 1
                except (httpx.HTTPError, OSError) as exc:
                    stats[f"view:{type(exc).__name__}"] += 1

    for i in range(connections):
        threading.Thread(target=run, args=(i,), daemon=True).start()


def failing(
    client: Client, url: str, backlog: int, on: threading.Event, stats: collections.Counter[str]
) -> None:
    def run() -> None:
        while on.is_set():
            pending = httpx.get(url + "/v1/status", timeout=30).json()["mempool"]
            if pending >= backlog:
                time.sleep(0.2)  # a pacing pause of the flooder, not a wait for a condition
                continue
            txs = [client.build_tx("burn", "spin_tx") for _ in range(min(200, backlog - pending))]
            for r in client.submit_many(txs, wait=False):
                stats[f"failing:{getattr(r, 'status', 'ok')}"] += 1

    threading.Thread(target=run, daemon=True).start()


def window(urls: list[str], seconds: float, honest: Honest) -> tuple[float, list[int], int]:
    honest.take()
    h0, t0 = height(urls[0], timeout=30), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    h1, t1 = height(urls[0], timeout=30), time.monotonic()
    lat, pending = honest.take()
    return (h1 - h0) * 60 / (t1 - t0), lat, pending


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=40)
    ap.add_argument("--connections", type=int, default=24)
    ap.add_argument("--backlog", type=int, default=2000)
    ap.add_argument(
        "--phases", default="views,failing", help="the flooded windows, after the quiet one"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="view-flood-") as tmp:
        api, p2p = free_base_ports(5)
        net, _ = LocalNetwork.prepare(
            Path(tmp) / "net", 4, True, api_base_port=api, p2p_base_port=p2p
        )
        net.start()
        try:
            net.wait_ready(timeout=120)
            urls = [net.url(c) for c in net.configs]
            env = LocalnetEnv(net)
            env.deploy("burn", BURN)
            honest_id = env.identity(env.orgs[0], "honest")
            flooder_id = env.identity(env.orgs[1], "flooder")
            honest = Honest(env.client(honest_id), urls[0])
            honest.client.invoke("burn", "note", 0)  # registers its certificate
            flooder = env.client(flooder_id)
            flooder.invoke("burn", "note", 0)
            stats: collections.Counter[str] = collections.Counter()
            honest.thread.start()
            rows = [("quiet", *window(urls, args.window, honest))]
            for phase in args.phases.split(","):
                on = threading.Event()
                on.set()
                if phase == "views":
                    views(urls, args.connections, on, stats)
                else:
                    failing(flooder, urls[0], args.backlog, on, stats)
                rows.append((phase, *window(urls, args.window, honest)))
                on.clear()
            honest.done.set()
            quiet = rows[0][1]
            for name, rate, lat, pending in rows:
                p50 = statistics.median(lat) if lat else float("nan")
                print(
                    f"{name:8} heights/min {rate:6.1f}  ratio {rate / quiet if quiet else 0:.2f}  "
                    f"honest committed {len(lat)} (not {pending}), latency blocks p50 {p50} "
                    f"max {max(lat) if lat else '-'}"
                )
            print("flood answers:", dict(sorted(stats.items())))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                tops = {height(u, timeout=30) for u in urls}
                if len(tops) == 1:
                    break
                time.sleep(1)  # polling for the nodes to agree, with a deadline
            roots = set()
            top = min(height(u, timeout=30) for u in urls)
            for u in urls:
                roots.add(
                    httpx.get(f"{u}/v1/blocks/{top}", timeout=30).json()["header"]["state_root"]
                )
            print(f"nodes at height {top}: {len(roots)} state root(s)")
        finally:
            net.stop()


if __name__ == "__main__":
    main()
