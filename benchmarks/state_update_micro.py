"""The per-block state-tree update alone: a block of transfers, with and without the
ledger's committed-transaction entries (ADR 0017), on a tree of N keys.

    .venv/bin/python benchmarks/state_update_micro.py [--keys 100000] [--block-txs 500]
        [--blocks 40] [--writes 2]

Two trees with the same N keys; blocks alternate between them (so machine noise hits both
alike): each block writes `--writes` random existing keys per transaction (a transfer's
two balances) and, in the second tree, `0x01 ‖ tx hash` per transaction as the ledger does.
Prints the median `MerkleState.apply` time per block and per transaction for both, and the
ratio. Run it with `PYTHONPATH=<other checkout>/src` to time another version of the tree
(one without committed-transaction entries prints only the first figure).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import time

from tianfu.state import InMemoryNodes, MerkleState

try:
    from tianfu.state.keys import tree_updates
except ImportError:  # a version of the tree from before the committed-transaction entries
    tree_updates = None  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--block-txs", type=int, default=500)
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--writes", type=int, default=2)
    args = ap.parse_args()
    rng = random.Random(7)
    keys = [b"asset/bal:%040x" % rng.getrandbits(160) for _ in range(args.keys)]
    modes = ["contract writes"] + (["+ committed-tx entries"] if tree_updates else [])
    trees = {}
    for mode in modes:
        nodes = InMemoryNodes()
        state = MerkleState(nodes)
        for v, start in enumerate(range(0, len(keys), 20_000)):
            nodes.put_batch(state.apply(v, {k: b"\x0a" for k in keys[start : start + 20_000]}))
        trees[mode] = (nodes, state, v + 1)
    times: dict[str, list[float]] = {m: [] for m in modes}
    for b in range(args.blocks):
        writes = {
            rng.choice(keys): (b % 100 + 1).to_bytes(2, "big")
            for _ in range(args.block_txs * args.writes)
        }
        hashes = [hashlib.sha256(b"%d/%d" % (b, i)).digest() for i in range(args.block_txs)]
        for mode in modes:
            nodes, state, version = trees[mode]
            updates = writes if mode == modes[0] else tree_updates(writes, hashes)
            t = time.perf_counter()
            batch = state.apply(version, updates)
            times[mode].append(time.perf_counter() - t)
            nodes.put_batch(batch)
            state.committed(batch)
            trees[mode] = (nodes, state, version + 1)
    print(
        f"tree of {args.keys} keys, blocks of {args.block_txs} transactions writing "
        f"{args.writes} keys each, median of {args.blocks} blocks:"
    )
    base = statistics.median(times[modes[0]])
    for mode in modes:
        med = statistics.median(times[mode])
        print(
            f"  {mode:24} {med * 1000:7.1f} ms/block  {med / args.block_txs * 1e6:6.1f} us/tx"
            f"  x{med / base:.2f}"
        )


if __name__ == "__main__":
    main()
