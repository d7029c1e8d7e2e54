"""Execution-only cost of an asset transfer: µs per transaction of `Executor.execute_block`.

    .venv/bin/python benchmarks/exec_micro.py [--txs 1500] [--rounds 7] [--senders 16]
        [--baseline-src DIR] [--pairs 3] [--workload transfer|evidence]

One node's ledger of a 4-organisation consortium in process (`benchchain.py`): the asset
contract is deployed through governance, 16 members are registered and funded, then
`--txs` `asset.transfer` transactions between them are signed before any clock starts.
Each round times, over the same block of transactions on the same committed state:

- `exec`: `Executor.execute_block` with every signature marked as already verified (what a
  validator spends executing a block after admission: replay and expiry checks, caller
  resolution, the sandboxed call, state reads through the ledger's cache, receipts);
- `build`: `Ledger.build_block` likewise, i.e. `exec` plus the Merkle update and the roots;
- `admit`: mempool admission, `NodeService._admit_batch` over batches of 50 fresh transfers
  from 8 senders (what the API's batch route and the gossip do), into an empty mempool, and
  `verify`: the Ed25519 verifies of the same transactions alone, so that `admit - verify` is
  what admission costs beyond the one unavoidable verify.

With `--workload evidence` the transactions are instead `evidence.deposit` calls of the
shipped evidence application (a role check, argument checks over a metadata dict, a
counter, a record dict and a list stored, an event): an application contract's path.

Nothing is committed, so every round executes the very same block; the best and the
median round are printed. With `--baseline-src DIR` (a copy of another version's `src/`
directory) the script runs itself alternately in child processes on that code and on
this tree, `--pairs` times, and prints both (an interleaved A/B on the same machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchchain import ORGS, BenchChain  # noqa: E402

from tianfu.contracts.examples import example_source  # noqa: E402
from tianfu.crypto import verify_tx  # noqa: E402
from tianfu.mempool import Mempool  # noqa: E402
from tianfu.node.service import NodeService  # noqa: E402


def _evidence_txs(chain: Any, senders: list[Any], n_txs: int) -> list[Any]:
    from tianfu.apps import evidence

    chain.deploy("evidence", evidence.source())
    for s in senders:
        r = chain.call(
            chain.admins[s.info.org], "governance", "grant_role", s.info.address, "depositor"
        )
        assert r.ok, r.error
    return [
        chain.sign(
            senders[i % len(senders)],
            "evidence",
            "deposit",
            [
                f"{i:064x}",
                f"contract scan {i}",
                {"kind": "pdf", "pages": 1 + i % 30, "signed": i % 2 == 0, "ref": f"R-{i}"},
            ],
            expiry_ahead=500,
        )
        for i in range(n_txs)
    ]


def measure(
    n_txs: int, rounds: int, n_senders: int, n_admit: int = 1000, workload: str = "transfer"
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tianfu-exec-micro-") as tmp:
        chain = BenchChain(Path(tmp))
        admin = chain.admins[ORGS[0]]
        chain.deploy("asset", example_source("asset"))
        per_org = max(1, n_senders // len(ORGS))
        senders = [chain.identity(o, f"s{o}-{j}") for o in ORGS for j in range(per_org)]
        chain.register(senders)
        for s in senders:
            r = chain.call(admin, "asset", "mint", s.info.address, 10**12)
            assert r.ok, r.error
        if workload == "evidence":
            txs = _evidence_txs(chain, senders, n_txs)
        else:
            txs = [
                chain.sign(
                    senders[i % len(senders)],
                    "asset",
                    "transfer",
                    [senders[(i * 7 + 3) % len(senders)].info.address, 1 + i % 5],
                    expiry_ahead=500,
                )
                for i in range(n_txs)
            ]
        led = chain.ledger
        ex = led.executor
        height = led.height + 1
        params = led.params(height)
        time_ms = chain.next_time_ms()

        def all_verified(_tx: object) -> bool:
            return True

        def seen(_h: bytes) -> bool:  # fresh transactions: none is committed
            return False

        def run_exec() -> Any:
            return ex.execute_block(
                height,
                time_ms,
                txs,
                led.latest.get,
                seen,
                verified=all_verified,
                params=params,
            )

        admit_txs = [
            chain.sign(
                senders[i % 8],
                "asset",
                "transfer",
                [senders[(i * 5 + 1) % len(senders)].info.address, 1],
                expiry_ahead=500,
            )
            for i in range(n_admit)
        ]
        batches = [admit_txs[i : i + 50] for i in range(0, n_admit, 50)]
        service = NodeService(led, Mempool(), node_name="n", org=ORGS[0], is_validator=True)

        def run_admit() -> float:
            service.mempool = Mempool()
            service.verified.clear()
            t = time.perf_counter()
            for batch in batches:
                outcomes = service._admit_batch(batch)
            elapsed = time.perf_counter() - t
            assert all(isinstance(o, bytes) for o in outcomes), outcomes[:1]
            assert len(service.mempool) == n_admit
            return elapsed / n_admit * 1e6

        def run_verify() -> float:
            t = time.perf_counter()
            for tx in admit_txs:
                verify_tx(tx)
            return (time.perf_counter() - t) / n_admit * 1e6

        run_admit()
        first = run_exec()
        bad = [r.error for r in first.receipts if not r.ok]
        if bad:
            raise RuntimeError(f"{len(bad)} failed transfers, first: {bad[0]}")
        gas = sum(r.gas_used for r in first.receipts)
        exec_us, build_us, admit_us, verify_us = [], [], [], []
        for _ in range(rounds):
            admit_us.append(run_admit())
            verify_us.append(run_verify())
            t = time.perf_counter()
            result = run_exec()
            exec_us.append((time.perf_counter() - t) / n_txs * 1e6)
            assert result.updates == first.updates and result.receipts == first.receipts
            t = time.perf_counter()
            executed = led.build_block(txs, chain.keys[0].public_key, all_verified)
            build_us.append((time.perf_counter() - t) / n_txs * 1e6)
            assert len(executed.block.txs) == n_txs
        chain.close()
    return {
        "txs": n_txs,
        "exec_best": min(exec_us),
        "exec_median": statistics.median(exec_us),
        "build_best": min(build_us),
        "build_median": statistics.median(build_us),
        "admit_best": min(admit_us),
        "verify_best": min(verify_us),
        "beyond_best": min(admit_us) - min(verify_us),
        "gas_total": gas,
        "gas_per_tx": gas // n_txs,
        "state_root": executed.block.header.state_root.hex(),
    }


def show(label: str, fig: dict[str, Any]) -> None:
    print(
        f"{label:>10}: exec {fig['exec_best']:6.1f} µs/tx best, {fig['exec_median']:6.1f} median"
        f" | build_block {fig['build_best']:6.1f} best, {fig['build_median']:6.1f} median"
        f" | gas {fig.get('gas_per_tx', '?')}/tx root {fig['state_root'][:16]}"
    )
    print(
        f"{'':>10}  admit {fig['admit_best']:6.1f} µs/tx best, verify {fig['verify_best']:6.1f}"
        f", admit beyond verify {fig['beyond_best']:5.1f} (difference of the bests)"
    )


def compare(args: argparse.Namespace) -> None:
    here = [sys.executable, __file__, "--txs", str(args.txs), "--rounds", str(args.rounds)]
    here += ["--senders", str(args.senders), "--workload", args.workload, "--json"]
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this tree": []}
    for _ in range(args.pairs):
        for label in runs:
            env = dict(os.environ)
            if label == "baseline":
                env["PYTHONPATH"] = str(Path(args.baseline_src).resolve())
            out = subprocess.run(here, env=env, check=True, capture_output=True, text=True)
            fig = json.loads(out.stdout.strip().splitlines()[-1])
            runs[label].append(fig)
            show(label, fig)
    print()
    for label, figs in runs.items():
        print(
            f"{label:>10}: exec best-of-all {min(f['exec_best'] for f in figs):6.1f} µs/tx, "
            f"median of medians {statistics.median(f['exec_median'] for f in figs):6.1f}; "
            f"build_block best {min(f['build_best'] for f in figs):6.1f}; "
            f"admit beyond verify best {min(f['beyond_best'] for f in figs):5.1f}"
        )
    gases = {f["gas_total"] for figs in runs.values() for f in figs}
    print(
        f"same total gas in every run: {len(gases) == 1} (state roots differ: fresh keys per run)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--txs", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--senders", type=int, default=16)
    ap.add_argument("--baseline-src", default=None, help="another version's src/ directory")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    ap.add_argument("--workload", choices=("transfer", "evidence"), default="transfer")
    args = ap.parse_args()
    if args.baseline_src:
        compare(args)
        return
    fig = measure(args.txs, args.rounds, args.senders, workload=args.workload)
    if args.json:
        print(json.dumps(fig))
    else:
        show("exec_micro", fig)


if __name__ == "__main__":
    main()
