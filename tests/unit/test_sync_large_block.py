"""A syncing node takes a response holding any block a chain can certify, not only one
within the genesis's `max_block_bytes`. Governance may raise that limit (up to 15 MiB);
the syncer bounded a response by the genesis value, so after such a change a large valid
block made every honest peer's answer "malformed": the syncing node banned each in turn
and could never catch up past it (nor could a validator that fell behind)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from test_sync import Node, settle, sync_until
from test_sync_support import Consortium, Hub

GENESIS_MAX_BLOCK_BYTES = 64 << 10
BIG_ARG = 6 << 20  # one transaction of 6 MiB: a block within the raised limit


def _chain_with_a_large_block(c: Consortium, path: Path):
    ledger = c.ledger(path)
    c.grow(ledger, 1, txs_per_block=1)
    h = ledger.height + 1
    propose = c._tx(
        c.admin,
        "governance",
        "propose_set_params",
        [{"max_block_bytes": 8 << 20, "max_gas_per_tx": 30_000_000, "max_block_gas": 60_000_000}],
        h,
    )
    receipt = c.produce(ledger, [propose]).result.receipts[0]
    assert receipt.ok, receipt.error
    vote = c._tx(c.admin, "governance", "vote", [receipt.result, True], h + 1)
    voted = c.produce(ledger, [vote]).result.receipts[0]
    assert voted.ok and voted.result["status"] == "activated", voted
    c.grow(ledger, 2, txs_per_block=1)  # the new limits apply from the vote's h + 2
    big = c._tx(c.user, "governance", "list_orgs", [b"x" * BIG_ARG], ledger.height + 1)
    executed = c.produce(ledger, [big])
    assert list(executed.block.txs) == [big]  # a valid block under the raised limits
    c.grow(ledger, 1, txs_per_block=1)
    return ledger


def test_a_block_larger_than_the_genesis_limit_syncs(tmp_path: Path) -> None:
    c = Consortium(max_block_bytes=GENESIS_MAX_BLOCK_BYTES)
    a_ledger = _chain_with_a_large_block(c, tmp_path / "a")
    hub = Hub()
    a = Node(hub, a_ledger, "a")
    b = Node(hub, c.ledger(tmp_path / "b"), "b")
    hub.connect(a.id, b.id)

    async def main() -> None:
        a.syncer.broadcast_status()
        await settle()
        await sync_until(b, a_ledger.height, limit=50)

    try:
        asyncio.run(main())
    finally:
        banned = b.syncer.banned_peers()
    assert banned == {}
    assert b.ledger.height == a_ledger.height
    assert (
        b.ledger.store.load_header(b.ledger.height).hash
        == a_ledger.store.load_header(a_ledger.height).hash
    )
