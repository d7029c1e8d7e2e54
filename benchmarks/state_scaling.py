"""How execute+commit throughput grows with state size: N keys pre-loaded, then transfers.

    .venv/bin/python benchmarks/state_scaling.py [--sizes 10000,100000,1000000] [--txs 2000]
        [--rounds 5] [--block-txs 500] [--load bulk|tx] [--json FILE]

For every size N, in a fresh child process (so that RSS is that size's alone) and a fresh
temporary directory, one node's ledger of a 4-organisation consortium (`benchchain.py`):

1. deploys the asset contract (the shipped source plus a `mint_many` method) through
   governance and registers and funds 16 member identities (the senders);
2. pre-loads N balances `bal:<address>` of N distinct random addresses. `--load bulk`
   (default): `mint_many` transactions of 1,000 addresses, 10 per block; `--load tx`: one
   signed `mint` transaction per key, 2,000 per block (the way a real chain fills up, ~5x
   slower). Either way every key is a real JMT leaf and a real `state` row, written
   through execution, the Merkle tree and the store; the load time is reported;
3. runs `--rounds` rounds of `--txs` `asset.transfer(random loaded address, 1)` from the
   senders, signed before the clock starts, in blocks of `--block-txs`, each block built
   with `Ledger.build_block` and committed with `Ledger.commit` (plus a 3-of-4 commit
   certificate, signed outside the timed part); a warm-up block first.

What the tx/s figure includes: one Ed25519 signature check per transaction, admission
checks (expiry, replay lookup), sandboxed contract execution with state reads through the
ledger's LRU cache (200,000 entries) and SQLite, the JMT update and root of every block,
and the SQLite commit of block, receipts, tree nodes and state rows (WAL mode). Not
included: network, mempool, consensus rounds, client signing, the API. One core, one
thread. Throughput is printed as a ratio to the first size's figure of the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchchain import ORGS, BenchChain, bench_asset_source, db_bytes, rss_mb

from tianfu.execution import executor

SENDERS_PER_ORG = 4
KEYS_PER_BULK_TX = 1000
BULK_TXS_PER_BLOCK = 10
TX_LOAD_BLOCK = 2000
SENDER_BALANCE = 10**15


class Probe:
    """Timers and counters around the ledger's parts, installed on this process's objects
    (instance attributes and one module global; no source is changed)."""

    def __init__(self, chain: BenchChain) -> None:
        self.merkle_s = 0.0
        self.verify_s = 0.0
        self.verifies = 0
        self.latest_reads = 0
        self.node_reads = 0
        led, store = chain.ledger, chain.store
        apply, get_latest, get_node = led.state.apply, store.get_latest, store.get_node
        verify = executor.verify_tx

        def timed_apply(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return apply(*a, **kw)
            finally:
                self.merkle_s += time.perf_counter() - t

        def counted_latest(key: bytes) -> Any:
            self.latest_reads += 1
            return get_latest(key)

        def counted_node(key: bytes) -> Any:
            self.node_reads += 1
            return get_node(key)

        def timed_verify(tx: Any) -> bool:
            t = time.perf_counter()
            try:
                return verify(tx)
            finally:
                self.verify_s += time.perf_counter() - t
                self.verifies += 1

        led.state.apply = timed_apply  # type: ignore[method-assign]
        store.get_latest = counted_latest  # type: ignore[method-assign]
        store.get_node = counted_node  # type: ignore[method-assign]
        executor.verify_tx = timed_verify  # type: ignore[attr-defined]

    def snapshot(self) -> tuple[float, float, int, int, int]:
        return self.merkle_s, self.verify_s, self.verifies, self.latest_reads, self.node_reads


def preload(chain: BenchChain, admin: Any, addrs: list[str], mode: str) -> float:
    """Write one balance per address; return the seconds it took (signing included)."""
    t0 = time.perf_counter()
    if mode == "bulk":
        step = KEYS_PER_BULK_TX * BULK_TXS_PER_BLOCK
        for i in range(0, len(addrs), step):
            chunk = addrs[i : i + step]
            txs = [
                chain.sign(admin, "asset", "mint_many", [chunk[j : j + KEYS_PER_BULK_TX], 10])
                for j in range(0, len(chunk), KEYS_PER_BULK_TX)
            ]
            check_ok(chain.produce(txs), "mint_many")
    else:
        for i in range(0, len(addrs), TX_LOAD_BLOCK):
            txs = [
                chain.sign(admin, "asset", "mint", [a, 10]) for a in addrs[i : i + TX_LOAD_BLOCK]
            ]
            check_ok(chain.produce(txs), "mint")
    return time.perf_counter() - t0


def check_ok(executed: Any, what: str) -> None:
    bad = [r.error for r in executed.result.receipts if not r.ok]
    if bad:
        raise RuntimeError(f"{len(bad)} failed {what} receipts, first: {bad[0]}")


def state_rows(directory: Path) -> int:
    conn = sqlite3.connect(f"file:{directory / 'chain.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM state").fetchone()[0])
    finally:
        conn.close()


def run_size(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Everything for one state size (in this process)."""
    rng = random.Random(size)
    workdir = Path(tempfile.mkdtemp(prefix=f"tianfu-scale-{size}-"))
    try:
        chain = BenchChain(workdir)
        admin = chain.admins[ORGS[0]]
        chain.deploy("asset", bench_asset_source())
        senders = [chain.identity(o, f"s{o}-{j}") for o in ORGS for j in range(SENDERS_PER_ORG)]
        chain.register(senders)
        r = chain.call(
            admin, "asset", "mint_many", [s.info.address for s in senders], SENDER_BALANCE
        )
        assert r.ok, r.error
        addrs = sorted({f"{rng.getrandbits(160):040x}" for _ in range(size)})
        while len(addrs) < size:  # (a collision of 160-bit numbers: practically never)
            addrs = sorted(set(addrs) | {f"{rng.getrandbits(160):040x}"})
        rng.shuffle(addrs)
        load_s = preload(chain, admin, addrs, args.load)
        height_loaded = chain.ledger.height
        rows = state_rows(workdir)
        if rows < size:
            raise RuntimeError(f"only {rows} state rows after loading {size} keys")

        n_rounds, n_txs, per_block = args.rounds, args.txs, args.block_txs
        expiry = n_rounds * (n_txs // per_block + 2) + 5

        def transfers(n: int) -> list[Any]:
            return [
                chain.sign(
                    senders[i % len(senders)],
                    "asset",
                    "transfer",
                    [rng.choice(addrs), 1],
                    expiry_ahead=expiry,
                )
                for i in range(n)
            ]

        warm = transfers(min(per_block, 200))
        work = [transfers(n_txs) for _ in range(n_rounds)]
        check_ok(chain.produce(warm), "warm-up transfer")
        probe = Probe(chain)
        rounds = []
        for txs in work:
            before = probe.snapshot()
            build_s = commit_s = 0.0
            for i in range(0, len(txs), per_block):
                t = time.perf_counter()
                executed = chain.build(txs[i : i + per_block])
                t1 = time.perf_counter()
                cert = chain.cert(executed.block.header)  # the validators' signatures: not timed
                t2 = time.perf_counter()
                chain.ledger.commit(executed, cert)
                t3 = time.perf_counter()
                build_s += t1 - t
                commit_s += t3 - t2
                check_ok(executed, "transfer")
                if len(executed.block.txs) != len(txs[i : i + per_block]):
                    raise RuntimeError("the proposer dropped transfers")
            after = probe.snapshot()
            merkle_s, verify_s = after[0] - before[0], after[1] - before[1]
            total = build_s + commit_s
            rounds.append(
                {
                    "tps": len(txs) / total,
                    "us_per_tx": total / len(txs) * 1e6,
                    "verify_us_per_tx": verify_s / len(txs) * 1e6 if after[2] > before[2] else None,
                    "execute_us_per_tx": (build_s - merkle_s - verify_s) / len(txs) * 1e6,
                    "merkle_us_per_tx": merkle_s / len(txs) * 1e6,
                    "commit_us_per_tx": commit_s / len(txs) * 1e6,
                    "state_reads_per_tx": (after[3] - before[3]) / len(txs),
                    "tree_node_reads_per_tx": (after[4] - before[4]) / len(txs),
                }
            )
        best = sorted(rounds, key=lambda r: r["tps"])[len(rounds) // 2]  # the median round
        rss, peak = rss_mb()
        fig = {
            "keys": size,
            "load_mode": args.load,
            "load_s": round(load_s, 1),
            "load_keys_per_s": round(size / load_s),
            "height_after_load": height_loaded,
            "state_rows": rows,
            "tps": round(best["tps"], 1),
            "tps_rounds": [round(r["tps"], 1) for r in rounds],
            "tps_stdev": round(statistics.pstdev(r["tps"] for r in rounds), 1),
            **{k: (round(v, 1) if v is not None else None) for k, v in best.items() if k != "tps"},
            "db_mb": round(db_bytes(workdir) / 2**20, 1),
            "rss_mb": round(rss, 1),
            "rss_peak_mb": round(peak, 1),
            "height": chain.ledger.height,
        }
        chain.close()
        return fig
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def print_table(figs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    base = figs[0]["tps"]
    print()
    print(
        f"execute+commit of asset.transfer to random existing keys; {args.rounds} rounds of "
        f"{args.txs} txs in blocks of {args.block_txs}, median round; one core, no network"
    )
    print("includes: Ed25519 verify, sandbox execution, JMT update, SQLite commit (WAL)")
    head = (
        f"{'keys':>9} {'tx/s':>7} {'ratio':>6} {'us/tx':>6} {'verify':>6} {'exec':>6} "
        f"{'merkle':>6} {'commit':>6} {'rd/tx':>5} {'node/tx':>7} {'db MB':>7} {'RSS MB':>7} "
        f"{'peak MB':>7} {'load s':>7}"
    )
    print(head)
    print("-" * len(head))
    for f in figs:
        v = f["verify_us_per_tx"]
        print(
            f"{f['keys']:>9,} {f['tps']:>7.0f} {f['tps'] / base:>6.2f} {f['us_per_tx']:>6.0f} "
            f"{(f'{v:.0f}' if v is not None else '-'):>6} {f['execute_us_per_tx']:>6.0f} "
            f"{f['merkle_us_per_tx']:>6.0f} {f['commit_us_per_tx']:>6.0f} "
            f"{f['state_reads_per_tx']:>5.2f} {f['tree_node_reads_per_tx']:>7.1f} "
            f"{f['db_mb']:>7.1f} {f['rss_mb']:>7.1f} {f['rss_peak_mb']:>7.1f} {f['load_s']:>7.1f}"
        )
    print(
        "us/tx split: verify = signature check, exec = rest of build_block (admission, "
        "sandbox, reads), merkle = JMT apply, commit = Ledger.commit (SQLite); rd/tx and "
        "node/tx = SQLite reads of state rows (LRU misses) and of tree nodes per tx; "
        "tx/s rounds: " + "; ".join(f"{f['keys']:,}: {f['tps_rounds']}" for f in figs)
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="state sizes, comma-separated")
    ap.add_argument("--txs", type=int, default=2000, help="transfers per measured round")
    ap.add_argument("--rounds", type=int, default=5, help="measured rounds (median reported)")
    ap.add_argument("--block-txs", type=int, default=500, help="transfers per block")
    ap.add_argument("--load", choices=("bulk", "tx"), default="bulk", help="pre-load method")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(run_size(args.child, args)))
        return 0
    figs = []
    for size in (int(s) for s in args.sizes.split(",")):
        print(f"state size {size:,}: loading and measuring in a fresh process ...", flush=True)
        t0 = time.monotonic()
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(size),
            "--txs",
            str(args.txs),
            "--rounds",
            str(args.rounds),
            "--block-txs",
            str(args.block_txs),
            "--load",
            args.load,
        ]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        fig = json.loads(out.strip().splitlines()[-1])
        print(
            f"  loaded in {fig['load_s']} s ({fig['load_keys_per_s']:,} keys/s); "
            f"{fig['tps']} tx/s; {time.monotonic() - t0:.0f} s in all",
            flush=True,
        )
        figs.append(fig)
    print_table(figs, args)
    if args.json:
        base = figs[0]["tps"]
        doc = {
            "workload": {
                "txs": args.txs,
                "rounds": args.rounds,
                "block_txs": args.block_txs,
                "load": args.load,
            },
            "includes": "Ed25519 verify, sandbox execution, JMT update, SQLite commit; no network",
            "sizes": [dict(f, ratio_to_first=round(f["tps"] / base, 3)) for f in figs],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
