"""Microbenchmark of one validator's block path around contract execution, per tx and per block.

    .venv/bin/python benchmarks/commit_micro.py [--blocks 6] [--block-txs 1000] [--keys 20000]
        [--heights 200] [--baseline SRC_DIR] [--repeat 3]

An in-process 4-organisation chain (`benchchain.py`) with the shipped `asset` contract:
a proposer ledger builds blocks of `--block-txs` `asset.transfer`s (to random addresses
among `--keys` pre-loaded balances) and a second ledger, the validator, re-executes and
commits each of them, exactly what every validator of a network does per block. Timed on
the validator, per block and per transaction (median block):

- `execute`      `Ledger.execute` as a whole, and inside it `exec_block` (the contract
                 executor, signatures included: someone else's part), `state.apply` (the
                 JMT), `committed_txs` (the replay lookup) and `rest` (tx/receipt roots,
                 checks, encodings);
- `roots`        the tx root and receipts root with their encodings, timed apart;
- `commit`       `Ledger.commit` (= `Store.save_block`, one SQLite transaction, fsync);
- `wal`, `privval` the consensus WAL and the signing guard per height, the way the driver
                 uses them: proposal (with the block) + 2 own votes appended with fsync, 6
                 received votes and one execution result without, `end_height`; the
                 signer signs a proposal (one height in four), a prevote and a precommit.

`--baseline SRC_DIR` (a `src` directory holding another version of the `tianfu` package,
e.g. `git archive HEAD src | tar -x -C /tmp/base`) runs the same measurement against it in
child processes interleaved with this tree's, `--repeat` times each, and prints both, best
of the runs, side by side. Figures on a shared machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _measure(args: argparse.Namespace) -> dict[str, float]:
    """Everything, in this process, against whatever `tianfu` is importable."""
    sys.path.insert(0, str(HERE))
    from benchchain import ORGS, BenchChain, bench_asset_source

    from tianfu.codec import encode
    from tianfu.consensus.messages import sign_proposal
    from tianfu.consensus.privval import FilePrivValidator
    from tianfu.consensus.wal import ConsensusWAL, WalExecuted, WalProposal, WalVote
    from tianfu.crypto import sign_vote
    from tianfu.crypto.merkle import merkle_root
    from tianfu.types import PRECOMMIT, PREVOTE

    rng = random.Random(7)
    work = Path(tempfile.mkdtemp(prefix="tianfu-commit-micro-"))
    try:
        prop = BenchChain(work / "proposer")
        val = prop.replica(work / "validator")

        def produce(txs: list[Any]) -> Any:
            executed = prop.build(txs)
            cert = prop.cert(executed.block.header)
            prop.ledger.commit(executed, cert)
            v = val.ledger.execute(executed.block)
            val.ledger.commit(v, cert)
            bad = [r.error for r in executed.result.receipts if not r.ok]
            if bad:
                raise RuntimeError(f"{len(bad)} failed receipts, first: {bad[0]}")
            return executed, cert

        # setup through both ledgers (BenchChain.call / deploy / register use `produce`)
        admin = prop.admins[ORGS[0]]

        def call(who: Any, contract: str, method: str, *a: Any) -> Any:
            executed, _ = produce([prop.sign(who, contract, method, list(a))])
            prop._registered.add(who.info.address)
            return executed.result.receipts[0]

        prop.call = call  # type: ignore[method-assign]
        prop.deploy("asset", bench_asset_source())
        senders = [prop.identity(o, f"s{o}-{j}") for o in ORGS for j in range(8)]
        txs = [prop.sign(p, "governance", "get_identity", [p.info.address]) for p in senders]
        produce(txs)
        prop._registered.update(p.info.address for p in senders)
        assert call(admin, "asset", "mint_many", [s.info.address for s in senders], 10**15).ok
        addrs = [f"{rng.getrandbits(160):040x}" for _ in range(args.keys)]
        for i in range(0, len(addrs), 10_000):
            chunk = addrs[i : i + 10_000]
            produce(
                [
                    prop.sign(admin, "asset", "mint_many", [chunk[j : j + 1000], 10])
                    for j in range(0, len(chunk), 1000)
                ]
            )

        n = args.block_txs
        expiry = args.blocks + 10
        blocks_txs = [
            [
                prop.sign(
                    senders[i % len(senders)],
                    "asset",
                    "transfer",
                    [rng.choice(addrs), 1],
                    expiry_ahead=expiry,
                )
                for i in range(n)
            ]
            for _ in range(args.blocks + 1)
        ]

        # probes on the validator's objects (instance attributes only)
        acc: dict[str, float] = {}

        def timed(name: str, fn: Any) -> Any:
            def wrapper(*a: Any, **kw: Any) -> Any:
                t = time.perf_counter()
                try:
                    return fn(*a, **kw)
                finally:
                    acc[name] = acc.get(name, 0.0) + time.perf_counter() - t

            return wrapper

        led = val.ledger
        led.state.apply = timed("apply", led.state.apply)  # type: ignore[method-assign]
        led.executor.execute_block = timed("exec_block", led.executor.execute_block)  # type: ignore[method-assign]
        val.store.committed_txs = timed("committed_txs", val.store.committed_txs)  # type: ignore[method-assign]

        rows: list[dict[str, float]] = []
        prof = None
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
        for k, txs in enumerate(blocks_txs):
            executed = prop.build(txs)
            cert = prop.cert(executed.block.header)
            prop.ledger.commit(executed, cert)
            block = executed.block
            acc.clear()
            if prof is not None and k:
                prof.enable()
            t0 = time.perf_counter()
            v = led.execute(block)
            t1 = time.perf_counter()
            led.commit(v, cert)
            t2 = time.perf_counter()
            if prof is not None:
                prof.disable()
            assert len(v.result.receipts) == n and all(r.ok for r in v.result.receipts)
            t3 = time.perf_counter()
            merkle_root([encode(t) for t in block.txs])
            merkle_root([encode(r) for r in v.result.receipts])
            t4 = time.perf_counter()
            if k == 0:
                continue  # warm-up
            row = {
                "execute": t1 - t0,
                "exec_block": acc.get("exec_block", 0.0),
                "apply": acc.get("apply", 0.0),
                "committed_txs": acc.get("committed_txs", 0.0),
                "commit": t2 - t1,
                "roots": t4 - t3,
            }
            row["rest"] = row["execute"] - row["exec_block"] - row["apply"] - row["committed_txs"]
            row["ours"] = row["execute"] - row["exec_block"] + row["commit"]
            rows.append(row)
        if prof is not None:
            import pstats

            st = pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime")
            st.print_stats(30)
            st.print_callers("hash_domain|encode|execute.*sqlite|executemany")
        out = {key: statistics.median(r[key] for r in rows) * 1e6 / n for key in rows[0]}
        out["block_bytes"] = float(len(encode(block)))

        # WAL and privval per height, the driver's pattern
        kp = prop.keys[0]
        others = prop.keys[1:]
        chain_id = prop.genesis.chain_id
        block_bytes = encode(block)
        wal = ConsensusWAL(work / "cs.wal")
        FilePrivValidator.initialise(kp, work / "pv.bin")
        pv = FilePrivValidator(kp, work / "pv.bin")
        bh = block.header.hash
        wal_s = pv_s = 0.0
        for h in range(1, args.heights + 1):
            own_prop = h % 4 == 0
            t = time.perf_counter()
            if own_prop:
                p = pv.sign_proposal(chain_id, h, 0, -1, bh, block_bytes)
            pv.sign_vote(chain_id, h, 0, PREVOTE, bh)
            pv.sign_vote(chain_id, h, 0, PRECOMMIT, bh, 1_000 + h)
            pv_s += time.perf_counter() - t
            if not own_prop:
                p = sign_proposal(others[0], chain_id, h, 0, -1, bh, block_bytes)
            pre = [sign_vote(o, chain_id, h, 0, PREVOTE, bh) for o in others]
            com = [sign_vote(o, chain_id, h, 0, PRECOMMIT, bh, 1_000 + h) for o in others]
            mine = [
                sign_vote(kp, chain_id, h, 0, PREVOTE, bh),
                sign_vote(kp, chain_id, h, 0, PRECOMMIT, bh, 1_000 + h),
            ]
            t = time.perf_counter()
            wal.append(WalProposal(p), sync=own_prop)
            wal.append(WalExecuted(h, bh, True))
            wal.append(WalVote(mine[0]), sync=True)
            for vv in pre:
                wal.append(WalVote(vv))
            wal.append(WalVote(mine[1]), sync=True)
            for vv in com:
                wal.append(WalVote(vv))
            wal.end_height(h)
            wal_s += time.perf_counter() - t
        wal.close()
        out["wal_per_height_us"] = wal_s / args.heights * 1e6
        out["privval_per_height_us"] = pv_s / args.heights * 1e6
        out["wal"] = out["wal_per_height_us"] / n
        out["privval"] = out["privval_per_height_us"] / n
        prop.close()
        val.close()
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


KEYS = [
    ("execute", "Ledger.execute (whole)"),
    ("exec_block", "  executor.execute_block (not ours)"),
    ("apply", "  state.apply (JMT)"),
    ("committed_txs", "  store.committed_txs"),
    ("rest", "  rest (roots, checks)"),
    ("roots", "tx + receipts roots w/ encoding"),
    ("commit", "Ledger.commit (save_block)"),
    ("wal", "consensus WAL per height"),
    ("privval", "privval per height"),
]


def _print(figs: dict[str, dict[str, float]], n: int) -> None:
    names = list(figs)
    head = f"{'us per tx (x' + str(n) + ' = us per block)':<40}" + "".join(
        f"{name:>14}" for name in names
    )
    if len(names) == 2:
        head += f"{'after/before':>14}"
    print(head)
    print("-" * len(head))
    for key, label in KEYS:
        vals = [figs[name][key] for name in names]
        line = f"{label:<40}" + "".join(f"{v:>14.1f}" for v in vals)
        if len(vals) == 2:
            line += f"{(vals[1] / vals[0] if vals[0] else 0):>14.2f}"
        print(line)
    ours = [figs[nm]["ours"] + figs[nm]["wal"] + figs[nm]["privval"] for nm in names]
    line = f"{'ours: execute-exec_block+commit+wal+pv':<40}" + "".join(f"{v:>14.1f}" for v in ours)
    if len(ours) == 2:
        line += f"{ours[1] / ours[0]:>14.2f}"
    print(line)
    for name in names:
        f = figs[name]
        print(
            f"{name}: WAL {f['wal_per_height_us']:.0f} us/height, privval "
            f"{f['privval_per_height_us']:.0f} us/height, block {f['block_bytes'] / 1024:.0f} KiB"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=6, help="measured blocks (median reported)")
    ap.add_argument("--block-txs", type=int, default=1000)
    ap.add_argument("--keys", type=int, default=20000, help="pre-loaded balances")
    ap.add_argument("--heights", type=int, default=200, help="WAL/privval heights")
    ap.add_argument("--baseline", type=Path, default=None, help="src dir of another version")
    ap.add_argument("--repeat", type=int, default=3, help="runs per version with --baseline")
    ap.add_argument("--profile", action="store_true", help="cProfile execute+commit (stderr)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_measure(args)))
        return 0
    if args.baseline is None:
        _print({"this tree": _measure(args)}, args.block_txs)
        return 0
    trees = {"before": str(args.baseline.resolve()), "after": str(HERE.parent / "src")}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    argv = [
        "--child",
        f"--blocks={args.blocks}",
        f"--block-txs={args.block_txs}",
        f"--keys={args.keys}",
        f"--heights={args.heights}",
    ]
    for i in range(args.repeat):
        for name, src in trees.items() if i % 2 == 0 else reversed(trees.items()):
            env = dict(os.environ, PYTHONPATH=src)
            out = subprocess.run(
                [sys.executable, __file__, *argv],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[name].append(json.loads(out.strip().splitlines()[-1]))
            print(f"run {i + 1}/{args.repeat} {name}: done", file=sys.stderr, flush=True)
    best = {name: {k: min(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()}
    print(f"best of {args.repeat} runs per version, interleaved; median block of {args.blocks}")
    _print(best, args.block_txs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
