"""The dev chain's single validator (`SoloDriver`) took its block limits from the genesis
for ever: after a vote lowered `max_block_txs` or `max_block_bytes`, it still made blocks
up to the genesis limits, which every other ledger refuses (`InvalidBlock`): the chain no
longer re-executed from its genesis (`replay_chain`, an auditor, a node syncing it). It
now takes the limits of each height from the ledger, as the consensus driver does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tianfu.ledger.replay import replay_chain
from tianfu.testing.appchain import AppChain


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[AppChain]:
    (tmp_path / "app").mkdir()
    c = AppChain(tmp_path / "app")
    yield c
    c.close()


def test_blocks_follow_the_voted_limits_and_replay(chain: AppChain, tmp_path: Path) -> None:
    changes = {"max_block_txs": 2}
    r = chain.call(chain.admin("org1"), "governance", "propose_set_params", changes)
    for org in ("org1", "org2", "org3"):
        v = chain.call(chain.admin(org), "governance", "vote", r.result, True)
    assert v.result["status"] == "activated", v.result
    for _ in range(2):  # in force from two blocks on
        chain.service.block_committed(chain.driver.produce_one([]))
    txs = [chain.sign(chain.admin("org1"), "governance", "list_orgs", i) for i in range(5)]
    for tx in txs:
        assert chain.mempool.add(tx)
    start = chain.ledger.height
    while len(chain.mempool):
        asyncio.run(chain.driver._produce())
    for h in range(start + 1, chain.ledger.height + 1):
        block = chain.ledger.store.load_block(h)
        assert block is not None
        assert len(block.txs) <= chain.ledger.params(h).max_block_txs
    replayed = replay_chain(chain.ledger.store, chain.genesis, tmp_path / "replay.db")
    try:
        assert replayed.height == chain.ledger.height
    finally:
        replayed.store.close()


def test_a_pending_transaction_larger_than_a_block_is_dropped(chain: AppChain) -> None:
    r = chain.call(
        chain.admin("org1"), "governance", "propose_set_params", {"max_block_bytes": 1024}
    )
    for org in ("org1", "org2", "org3"):
        v = chain.call(chain.admin(org), "governance", "vote", r.result, True)
    assert v.result["status"] == "activated", v.result
    big = chain.sign(chain.identity("org2", "someone"), "governance", "list_orgs", "x" * 1500)
    small = chain.sign(chain.admin("org1"), "governance", "list_orgs")
    assert chain.mempool.add(big) and chain.mempool.add(small)  # admitted before the vote
    for _ in range(2):  # in force from two blocks on
        chain.service.block_committed(chain.driver.produce_one([]))
    start = chain.ledger.height
    for _ in range(4):  # (it made empty blocks, the big one first in turn, until it expired)
        if not len(chain.mempool):
            break
        asyncio.run(chain.driver._produce())
    assert not len(chain.mempool)
    included = [
        t.hash
        for h in range(start + 1, chain.ledger.height + 1)
        for t in chain.ledger.store.load_block(h).txs
    ]
    assert included == [small.hash]
