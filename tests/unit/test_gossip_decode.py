"""Gossiped transactions are decoded in the admission's fair order, and a large chunk off
the event loop: a frame of crafted transactions (each decode scans its map keys and checks
every value in Python) does not hold the loop that consensus shares, and a member's
transactions are admitted meanwhile."""

from __future__ import annotations

import asyncio
import gc
import time

from tianfu.codec import encode
from tianfu.crypto.keys import generate_keypair
from tianfu.mempool.gossip import (
    ADMIT_CHUNK,
    CHUNK_BYTES,
    KIND_TXS,
    MAX_TX_BYTES,
    TxBatch,
    TxGossip,
    _chunks,
)
from tianfu.node.loop import tune_gc
from tianfu.types import Transaction, TxBody

KEY = generate_keypair()
MAX_GAP_S = 0.1  # the longest the loop may be held at once


class Net:
    def broadcast(self, kind: int, payload: bytes) -> None:
        pass


def tx(sender: str, nonce: int, *extra: object) -> bytes:
    args = [sender, *extra]
    body = TxBody(1, "c", KEY.scheme, KEY.public_key, nonce, 10, "asset", "t", args, b"")
    return encode(Transaction(body, b"s"))


def crafted(nonce: int) -> bytes:
    """A valid transaction of ~60 KB of one-item lists (and a map, so its keys are
    scanned): each item is a step of the map-key scan and of the value check."""
    return tx("flooder", nonce, [[1]] * 30_000, {"k": 1})


def test_a_frame_of_crafted_transactions_does_not_hold_the_loop() -> None:
    flood = encode(TxBatch([crafted(i) for i in range(8)]))  # two chunks of 4
    member = encode(TxBatch([tx("member", i) for i in range(ADMIT_CHUNK)]))
    order: list[str] = []

    def admit_many(ts: list[Transaction]) -> list[bool]:
        order.append(str(ts[0].body.args[0]))
        return [True] * len(ts)

    async def run() -> tuple[float, TxGossip]:
        g = TxGossip(Net(), lambda t: True, admit_many=admit_many)
        longest = 0.0
        done = False

        async def tick() -> None:
            nonlocal longest
            last = time.monotonic()
            while not done:
                await asyncio.sleep(0.001)
                now = time.monotonic()
                longest = max(longest, now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)
        g.handle("flooder", KIND_TXS, flood)
        g.handle("member", KIND_TXS, member)
        deadline = time.monotonic() + 120
        while g._inbox_txs or g._admitting is not None:  # noqa: SLF001
            assert time.monotonic() < deadline, "the inbox was never admitted"
            await asyncio.sleep(0.001)
        done = True
        await ticker
        return longest, g

    # The collector as a node process tunes it: with CPython's defaults, the objects the
    # decodes make trigger full collections of the test process's heap (~0.15 s under
    # load), which hold the loop whoever allocates.
    thresholds = gc.get_threshold()
    tune_gc()
    try:
        longest, g = asyncio.run(run())
    finally:
        gc.set_threshold(*thresholds)
    assert longest < MAX_GAP_S, f"the loop was held {longest:.3f} s"
    # The member's chunk is admitted in its turn, between the flooder's two chunks.
    assert order == ["flooder", "member", "flooder"]
    assert g.stats["admitted"] == 8 + ADMIT_CHUNK and g.stats["malformed"] == 0


def test_malformed_transactions_are_counted_when_their_chunk_is_decoded() -> None:
    big_bad = crafted(0) + b"\x00"  # large with a trailing byte: refused in a worker thread
    frame = encode(TxBatch([tx("a", 1), b"junk", big_bad, b"x" * (MAX_TX_BYTES + 1)]))

    async def run() -> TxGossip:
        g = TxGossip(Net(), lambda t: True, admit_many=lambda ts: [True] * len(ts))
        g.handle("peer", KIND_TXS, frame)
        assert g.stats["malformed"] == 1  # the oversized one, refused before queueing
        assert g._inbox_txs == 3  # noqa: SLF001
        deadline = time.monotonic() + 120
        while g._inbox_txs or g._admitting is not None:  # noqa: SLF001
            assert time.monotonic() < deadline, "the inbox was never admitted"
            await asyncio.sleep(0.001)
        return g

    g = asyncio.run(run())
    assert g.stats["malformed"] == 3 and g.stats["admitted"] == 1
    assert g.stats["received"] == 4


def test_chunks_are_bounded_in_count_and_bytes() -> None:
    small = [b"s" * 100] * (ADMIT_CHUNK + 1)
    assert [len(c) for c, _ in _chunks(small)] == [ADMIT_CHUNK, 1]
    big = b"b" * (CHUNK_BYTES - 50)
    got = _chunks([b"s" * 100, big, big, b"s" * 10, b"x" * (CHUNK_BYTES + 1)])
    assert [(len(c), size) for c, size in got] == [
        (1, 100),
        (1, CHUNK_BYTES - 50),
        (2, CHUNK_BYTES - 40),
        (1, CHUNK_BYTES + 1),
    ]
    assert [raw for c, _ in got for raw in c][2] is big  # in order, not copied
