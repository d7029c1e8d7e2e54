"""Unit tests: what an event stream that is not read holds is bounded in bytes, not only in
events. An event may carry 64 KiB of one-byte values (each a pointer in the node's memory:
about 0.5 MB), so 10,000 of them queued for one stream that never reads — an anonymous
client's WebSocket — held gigabytes of a member's events; the stream is dropped once its
backlog passes `SUBSCRIBER_QUEUE_BYTES` of the events' canonical bytes."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

from tests.unit.kvchain import KvChain

from tianfu.codec import encode
from tianfu.crypto.keys import generate_keypair
from tianfu.node import service as node_service
from tianfu.types import Event, Receipt, Transaction, TxBody

SUBSCRIBER_QUEUE_BYTES = getattr(node_service, "SUBSCRIBER_QUEUE_BYTES", 16 << 20)

KEY = generate_keypair()
BIG = Event("c", "e", {"v": [0] * 65_000})  # about 64 KiB encoded


def _executed(height: int, events: list[Event]) -> SimpleNamespace:
    body = TxBody(1, "c", KEY.scheme, KEY.public_key, height, 10**6, "kv", "put", [height])
    tx = Transaction(body, bytes(64))
    receipt = Receipt(0, 1, None, "", events)
    return SimpleNamespace(
        block=SimpleNamespace(header=SimpleNamespace(height=height), txs=[tx]),
        result=SimpleNamespace(receipts=[receipt], updates={}),
        encoded_receipts=[encode(receipt)],
    )


def test_a_stream_that_is_not_read_is_dropped_past_its_bytes(tmp_path) -> None:
    chain = KvChain(tmp_path, auto_commit=False)
    service = chain.service
    size = len(encode(BIG))
    assert 60_000 < size <= 64 * 1024

    async def run() -> tuple[int, list[object]]:
        stream = service.subscribe()
        first = asyncio.ensure_future(stream.__anext__())
        while not service._subscribers:  # noqa: SLF001 - registered at its first wait
            await asyncio.sleep(0)
        blocks = SUBSCRIBER_QUEUE_BYTES // size + 8
        held = 0
        for h in range(1, blocks + 1):
            service.block_committed(_executed(h, [BIG]))
            for q in service._subscribers:  # noqa: SLF001
                held = max(held, getattr(q, "queue", q).qsize())
        assert not service._subscribers, "a stream holding more than its bytes is dropped"  # noqa: SLF001
        got = [await first]
        async for ev in stream:  # what was queued, then its end
            got.append(ev)
        return held, got

    try:
        held, got = asyncio.run(run())
    finally:
        chain.close()
    assert held * size <= SUBSCRIBER_QUEUE_BYTES + size
    assert 1 < len(got) <= SUBSCRIBER_QUEUE_BYTES // size + 2


def test_small_events_still_queue_by_count(tmp_path) -> None:
    """A stream behind by events of a few bytes keeps them up to the count bound."""
    chain = KvChain(tmp_path, auto_commit=False)
    service = chain.service

    async def run() -> int:
        stream = service.subscribe()
        first = asyncio.ensure_future(stream.__anext__())
        while not service._subscribers:  # noqa: SLF001
            await asyncio.sleep(0)
        small = [Event("c", "e", {"n": i}) for i in range(200)]
        for h in range(1, 11):
            service.block_committed(_executed(h, small))
        (q,) = service._subscribers  # noqa: SLF001
        n = getattr(q, "queue", q).qsize()
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await stream.aclose()
        return n

    try:
        assert asyncio.run(run()) == 2000
    finally:
        chain.close()


def test_a_large_result_beside_small_events_is_not_counted_as_theirs(tmp_path) -> None:
    """A receipt's result is not its events': small events beside a 200 KB result queue by
    their own bytes, so a stream behind by a few hundred of them is not dropped."""
    chain = KvChain(tmp_path, auto_commit=False)
    service = chain.service

    async def run() -> tuple[bool, int]:
        stream = service.subscribe()
        first = asyncio.ensure_future(stream.__anext__())
        while not service._subscribers:  # noqa: SLF001
            await asyncio.sleep(0)
        for h in range(1, 301):
            executed = _executed(h, [Event("c", "e", {"n": h})])
            receipt = executed.result.receipts[0]
            executed.encoded_receipts = [encode(receipt) + bytes(200_000)]  # as if a result
            service.block_committed(executed)
        kept = bool(service._subscribers)  # noqa: SLF001
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await stream.aclose()
        return kept, 300

    try:
        kept, n = asyncio.run(run())
    finally:
        chain.close()
    assert kept and n * 200_000 > SUBSCRIBER_QUEUE_BYTES
