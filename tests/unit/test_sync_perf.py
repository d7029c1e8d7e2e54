"""Measure (print, not assert a speed) how long an empty node takes to sync 1,000 blocks.

Slow: run with `pytest -m slow tests/unit/test_sync_perf.py -s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from test_sync_support import Consortium, Hub, chain_hashes, peer_id

from tianfu.sync import BlockSyncer, SyncConfig

BLOCKS = 1000
TXS_PER_BLOCK = 3


@pytest.mark.slow
def test_sync_1000_blocks_timing(tmp_path: Path) -> None:
    c = Consortium(n_validators=1)
    a_ledger = c.ledger(tmp_path / "a")
    t0 = time.perf_counter()
    c.grow(a_ledger, BLOCKS, txs_per_block=TXS_PER_BLOCK)
    produce_s = time.perf_counter() - t0

    hub = Hub()
    a_id, b_id = peer_id("a"), peer_id("b")
    b_ledger = c.ledger(tmp_path / "b")
    cfg = SyncConfig(status_interval_s=0.2)
    a = BlockSyncer(
        a_ledger, hub.attach(a_id, lambda p, k, d: a.handle(p, k, d)), on_commit=print, config=cfg
    )
    done: list[int] = []
    b = BlockSyncer(
        b_ledger,
        hub.attach(b_id, lambda p, k, d: b.handle(p, k, d)),
        on_commit=lambda e: None,
        on_caught_up=done.append,
        max_batch=50,
        config=cfg,
    )
    hub.connect(a_id, b_id)

    async def main() -> float:
        tasks = [asyncio.create_task(s.run()) for s in (a, b)]
        start = time.perf_counter()
        try:
            while not done:
                await asyncio.sleep(0.01)
            return time.perf_counter() - start
        finally:
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t

    sync_s = asyncio.run(main())
    assert chain_hashes(b_ledger) == chain_hashes(a_ledger)
    print(
        f"\nproduce {BLOCKS} blocks x {TXS_PER_BLOCK} txs: {produce_s:.2f} s; "
        f"sync: {sync_s:.2f} s = {BLOCKS / sync_s:.0f} blocks/s, "
        f"{BLOCKS * TXS_PER_BLOCK / sync_s:.0f} tx/s; progress {b.progress}"
    )
