"""A block a node builds keeps to the limits of its height, whatever limits the builder was
handed: `Ledger.execute` refuses a block over `max_block_txs` or `max_block_bytes` of its
height (governance state of height - 2), and the builder took its candidates under the
limits it was given. The solo producer (`SoloDriver`, `tianfu dev`) is given the
genesis's once, at start: after governance lowered either limit it built and stored
blocks that every other node — one syncing from the genesis, a replay, a verifier —
refuses."""

from __future__ import annotations

import pytest
from test_dynamic_params import tx_with_expiry, vote_params
from test_governance_admission import Chain

from tianfu.consensus.solo import SoloDriver
from tianfu.mempool import Mempool

PROPOSER = b"\x01" * 32


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    c.block()
    yield c
    c.close()


def _lowered(chain, changes):
    """Governance sets `changes`; the chain is brought to the height they apply at."""
    h = vote_params(chain, changes)
    chain.block()
    assert chain.ledger.height == h + 1  # the next block is h + 2: the new limits
    for k, v in changes.items():
        assert getattr(chain.ledger.params(h + 2), k) == v


def _txs(chain, n):
    user = chain.cas["org2"].issue("user", "member")
    return [tx_with_expiry(chain, user, chain.ledger.height + 20, "list_orgs") for _ in range(n)]


def test_a_built_block_holds_at_most_max_block_txs_of_its_height(chain):
    _lowered(chain, {"max_block_txs": 2})
    txs = _txs(chain, 3)
    built = chain.ledger.build_block(txs, PROPOSER)
    assert [t.hash for t in built.block.txs] == [t.hash for t in txs[:2]]
    assert built.result.deferred == 1 and built.result.dropped == []
    chain.replica.execute(built.block)  # another node finds it valid


def test_a_built_block_holds_at_most_max_block_bytes_of_its_height(chain):
    txs = _txs(chain, 3)
    size = len(txs[0].encoded())
    _lowered(chain, {"max_block_bytes": 2 * size + size // 2})
    built = chain.ledger.build_block(txs, PROPOSER)
    assert [t.hash for t in built.block.txs] == [t.hash for t in txs[:2]]
    assert built.result.deferred == 1
    chain.replica.execute(built.block)


def test_the_solo_producer_after_governance_lowered_max_block_txs(chain):
    """The solo producer, given the genesis limits as `tianfu dev` gives them, stores only
    blocks another node accepts."""
    _lowered(chain, {"max_block_txs": 2})
    key = next(iter(chain.keys.values()))
    params = chain.genesis.params
    mempool = Mempool()
    solo = SoloDriver(
        chain.ledger,
        mempool,
        key,
        max_block_txs=params.max_block_txs,
        max_block_bytes=params.max_block_bytes,
        interval_ms=0,
        clock=lambda: (chain.ledger.next_block_time() + 1000) / 1000,
    )
    txs = _txs(chain, 3)
    executed, done = solo.produce(txs)
    block = executed.block
    chain.replica.execute(block)  # what a node syncing from the genesis does
    assert [t.hash for t in block.txs] == [t.hash for t in txs[:2]]
    assert done == [t.hash for t in txs[:2]]  # the third stays pending
