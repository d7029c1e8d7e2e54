"""Block sync when our own store cannot take a block (disk full): the peer is not blamed, the
failure is reported (`store_error`), nothing is fetched again until `store_retry_s` has
passed, and sync completes once the store takes writes again."""

from __future__ import annotations

import asyncio
import sqlite3

from test_sync import CHAIN_LEN, Node, settle, sync_until
from test_sync_support import Hub, chain_hashes

from tianfu.store import StoreWriteError
from tianfu.store.check import check_store
from tianfu.sync import SyncConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _pair(world, tmp_path):
    """Node a holding the chain, node b empty (store retries after 2 s), linked through a
    hub; b's clock."""
    c, a_ledger = world
    hub = Hub()
    clock = Clock()
    a = Node(hub, a_ledger, "a")
    b = Node(hub, c.ledger(tmp_path / "b"), "b", clock=clock, config=SyncConfig(store_retry_s=2.0))
    hub.connect(a.id, b.id)
    return a, b, clock, hub


def _fails_then_recovers(a, b, clock, failing, error: str) -> None:
    """b's first sync stores and announces nothing without blaming a; once `failing` is
    switched off and the retry delay has passed, b holds a's whole chain, checked."""

    async def main() -> None:
        a.syncer.broadcast_status()
        await settle()
        assert await b.syncer.sync_from_peers_once() == 0
        assert b.ledger.height == 0 and b.committed == []
        assert not b.syncer.banned_peers()
        assert b.syncer.store_error is not None and error in b.syncer.store_error
        failing.failing = False
        clock.now += 2.5
        await sync_until(b, CHAIN_LEN)

    asyncio.run(main())
    assert b.committed == list(range(1, CHAIN_LEN + 1))
    assert chain_hashes(b.ledger) == chain_hashes(a.ledger)
    check_store(b.ledger.store, b.ledger.genesis.hash, full=True)


def test_a_block_our_store_refuses_is_not_the_peers_fault(world, tmp_path) -> None:
    a, b, clock, hub = _pair(world, tmp_path)
    real_commit = b.ledger.commit
    failing = True

    def commit(executed, cert) -> None:
        if failing:
            raise StoreWriteError("write failed: database or disk is full")
        real_commit(executed, cert)

    b.ledger.commit = commit  # type: ignore[method-assign]

    async def main() -> None:
        nonlocal failing
        a.syncer.broadcast_status()
        await settle()
        assert await b.syncer.sync_from_peers_once() == 0
        assert not b.syncer.banned_peers()
        assert b.syncer.store_error is not None and "disk is full" in b.syncer.store_error
        assert b.syncer.store_failures == 1
        sent = len(hub.sent)
        assert await b.syncer.sync_from_peers_once() == 0  # still within store_retry_s
        assert len(hub.sent) == sent, "asked a peer again before store_retry_s passed"
        failing = False
        clock.now += 2.5
        await sync_until(b, CHAIN_LEN)

    asyncio.run(main())
    assert b.syncer.store_error is None
    assert not b.syncer.banned_peers()
    assert chain_hashes(b.ledger) == chain_hashes(a.ledger)


class FailingWrites:
    """The store's writer connection, whose statements starting with `fail_on` raise."""

    def __init__(self, conn: sqlite3.Connection, fail_on: str) -> None:
        self.conn = conn
        self.fail_on = fail_on
        self.failing = True

    def execute(self, sql: str, *args: object) -> object:
        if self.failing and sql.startswith(self.fail_on):
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)


def test_a_batch_whose_commit_fails_is_stored_and_announced_not_at_all(world, tmp_path) -> None:
    """The batch is one store transaction: if its COMMIT fails, no block of it is stored or
    announced (`on_commit`), the peer is not blamed, and the next attempt stores it."""
    a, b, clock, _ = _pair(world, tmp_path)
    writer = b.ledger.store._writer
    assert writer is not None
    failing = FailingWrites(writer, "COMMIT")
    b.ledger.store._writer = failing  # type: ignore[assignment]
    _fails_then_recovers(a, b, clock, failing, "disk is full")


def test_a_block_write_failing_mid_batch_takes_the_batch_back(world, tmp_path) -> None:
    a, b, clock, _ = _pair(world, tmp_path)
    writer = b.ledger.store._writer
    assert writer is not None
    failing = FailingWrites(writer, "INSERT INTO event_index")
    b.ledger.store._writer = failing  # type: ignore[assignment]
    real_many = writer.executemany
    calls = 0

    def executemany(sql: str, rows: object) -> object:
        nonlocal calls
        if sql.startswith("INSERT INTO event_index"):
            calls += 1
            if calls == 3 and failing.failing:  # the third block of the batch
                raise sqlite3.OperationalError("database or disk is full")
        return real_many(sql, rows)  # type: ignore[arg-type]

    failing.executemany = executemany  # type: ignore[attr-defined]
    _fails_then_recovers(a, b, clock, failing, "none of it is stored")


def test_a_store_failure_is_over_once_consensus_stores_the_blocks(world, tmp_path) -> None:
    """Block sync's store failure (health: "block sync: cannot store block 1 ...") was
    cleared only when block sync itself stored a block again. If consensus stored the
    missing blocks first (from peers' commit frames) and the node reached the tip, block
    sync had nothing left to store and health said degraded for ever on a node that was
    fine. A commit by consensus at or past the failed height now ends it."""
    a, b, clock, _ = _pair(world, tmp_path)
    real_commit = b.ledger.commit
    failing = True

    def commit(executed, cert) -> None:
        if failing:
            raise StoreWriteError("write failed: database or disk is full")
        real_commit(executed, cert)

    b.ledger.commit = commit  # type: ignore[method-assign]

    async def main() -> None:
        nonlocal failing
        a.syncer.broadcast_status()
        await settle()
        assert await b.syncer.sync_from_peers_once() == 0
        assert b.syncer.store_error is not None
        failing = False
        for h in range(1, CHAIN_LEN + 1):  # consensus stores the blocks, as they are decided
            block, cert = a.ledger.store.load_block(h), a.ledger.store.load_cert(h)
            b.ledger.commit(b.ledger.execute(block), cert)
            b.syncer.notify_committed(h)
        await settle()

    asyncio.run(main())
    assert chain_hashes(b.ledger) == chain_hashes(a.ledger)
    assert b.syncer.store_error is None


def test_a_block_our_host_cannot_execute_is_not_the_peers_fault(world, tmp_path) -> None:
    """A state read of our own store failing while a peer's block is executed (the
    contract's read: `HostReadError`; SQLite's own error, no memory) escaped the batch:
    the sync step failed with a traceback each time and nothing said why. It is our host's
    failure, as a store write that fails: the peer is not blamed, `store_error` says it,
    and sync completes once the reads succeed again."""
    from tianfu.execution.errors import HostReadError

    a, b, clock, hub = _pair(world, tmp_path)
    real_execute = b.ledger.execute
    failing = True

    def execute(*args, **kw):
        if failing:
            raise HostReadError("reading state failed: StoreBusy: database is locked")
        return real_execute(*args, **kw)

    b.ledger.execute = execute  # type: ignore[method-assign]

    async def main() -> None:
        nonlocal failing
        a.syncer.broadcast_status()
        await settle()
        assert await b.syncer.sync_from_peers_once() == 0
        assert not b.syncer.banned_peers()
        assert b.syncer.store_error is not None and "database is locked" in b.syncer.store_error
        failing = False
        clock.now += 2.5
        await sync_until(b, CHAIN_LEN)

    asyncio.run(main())
    assert b.syncer.store_error is None and not b.syncer.banned_peers()
    assert chain_hashes(b.ledger) == chain_hashes(a.ledger)


def test_a_host_fault_after_a_blocks_write_takes_the_batch_back(world, tmp_path) -> None:
    """A block's commit failing on our host after its rows were written into the batch's
    store transaction (here the read of the validator set that commit caches: the store
    locked) was caught inside the batch, which was then committed with that block in it,
    but the block was never announced (`on_commit`: no waiter answered, no event
    published, its transactions left in the mempool), nor ever again. The batch is now
    taken back whole, as for a failed write, and every block is announced once."""
    from tianfu.store import StoreBusy

    a, b, clock, _ = _pair(world, tmp_path)
    real_carry = b.ledger._carry_governed

    class Failing:
        failing = True

    failing = Failing()

    def carry(version: int, updates: object) -> None:
        if failing.failing and version == 2:
            raise StoreBusy("read failed: database is locked")
        real_carry(version, updates)  # type: ignore[arg-type]

    b.ledger._carry_governed = carry  # type: ignore[method-assign]
    _fails_then_recovers(a, b, clock, failing, "database is locked")
