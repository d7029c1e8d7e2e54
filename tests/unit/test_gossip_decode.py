"""Gossiped transactions are decoded in the admission's fair order, and a large chunk off
the event loop: a frame of crafted transactions (each decode scans its map keys and checks
every value in Python) does not hold the loop that consensus shares, and a member's
transactions are admitted meanwhile."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from tianfu.codec import encode
from tianfu.crypto.keys import generate_keypair
from tianfu.mempool.gossip import (
    ADMIT_CHUNK,
    CHUNK_BYTES,
    KIND_TXS,
    MAX_INBOX_TXS,
    MAX_TX_BYTES,
    UNIT_BYTES,
    TxBatch,
    TxGossip,
    _chunks,
)
from tianfu.node.loop import tune_gc
from tianfu.types import Transaction, TxBody

KEY = generate_keypair()
# The longest the loop may be held at once. A turn of the loop on this shared 2-core
# machine takes up to ~0.1 s with a worker thread decoding (the worker's msgspec decode of
# one crafted transaction holds the GIL, and the OS schedules the loop's thread late);
# decoding the frame on the loop held it ~2 s.
MAX_GAP_S = 0.25


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
    flood = encode(TxBatch([crafted(i) for i in range(16)]))  # four chunks of 4
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
    # The member's chunk is admitted in its turn, after the flooder's first chunk.
    assert order == ["flooder", "member", "flooder", "flooder", "flooder"]
    assert g.stats["admitted"] == 16 + ADMIT_CHUNK and g.stats["malformed"] == 0


def test_malformed_transactions_are_counted_when_their_chunk_is_decoded() -> None:
    big_bad = crafted(0) + b"\x00"  # large with a trailing byte: refused in a worker thread
    frame = encode(TxBatch([tx("a", 1), b"junk", big_bad, b"x" * (MAX_TX_BYTES + 1)]))

    async def run() -> TxGossip:
        g = TxGossip(Net(), lambda t: True, admit_many=lambda ts: [True] * len(ts))
        g.handle("peer", KIND_TXS, frame)
        assert g.stats["malformed"] == 1  # the oversized one, refused before queueing
        assert queued_txs(g) == 3
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
    assert [len(c) for c, _, _ in _chunks(small)] == [ADMIT_CHUNK, 1]
    big = b"b" * (CHUNK_BYTES - 50)
    got = _chunks([b"s" * 100, big, big, b"s" * 10, b"x" * (CHUNK_BYTES + 1)])
    assert [(len(c), size) for c, size, _ in got] == [
        (1, 100),
        (1, CHUNK_BYTES - 50),
        (2, CHUNK_BYTES - 40),
        (1, CHUNK_BYTES + 1),
    ]
    assert [raw for c, _, _ in got for raw in c][2] is big  # in order, not copied


def queued(g: TxGossip) -> list[Any]:
    """The transactions waiting in the inbox (bytes, or decoded ones before)."""
    return [
        raw
        for subs in g._inbox.values()  # noqa: SLF001
        for queue in subs.values()
        for chunk in queue
        for raw in chunk[1]
    ]


def queued_txs(g: TxGossip) -> int:
    return len(queued(g))


def queued_bytes(g: TxGossip) -> int:
    return sum(len(r) if isinstance(r, bytes) else len(r.encoded()) for r in queued(g))


def test_the_inbox_is_bounded_in_bytes() -> None:
    """Transactions wait undecoded, and `handle` is quick: counted by number alone, frames
    of 1 MiB transactions (a link may send hundreds at once) would fill the inbox with
    8,000 MiB. Each transaction counts one unit per 4 KiB started: the inbox holds at most
    32 MiB, and a peer's frame of small transactions still finds room."""
    large = [tx("a", i, b"x" * 1_000_000) for i in range(4)]
    frame = encode(TxBatch(large))

    async def run() -> TxGossip:
        g = TxGossip(Net(), lambda t: True, admit_many=lambda ts: [True] * len(ts))
        for _ in range(40):  # 160 MiB, all received before admission starts
            g.handle("flooder", KIND_TXS, frame)
        assert queued_bytes(g) <= MAX_INBOX_TXS * UNIT_BYTES
        assert g.dropped_busy >= 40 - MAX_INBOX_TXS * UNIT_BYTES // (4 * 1_000_000)
        g.handle("member", KIND_TXS, encode(TxBatch([tx("b", i) for i in range(100)])))
        assert queued_bytes(g) <= MAX_INBOX_TXS * UNIT_BYTES
        assert g._sub_queued["member"]["member"] == 100  # noqa: SLF001
        return g

    asyncio.run(run())


def test_each_group_gets_about_the_same_bytes_decoded() -> None:
    """A turn pays for `CHUNK_BYTES` of decoding: a peer sending 1 MiB transactions gets
    one decoded per four turns, while a member's chunks of small transactions go one a turn;
    one chunk a turn each would give the flooder four times the member's decoding."""
    flood = encode(TxBatch([tx("flooder", i, b"x" * 1_000_000) for i in range(3)]))
    member = encode(TxBatch([tx("member", i) for i in range(10 * ADMIT_CHUNK)]))
    order: list[str] = []

    def admit_many(ts: list[Transaction]) -> list[bool]:
        order.append(str(ts[0].body.args[0]))
        return [True] * len(ts)

    async def run() -> TxGossip:
        g = TxGossip(Net(), lambda t: True, admit_many=admit_many)
        g.handle("flooder", KIND_TXS, flood)
        g.handle("member", KIND_TXS, member)
        deadline = time.monotonic() + 120
        while g._inbox_txs or g._admitting is not None:  # noqa: SLF001
            assert time.monotonic() < deadline, "the inbox was never admitted"
            await asyncio.sleep(0.001)
        return g

    g = asyncio.run(run())
    assert order[:10] == ["member"] * 3 + ["flooder"] + ["member"] * 4 + ["flooder"] + ["member"]
    assert order.count("flooder") == 3 and order.count("member") == 10
    assert g.stats["admitted"] == 3 + 10 * ADMIT_CHUNK and not g._credit  # noqa: SLF001
