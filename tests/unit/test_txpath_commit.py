"""Unit tests of the per-transaction commit path: the mempool's expiry index (evicting costs
what it evicts, never a scan of the pool), the batch wait that skips the store for pending
transactions, the waiter's own timeout, the fast `jsonable` and the batch route's decoding
(the transactions keep the bytes received, for gossip)."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.api.batch import decode_batch
from tianfu.api.render import jsonable
from tianfu.codec import encode
from tianfu.contracts.examples import example_source
from tianfu.crypto import sign_tx
from tianfu.crypto.keys import generate_keypair
from tianfu.mempool import Mempool
from tianfu.testing.appchain import AppChain
from tianfu.types import Event, Transaction, TxBody, tx_hash

KEY = generate_keypair()


def _tx(nonce: int, expiry: int, pad: int = 0) -> Transaction:
    body = TxBody(
        1, "c", KEY.scheme, KEY.public_key, nonce, expiry, "kv", "put", ["x" * pad, nonce]
    )
    return Transaction(body, bytes(64))


# ------------------------------------------------------------------- the expiry index

ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 40), st.integers(1, 12)),
        st.tuples(st.just("remove"), st.lists(st.integers(0, 40), max_size=6)),
        st.tuples(st.just("evict"), st.integers(0, 14)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_expiry_index_evicts_what_a_scan_of_the_pool_would(steps: list[Any]) -> None:
    pool = Mempool(max_txs=25, max_bytes=1 << 20)
    model: dict[bytes, Transaction] = {}  # the pool's content, in arrival order
    txs = {n: _tx(n, 0) for n in range(41)}
    for step in steps:
        if step[0] == "add":
            tx = txs[step[1]] = _tx(step[1], step[2])  # a fresh expiry for that nonce
            if tx.hash in model or len(model) >= 25:
                continue
            assert pool.add(tx)
            model[tx.hash] = tx
        elif step[0] == "remove":
            hashes = [txs[n].hash for n in step[1]]
            pool.remove(hashes)
            for h in hashes:
                model.pop(h, None)
        else:
            stale = pool.evict_expired(step[1])
            expect = [h for h, tx in model.items() if tx.body.expiry < step[1]]
            assert sorted(stale) == sorted(expect) and len(stale) == len(set(stale))
            for h in expect:
                del model[h]
        assert list(pool._txs) == list(model)  # noqa: SLF001 (arrival order kept)
        assert len(pool) == len(model)
        assert pool.size_bytes == sum(len(t.encoded()) for t in model.values())
        by_expiry = pool._by_expiry  # noqa: SLF001
        assert sum(len(b) for b in by_expiry.values()) == len(model)
        assert all(b for b in by_expiry.values())  # no empty bucket is kept
        assert set(by_expiry) <= set(pool._expiries)  # noqa: SLF001 (every bucket is found)
        assert len(pool._expiries) <= 2 * len(by_expiry) + 65  # noqa: SLF001 (bounded)


def test_heap_of_expiries_stays_bounded_under_churn() -> None:
    pool = Mempool()
    for i in range(20_000):  # each transaction alone in its expiry, then removed
        tx = _tx(i, 1_000 + i)
        pool.add(tx)
        pool.remove([tx.hash])
    assert len(pool) == 0 and pool.size_bytes == 0
    assert len(pool._expiries) <= 65  # noqa: SLF001
    assert pool.evict_expired(1 << 62) == []


def test_evict_expired_touches_only_the_expired() -> None:
    pool = Mempool()
    fresh = [_tx(i, 100) for i in range(1000)]
    old = [_tx(10_000 + i, 5) for i in range(3)]
    for tx in [*fresh[:500], *old, *fresh[500:]]:
        pool.add(tx)
    assert sorted(pool.evict_expired(6)) == sorted(t.hash for t in old)
    assert pool.evict_expired(6) == []
    assert len(pool) == 1000 and pool.take(2000, 1 << 30) == fresh


# ------------------------------------------------------------------- batch waits


def _chain(tmp_path: Any) -> AppChain:
    c = AppChain(tmp_path)
    c.deploy("kv", example_source("kv"))
    return c


def test_wait_for_pending_transactions_skips_the_store(tmp_path: Any) -> None:
    chain = _chain(tmp_path)
    try:
        service = chain.service
        alice = chain.identity("org1", "alice")
        done = chain.sign(alice, "kv", "put", "done", 1)
        asyncio.run(service.submit(done))  # committed now (AppChain commits on submit)
        service.on_tx = None
        pending = [chain.sign(alice, "kv", "put", f"k{i}", i) for i in range(3)]
        asked: list[list[bytes]] = []
        real = service.store.committed_txs

        def spy(hashes: list[bytes]) -> set[bytes]:
            asked.append(list(hashes))
            return real(hashes)

        service.store.committed_txs = spy  # type: ignore[method-assign]

        async def main() -> list[Any]:
            out = await service.submit_many(pending)
            assert out == [t.hash for t in pending]
            asked.clear()
            task = asyncio.ensure_future(service.wait_committed_many([done.hash, *out, out[0]], 5))
            await asyncio.sleep(0)
            assert asked == [[done.hash]]  # only the one not pending is looked up
            txs = service.mempool.take(100, 1 << 20)
            executed = chain.driver.produce_one(txs)
            service.mempool.remove([t.hash for t in txs])
            service.block_committed(executed)
            return await task

        records = asyncio.run(main())
        assert [r.tx.hash for r in records] == [
            done.hash,
            *(t.hash for t in pending),
            pending[0].hash,
        ]
        assert records[0].height < records[1].height == records[3].height
        assert not service._waiters  # noqa: SLF001
    finally:
        chain.close()


def test_waiter_timeout_and_cancel_unregister(tmp_path: Any) -> None:
    chain = _chain(tmp_path)
    try:
        service = chain.service
        alice = chain.identity("org1", "alice")
        service.on_tx = None
        tx = chain.sign(alice, "kv", "put", "p", 1)
        service.admit(tx)

        async def main() -> None:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            assert await service.wait_committed_many([tx.hash], 0.05) == [None]
            assert loop.time() - t0 >= 0.04  # it waited (no upper bound: machines get busy)
            assert not service._waiters  # noqa: SLF001
            assert await service.wait_committed(tx.hash, 0.01) is None
            assert not service._waiters  # noqa: SLF001
            task = asyncio.ensure_future(service.wait_committed_many([tx.hash], 30))
            await asyncio.sleep(0)  # it registers its wait before it first suspends
            assert tx.hash in service._waiters  # noqa: SLF001
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            assert not service._waiters  # noqa: SLF001
            assert len(loop._scheduled) == 0  # noqa: SLF001 (the timer is cancelled too)

        asyncio.run(main())
    finally:
        chain.close()


# ------------------------------------------------------------------- rendering


def _jsonable_reference(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, msgspec.Struct):
        return {f: _jsonable_reference(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, dict):
        return {str(k): _jsonable_reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable_reference(v) for v in value]
    return str(value)


class Color(enum.IntEnum):
    RED = 1


class Tag(str):
    pass


leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(1 << 70), 1 << 70)
    | st.text(max_size=6)
    | st.binary(max_size=6)
    | st.builds(bytearray, st.binary(max_size=4))
    | st.just(Color.RED)
    | st.builds(Tag, st.text(max_size=4))
    | st.floats(allow_nan=False)
    | st.builds(Event, st.text(max_size=3), st.text(max_size=3), st.just({"a": b"\x01"}))
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(
            st.text(max_size=4) | st.integers(0, 9) | st.builds(Tag, st.text(max_size=4)),
            inner,
            max_size=4,
        )
    ),
    max_leaves=15,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_jsonable_is_the_general_walk(value: Any) -> None:
    got, want = jsonable(value), _jsonable_reference(value)
    assert _same(got, want)


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (bool is not int, a str subclass is not
    str: the JSON encoder treats them differently)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


# ------------------------------------------------------------------- batch decoding


def test_decode_batch_keeps_the_bytes_received() -> None:
    raws = [
        encode(
            sign_tx(KEY, TxBody(1, "c", KEY.scheme, KEY.public_key, n, 9, "kv", "put", ["k", n]))
        )
        for n in range(3)
    ]
    txs = decode_batch(encode(raws), False, 1 << 20)
    for raw, tx in zip(raws, txs, strict=True):
        assert tx.encoded() == raw and tx.hash == tx_hash(tx.body)
    hexed = msgspec.json.encode({"txs": [r.hex() for r in raws]})
    assert decode_batch(hexed, True, 1 << 20) == txs
