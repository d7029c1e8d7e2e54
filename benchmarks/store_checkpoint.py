"""What the checkpoint after every commit costs `Store.save_block` (ADR 0019), in one process.

    .venv/bin/python benchmarks/store_checkpoint.py [--blocks 40] [--block-txs 260 1000]

Two stores in the same directory's file system, written alternately with the same blocks:
one as shipped (`wal_checkpoint(FULL)` after each commit, so `chain.db` holds every
committed height), one with that checkpoint switched off (SQLite's automatic checkpoint
every 1,000 WAL pages, the setting before). Each block carries `--block-txs` signed
transactions, their receipts, ~2.4 new tree nodes and one state update per transaction,
like the asset-transfer blocks of `tianfu bench` (about 260 per block at its load) and of
`benchmarks/commit_micro.py` (1,000). Wall time per block, median and p90; interleaving
makes a shared machine's noise hit both alike. Prints the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from tianfu.codec import encode
from tianfu.crypto import generate_keypair, sign_tx
from tianfu.crypto.merkle import merkle_root
from tianfu.store import Store
from tianfu.types import Block, BlockHeader, CommitCertificate, Receipt, TxBody

CHAIN = "bench-store"


def make_blocks(n_blocks: int, n_txs: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    keys = [generate_keypair() for _ in range(8)]
    prev = b"\x00" * 32
    blocks = []
    nonce = 0
    for h in range(1, n_blocks + 1):
        txs = []
        for i in range(n_txs):
            nonce += 1
            kp = keys[i % len(keys)]
            body = TxBody(
                1, CHAIN, kp.scheme, kp.public_key, nonce, h + 100, "asset", "transfer",
                [rng.randbytes(20).hex(), rng.randrange(1, 1000)],
            )  # fmt: skip
            txs.append(sign_tx(kp, body))
        receipts = [Receipt(0, 120, None, "", []) for _ in txs]
        header = BlockHeader(
            1, CHAIN, h, 1_700_000_000_000 + h, prev,
            merkle_root([encode(t) for t in txs]), rng.randbytes(32),
            merkle_root([encode(r) for r in receipts]), b"\x01" * 32, keys[0].public_key, n_txs,
        )  # fmt: skip
        block = Block(header, txs)
        cert = CommitCertificate(1, CHAIN, h, 0, block.hash, [])
        nodes = {rng.randbytes(12): rng.randbytes(200) for _ in range(int(n_txs * 2.4) + 2)}
        updates: dict[bytes, bytes | None] = {rng.randbytes(40): rng.randbytes(60) for _ in txs}
        blocks.append((block, cert, receipts, nodes, updates))
        prev = block.hash
    return blocks


def run(n_blocks: int, n_txs: int, workdir: Path) -> tuple[list[float], list[float]]:
    blocks = make_blocks(n_blocks, n_txs, seed=n_txs)
    with_ckpt = Store(workdir / f"with-{n_txs}.db")
    without = Store(workdir / f"without-{n_txs}.db")
    without._checkpoint = lambda conn: None  # type: ignore[method-assign]  # the old setting
    times: dict[str, list[float]] = {"with": [], "without": []}
    for i, parts in enumerate(blocks):
        order = [("with", with_ckpt), ("without", without)]
        if i % 2:
            order.reverse()
        for name, store in order:
            t0 = time.perf_counter()
            store.save_block(*parts)
            times[name].append(time.perf_counter() - t0)
    with_ckpt.close()
    without.close()
    return times["with"], times["without"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--block-txs", type=int, nargs="+", default=[260, 1000])
    args = ap.parse_args()
    print(f"{'txs/block':>9} {'checkpoint ms (p50/p90)':>24} {'no checkpoint ms':>18} {'ratio':>6}")
    for n_txs in args.block_txs:
        with tempfile.TemporaryDirectory(prefix="tianfu-ckpt-", dir=os.getcwd()) as tmp:
            a, b = run(args.blocks, n_txs, Path(tmp))
        qa = statistics.quantiles(a, n=10)
        qb = statistics.quantiles(b, n=10)
        ma, mb = statistics.median(a), statistics.median(b)
        print(
            f"{n_txs:>9} {ma * 1e3:>12.1f} / {qa[8] * 1e3:<9.1f} {mb * 1e3:>8.1f} / "
            f"{qb[8] * 1e3:<7.1f} {ma / mb:>6.2f}"
        )


if __name__ == "__main__":
    main()
