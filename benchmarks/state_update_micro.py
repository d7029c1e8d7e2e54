"""The per-block state-tree update and its store write, with and without the ledger's
committed-transaction entries (ADR 0018), on a SQLite store whose tree has N leaves.

    .venv/bin/python benchmarks/state_update_micro.py --leaves 100000 --block-txs 260 \\
        [--blocks 60] [--warmup 300] [--cache DIR] [--before-src DIR] [--json FILE]

The store is built once (N committed-transaction entries `0x01 ‖ hash`, the bulk of a
running chain's tree, written through `MerkleState.apply` and `Store.save_state_nodes` in
batches of 20,000; kept in `--cache DIR` for the next run) and copied for each variant:

- `entries`: each block writes a transfer's balances (2 keys per transaction among
  `--senders` accounts) and one entry per transaction, as the ledger does;
- `no entries`: the same blocks without the entries (not the specified chain: the
  reference for what the entries cost);
- `entries, before` (with `--before-src DIR`, the `src` directory of another checkout,
  e.g. `git archive da2cac7 src | tar -x -C /tmp/before`): the same as `entries` with that
  checkout's `tianfu.state` package, loaded beside this one under another name.

Every block goes through every variant, in alternating order (machine noise hits all
alike); the first `--warmup` blocks are not counted (the tree's node cache fills as a long
running node's does). Per block: the thread CPU time of `MerkleState.apply`, and of the
store write (`Store.save_state_nodes`: the tree nodes and state rows in one SQLite
transaction with its commit and checkpoint, as in `Store.save_block`), plus its wall time.
Every variant with entries must give the same root for every block. The process sets the
cycle collector's thresholds as a node does (`tianfu.node.loop.tune_gc`). Prints medians and
ratios to `no entries` and to `entries, before` (CPU time is far less sensitive to the
machine's other load than wall time: compare ratios of one run).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tianfu.codec import encode
from tianfu.node.loop import tune_gc
from tianfu.state import MerkleState
from tianfu.state.keys import tree_updates
from tianfu.store.sqlite import Store

_BUILD_BATCH = 20_000


def _entry(i: int) -> bytes:
    return b"\x01" + hashlib.sha256(b"loaded/%d" % i).digest()


def build_store(path: Path, leaves: int) -> int:
    """A store whose tree holds `leaves` committed-transaction entries; its top version."""
    tmp = path.with_suffix(".building")
    store = Store(tmp)
    state = MerkleState(store)
    version = 0
    for start in range(0, leaves, _BUILD_BATCH):
        ups = {_entry(i): encode(i % 500) for i in range(start, min(leaves, start + _BUILD_BATCH))}
        batch = state.apply(version, ups)
        store.save_state_nodes(batch.new_nodes, {})
        state.committed(batch)
        version += 1
    store.set_meta("bench/version", str(version - 1).encode())
    store.close()
    os.replace(tmp, path)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    return version - 1


def load_before(src: Path, into: Path) -> Any:
    """`MerkleState` of the `tianfu.state` package under `src`, as package `_state_before`."""
    pkg = into / "_state_before"
    pkg.mkdir()
    for f in (src / "tianfu" / "state").glob("*.py"):
        text = f.read_text().replace("tianfu.state.", "_state_before.")
        text = text.replace("from tianfu.state import", "from _state_before import")
        (pkg / f.name).write_text(text)
    sys.path.insert(0, str(into))
    return importlib.import_module("_state_before").MerkleState


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--leaves", type=int, default=100_000)
    ap.add_argument("--block-txs", type=int, default=260)
    ap.add_argument("--blocks", type=int, default=60, help="measured blocks")
    ap.add_argument("--warmup", type=int, default=300, help="blocks before measuring")
    ap.add_argument("--senders", type=int, default=16, help="accounts the transfers move")
    ap.add_argument("--cache", type=Path, help="directory to keep the built store in")
    ap.add_argument("--before-src", type=Path, help="src directory of the code to compare")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    tune_gc()  # the cycle collector's thresholds of a node process

    work = Path(tempfile.mkdtemp(prefix="tianfu-state-micro-"))
    try:
        cache = args.cache or work
        cache.mkdir(parents=True, exist_ok=True)
        built = cache / f"tree-{args.leaves}.sqlite"
        if not built.exists():
            t = time.perf_counter()
            build_store(built, args.leaves)
            print(f"built a tree of {args.leaves} leaves in {time.perf_counter() - t:.0f} s")
        variants: dict[str, tuple[Any, bool]] = {
            "entries": (MerkleState, True),
            "no entries": (MerkleState, False),
        }
        if args.before_src:
            variants["entries, before"] = (load_before(args.before_src.resolve(), work), True)
        results = run(args, built, work, variants)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(args, results)


def run(
    args: argparse.Namespace, built: Path, work: Path, variants: dict[str, tuple[Any, bool]]
) -> dict[str, dict[str, list[float]]]:
    opened = {}
    for i, (name, (cls, entries)) in enumerate(variants.items()):
        copy = work / f"variant-{i}.sqlite"
        shutil.copyfile(built, copy)
        store = Store(copy)
        top = int(store.get_meta("bench/version") or b"0")
        opened[name] = (store, cls(store), top, entries)
    senders = [b"asset/bal:%040x" % i for i in range(args.senders)]
    results: dict[str, dict[str, list[float]]] = {
        name: {"apply": [], "write_cpu": [], "write_wall": [], "nodes": []} for name in opened
    }
    names = list(opened)
    for b in range(args.warmup + args.blocks):
        writes = {k: encode(1_000_000 + b * 31 + i) for i, k in enumerate(senders)}
        hashes = [
            hashlib.sha256(b"block %d tx %d" % (b, i)).digest() for i in range(args.block_txs)
        ]
        with_entries = tree_updates(writes, hashes)
        roots = set()
        for name in names if b % 2 else names[::-1]:
            store, state, top, entries = opened[name]
            t0 = time.thread_time()
            batch = state.apply(top + 1 + b, with_entries if entries else writes)
            t1 = time.thread_time()
            w = time.perf_counter()
            store.save_state_nodes(batch.new_nodes, writes)
            t2, w2 = time.thread_time(), time.perf_counter()
            state.committed(batch)
            if entries:
                roots.add(batch.root)
            if b >= args.warmup:
                r = results[name]
                r["apply"].append(t1 - t0)
                r["write_cpu"].append(t2 - t1)
                r["write_wall"].append(w2 - w)
                r["nodes"].append(len(batch.new_nodes))
        if len(roots) > 1:
            raise SystemExit(f"block {b}: the variants with entries give different roots")
    for store, *_ in opened.values():
        store.close()
    return results


def report(args: argparse.Namespace, results: dict[str, dict[str, list[float]]]) -> None:
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    print(
        f"tree of {args.leaves} leaves, blocks of {args.block_txs} transfers, median of "
        f"{args.blocks} blocks after {args.warmup} (CPU µs per block; ratios of this run):"
    )
    ref = med["no entries"]
    before = med.get("entries, before")
    print(
        f"  {'variant':16} {'apply':>9} {'write CPU':>10} {'write wall':>11} {'nodes':>6}"
        f"  {'apply ×ref':>10} {'write ×ref':>10}"
        + ("  apply ×before  write ×before" if before else "")
    )
    for name, m in med.items():
        line = (
            f"  {name:16} {m['apply'] * 1e6:9.0f} {m['write_cpu'] * 1e6:10.0f} "
            f"{m['write_wall'] * 1e6:11.0f} {m['nodes']:6.0f}"
            f"  {m['apply'] / ref['apply']:10.2f} {m['write_cpu'] / ref['write_cpu']:10.2f}"
        )
        if before:
            line += f"  {m['apply'] / before['apply']:13.2f} {m['write_cpu'] / before['write_cpu']:13.2f}"
        print(line)
    if args.json:
        out = {
            "leaves": args.leaves,
            "block_txs": args.block_txs,
            "blocks": args.blocks,
            "warmup": args.warmup,
            "median_s": med,
        }
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
