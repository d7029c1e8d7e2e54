"""Server CPU per `POST /v1/txs`: the node's HTTP path alone, against another checkout.

    .venv/bin/python benchmarks/http_micro.py [--rounds 3] [--requests 20000] \
        [--clients 1] [--connections 16] [--against PATH/src]

A child process serves the node's API application (`create_app` behind `make_server`, on
uvloop as a node runs it) over a stub service that admits every transaction at once, so
that each request costs only the HTTP server, the application's middleware, the route and
decoding the transaction. `--clients` processes send `--requests` canonical transactions to it
(`POST /v1/txs`, answered 202) over `--connections` keep-alive connections each, and this
process reads the server's user + system CPU time from /proc before and after: CPU µs per
request. A server that waits for its clients wakes up for fewer requests at a time and
pays more for its event loop per request: compare variants at the same settings only.

With `--against`, another checkout's `src` (e.g. the commit before the httptools protocol,
unpacked with `git archive`) is measured too, the two taking turns in every round (so that
machine load hits both alike). Prints the median of each and its ratio to this checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SERVER = r"""
import asyncio, sys
from tianfu.api.app import create_app
from tianfu.api.server import make_server
from tianfu.node import loop as event_loop

class Stub:
    max_body_bytes = 1 << 20
    async def submit(self, tx):
        return tx.hash
    async def wait_committed(self, tx_hash, timeout_s):
        return None

async def main():
    s = make_server(create_app(Stub()), "127.0.0.1", int(sys.argv[1]))
    await s.serve()

event_loop.run(main())
"""


def _payloads(n: int) -> list[bytes]:
    from tianfu.codec import encode
    from tianfu.crypto.keys import generate_keypair
    from tianfu.crypto.signing import sign_tx
    from tianfu.types.tx import TxBody

    key = generate_keypair()
    return [
        encode(
            sign_tx(
                key,
                TxBody(
                    1, "bench", key.scheme, key.public_key, i, 900, "asset", "transfer", ["x", 1]
                ),
            )
        )
        for i in range(n)
    ]


def _send(port: int, payloads: list[bytes], connections: int) -> set[int]:
    """POST `payloads` (in a client process); the statuses answered."""
    from tianfu.bench.loadgen import post_all

    return set(asyncio.run(post_all("127.0.0.1", port, "/v1/txs", payloads, connections)).statuses)


def _one(name: str, src: str, payloads: list[bytes], connections: int, clients: int) -> float:
    """Server CPU µs per request of one run of the server of checkout `src`."""
    from tianfu.bench.loadgen import post_all
    from tianfu.bench.procstat import cpu_seconds
    from tianfu.testing.processes import free_port

    port = free_port()
    env = {**os.environ, "PYTHONPATH": src}
    child = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                warm = asyncio.run(post_all("127.0.0.1", port, "/v1/txs", payloads[:500], 4))
                break
            except OSError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError(f"server of {name} did not start") from None
                time.sleep(0.1)
        assert set(warm.statuses) == {202}, set(warm.statuses)
        shares = [payloads[i::clients] for i in range(clients)]
        with multiprocessing.get_context("spawn").Pool(clients) as pool:
            pool.apply(os.getpid)  # the client processes are up before the clock starts
            before = cpu_seconds(child.pid)
            statuses = pool.starmap(_send, [(port, share, connections) for share in shares])
            after = cpu_seconds(child.pid)
        assert set().union(*statuses) == {202}, statuses
        assert before is not None and after is not None, "the server's CPU time is unreadable"
        return (after - before) / len(payloads) * 1e6
    finally:
        child.terminate()
        child.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=16, help="per client process")
    parser.add_argument(
        "--clients", type=int, default=1, help="client processes (more: a busier server)"
    )
    parser.add_argument("--against", help="another checkout's src directory")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parent.parent / "src")
    variants = [("this checkout", here)]
    if args.against:
        variants.append((f"--against {args.against}", args.against))
    payloads = _payloads(args.requests)
    figures: dict[str, list[float]] = {name: [] for name, _ in variants}
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for name, src in order:
            figures[name].append(_one(name, src, payloads, args.connections, args.clients))
            print(f"round {r + 1}: {name}: {figures[name][-1]:.1f} µs", flush=True)
    first = statistics.median(figures[variants[0][0]])
    print("\nserver CPU per POST /v1/txs (median of rounds), ratio to this checkout:")
    for name, runs in figures.items():
        med = statistics.median(runs)
        spread = ", ".join(f"{x:.1f}" for x in runs)
        print(f"  {name}: {med:.1f} µs (runs {spread}) ×{med / first:.2f}")


if __name__ == "__main__":
    main()
