"""Unit tests: an event stream that keeps up is never dropped by one block, however many
events a valid block holds: its backlog is bounded between blocks (what it had not read
when a block's events arrive), and a block's events are queued whole."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from tests.unit.kvchain import KvChain

from tianfu.codec import encode
from tianfu.crypto.keys import generate_keypair
from tianfu.execution.costs import event_gas
from tianfu.execution.limits import MAX_EVENTS
from tianfu.node import service as node_service
from tianfu.types import ConsensusParams, Event, Receipt, Transaction, TxBody

KEY = generate_keypair()


def _block(height: int, txs: int, per_tx: int) -> tuple[SimpleNamespace, int]:
    """A committed block of `txs` transactions, each emitting `per_tx` small events; and
    the gas its events cost at least."""
    body_txs, receipts = [], []
    gas = 0
    for n in range(txs):
        body = TxBody(1, "c", KEY.scheme, KEY.public_key, n, 10**6, "kv", "put", [n])
        body_txs.append(Transaction(body, bytes(64)))
        events = [Event("kv", "put", {"key": f"k{n}.{i}"}) for i in range(per_tx)]
        gas += sum(event_gas(len(e.name), len(encode(e.data))) for e in events)
        receipts.append(Receipt(0, 1, None, "", events))
    executed = SimpleNamespace(
        block=SimpleNamespace(header=SimpleNamespace(height=height), txs=body_txs),
        result=SimpleNamespace(receipts=receipts, updates={}),
        encoded_receipts=[encode(r) for r in receipts],
    )
    return executed, gas


def test_a_valid_block_with_more_events_than_the_queue_holds_reaches_a_reader(tmp_path) -> None:
    """Forty transactions emitting their 256 events each: 10,240 events, a fraction of the
    default block's gas. The stream had read everything before; all of the block's events
    were queued at once (the event loop does not turn while a block is published), so the
    10,001st dropped it: every stream, however fast its reader, was cut by a valid block."""
    params = ConsensusParams()
    executed, gas = _block(1, 40, MAX_EVENTS)
    events = 40 * MAX_EVENTS
    assert events > node_service.SUBSCRIBER_QUEUE and gas < params.max_block_gas
    chain = KvChain(tmp_path, auto_commit=False)
    service = chain.service

    async def run() -> tuple[int, bool]:
        stream = service.subscribe()
        first = asyncio.ensure_future(stream.__anext__())
        while not service._subscribers:  # noqa: SLF001 - registered at its first wait
            await asyncio.sleep(0)
        service.block_committed(executed)
        got = [await first]
        while len(got) < events:
            got.append(await stream.__anext__())
        kept = bool(service._subscribers)  # noqa: SLF001
        await stream.aclose()
        return len(got), kept

    try:
        n, kept = asyncio.run(asyncio.wait_for(run(), 60))
    finally:
        chain.close()
    assert (n, kept) == (events, True)


def test_a_stream_behind_by_more_than_its_bounds_is_dropped_at_the_next_block(tmp_path) -> None:
    """The bound still holds between blocks: a stream that reads nothing keeps one block
    past `SUBSCRIBER_QUEUE` events, and is dropped at the next."""
    executed, _ = _block(1, 40, MAX_EVENTS)
    chain = KvChain(tmp_path, auto_commit=False)
    service = chain.service

    async def run() -> tuple[bool, bool, int]:
        stream = service.subscribe()
        first = asyncio.ensure_future(stream.__anext__())
        while not service._subscribers:  # noqa: SLF001
            await asyncio.sleep(0)
        service.block_committed(executed)
        after_one = bool(service._subscribers)  # noqa: SLF001
        service.block_committed(_block(2, 1, 1)[0])
        after_two = bool(service._subscribers)  # noqa: SLF001
        got = [await first]
        async for ev in stream:  # what was queued, then its end
            got.append(ev)
        return after_one, after_two, len(got)

    try:
        after_one, after_two, n = asyncio.run(asyncio.wait_for(run(), 60))
    finally:
        chain.close()
    assert (after_one, after_two) == (True, False)
    assert n == 40 * MAX_EVENTS
