"""Block sync when our own store cannot take a block (disk full): the peer is not blamed, the
failure is reported (`store_error`), nothing is fetched again until `store_retry_s` has
passed, and sync completes once the store takes writes again."""

from __future__ import annotations

import asyncio

from test_sync import CHAIN_LEN, Node, settle, sync_until
from test_sync_support import Hub, chain_hashes

from tianfu.store import StoreWriteError
from tianfu.sync import SyncConfig


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_block_our_store_refuses_is_not_the_peers_fault(world, tmp_path) -> None:
    c, a_ledger = world
    hub = Hub()
    clock = Clock()
    a = Node(hub, a_ledger, "a")
    b = Node(hub, c.ledger(tmp_path / "b"), "b", clock=clock, config=SyncConfig(store_retry_s=2.0))
    hub.connect(a.id, b.id)
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
    assert chain_hashes(b.ledger) == chain_hashes(a_ledger)
