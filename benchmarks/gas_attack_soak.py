"""Gas attack soak: a 4-validator network while one member submits the worst transactions.

    .venv/bin/python benchmarks/gas_attack_soak.py [--duration 300] [--idle 30]
        [--window 1] [--validators 4] [--json]

Starts a fresh local network with the `tianfu bench` harness (`tianfu.bench.runner`), deploys
an attack contract by governance vote and registers one member. Then, in the same run:

1. **idle**: no transactions for `--idle` seconds (the chain makes its empty blocks);
2. **benign**: the member sends asset transfers, `--window` in flight, for `--idle` seconds;
3. **attack**: for `--duration` seconds the member sends the transactions the calibration
   (`benchmarks/gas_calibration.py`) found costliest in CPU per gas, each looping on its
   operation until it runs out of its whole gas budget (`max_gas_per_tx`), `--window` in
   flight at a time, as fast as the chain takes them.

The window is the gas one block may carry from the attacker, in units of `max_gas_per_tx`:
each such transaction costs its validators up to ~5x a plain loop's CPU per gas (~0.25 s
at the default 1,000,000 gas on a 2-core machine), every validator executes it, and a
proposal that takes longer than the consensus timeouts costs a round. The per-block gas
limit (a consensus parameter) is what bounds a block's work whatever the mempool holds;
with it, run with a window above what one block admits.

It reports the block intervals (header times, p50/p99/max) of each phase, the ratio of the
attack's p99 to the idle and benign ones (goal: within 3x of idle), the attack
transactions committed, their gas, and checks that the nodes still agree on every block.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any

from tianfu.bench import netcheck
from tianfu.bench.runner import BenchNetwork
from tianfu.client import Client
from tianfu.contracts.examples import example_source
from tianfu.node.localnet import LocalnetEnv

# Each method repeats one of the calibration's most expensive operations (CPU per gas)
# until the transaction's gas runs out.
ATTACK = """
def tuple_keys(ctx):
    pairs = [((i, i, i), i) for i in range(2000)]
    while True:
        dict(pairs)


def powmod(ctx):
    x = (1 << 4095) - 1
    m = (1 << 4095) - 3
    while True:
        pow(x, x, m)


def shared_compare(ctx):
    a = [1]
    b = [1]
    for _ in range(17):
        a = [a, a]
        b = [b, b]
    while True:
        a == b


def repr_deep(ctx):
    v = [["a" * 10] * 100] * 100
    while True:
        str(v)


def sums(ctx):
    v = [1 << 60] * 1000
    while True:
        sum(v)


def range_scan(ctx):
    r = range(100_000)
    while True:
        "a" in r


def caught(ctx):
    d = {}
    while True:
        try:
            d["k"]
        except KeyError as e:
            x = e
"""
METHODS = ("tuple_keys", "powmod", "shared_compare", "repr_deep", "sums", "range_scan", "caught")


def quantiles(intervals: list[float]) -> dict[str, float]:
    if len(intervals) < 2:
        return {"n": len(intervals), "p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    qs = statistics.quantiles(intervals, n=100, method="inclusive")
    return {"n": len(intervals), "p50": qs[49], "p99": qs[98], "max": max(intervals)}


def intervals(bench: BenchNetwork, first: int, last: int) -> list[float]:
    blocks = bench.blocks(first, last)
    return [b.time_s - a.time_s for a, b in zip(blocks, blocks[1:], strict=False)]


class Sender:
    """`window` threads, each sending one transaction and waiting for its commit, in turn."""

    def __init__(self, make: Any, window: int) -> None:
        self.make = make
        self.window = window
        self.stop = threading.Event()
        self.results: list[Any] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def run(self, seconds: float) -> None:
        threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(self.window)
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.5)
        self.stop.set()
        for t in threads:
            t.join(timeout=120)

    def _loop(self, i: int) -> None:
        n = i
        while not self.stop.is_set():
            try:
                result = self.make(n)
                with self.lock:
                    self.results.append(result)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with self.lock:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                time.sleep(0.2)
            n += self.window


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=300.0, help="attack seconds")
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of each baseline")
    ap.add_argument("--window", type=int, default=1, help="attack transactions in flight")
    ap.add_argument("--validators", type=int, default=4)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    say = (lambda _m: None) if args.json else print
    with BenchNetwork(args.validators, say=say) as bench:
        env = LocalnetEnv(bench.network)
        say("deploying the attack contract and the asset contract ...")
        env.deploy("attack", ATTACK)
        env.deploy("asset", example_source("asset"))
        org = env.orgs[1 % len(env.orgs)]
        attacker = env.identity(org, "attacker")
        admin = env.admin(org)
        admin.invoke("asset", "mint", attacker.info.address, 10**12)
        clients = [env.client(attacker) for _ in range(args.window)]
        clients[0].invoke("asset", "transfer", admin.identity.info.address, 1)  # registers  # type: ignore[union-attr]
        urls = bench.urls

        def phase(name: str, seconds: float, make: Any) -> dict[str, Any]:
            first = max(netcheck.height(u) for u in urls)
            sender = Sender(make, args.window) if make else None
            say(f"{name}: {seconds:.0f} s ...")
            if sender is None:
                time.sleep(seconds)
            else:
                sender.run(seconds)
            last = max(netcheck.height(u) for u in urls)
            figs: dict[str, Any] = {"blocks": quantiles(intervals(bench, first, last))}
            if sender is not None:
                ok = [r for r in sender.results if r.committed]
                figs["committed"] = len(ok)
                figs["gas_mean"] = statistics.mean(r.gas_used for r in ok) if ok else 0
                figs["out_of_gas"] = sum("out of gas" in (r.error or "") for r in ok)
                figs["errors"] = len(sender.errors)
                figs["first_error"] = sender.errors[0] if sender.errors else ""
            return figs

        def transfer(n: int) -> Any:
            c: Client = clients[n % len(clients)]
            return c.invoke("asset", "transfer", admin.identity.info.address, 1, check=False)  # type: ignore[union-attr]

        def attack(n: int) -> Any:
            c: Client = clients[n % len(clients)]
            return c.invoke("attack", METHODS[n % len(METHODS)], check=False)

        idle = phase("idle", args.idle, None)
        benign = phase("benign", args.idle, transfer)
        hostile = phase("attack", args.duration, attack)
        bench.check_alive()
        top = max(netcheck.height(u) for u in urls)
        netcheck.wait_height(urls, top, 60)
        agreed = netcheck.assert_identical(urls)
    report = {
        "idle": idle,
        "benign": benign,
        "attack": hostile,
        "p99_vs_idle": hostile["blocks"]["p99"] / idle["blocks"]["p99"],
        "p99_vs_benign": hostile["blocks"]["p99"] / benign["blocks"]["p99"],
        "agreed_height": agreed,
    }
    if args.json:
        print(json.dumps(report))
    else:
        for name in ("idle", "benign", "attack"):
            b = report[name]["blocks"]
            extra = {k: v for k, v in report[name].items() if k != "blocks"}
            print(
                f"{name:>7}: {b['n']:5d} intervals, p50 {b['p50']:.3f} s, p99 {b['p99']:.3f} s, "
                f"max {b['max']:.3f} s  {extra if extra else ''}"
            )
        print(
            f"attack p99 / idle p99 = {report['p99_vs_idle']:.2f} (goal <= 3); "
            f"/ benign p99 = {report['p99_vs_benign']:.2f}; all nodes agree up to height "
            f"{agreed}"
        )
    return 0 if report["p99_vs_idle"] <= 3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
