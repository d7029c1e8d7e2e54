"""A transaction larger than a block (`max_block_bytes`) can never be in one. Admission
took it (its size was checked against the gas limit only), and the proposer's take stops
at the first transaction that does not fit: one sender's oversized transaction, first in
the turn order and never removed, left every proposer's every block empty, for everyone,
until it expired (and the sender sends another)."""

from __future__ import annotations

import asyncio
import time

import pytest
from test_blockmaker_pipeline import PROPOSER, _maker
from test_dynamic_params import tx_with_expiry
from test_governance_admission import Chain

from tianfu.consensus.messages import CreateProposalBlock
from tianfu.consensus.solo import SoloDriver
from tianfu.execution.refusals import TxInvalid
from tianfu.mempool import Mempool
from tianfu.types import ConsensusParams

MAX_BLOCK_BYTES = 4096  # governance allows any from 1024; max_gas_per_tx allows ~250 KB


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path, params=ConsensusParams(max_block_bytes=MAX_BLOCK_BYTES))
    c.block()
    yield c
    c.close()


def _big_and_small(chain):
    big_sender = chain.cas["org2"].issue("big", "member")
    other = chain.cas["org3"].issue("other", "member")
    expiry = chain.ledger.height + 20
    big = tx_with_expiry(chain, big_sender, expiry, "get_identity", "a" * 8000)
    small = tx_with_expiry(chain, other, expiry, "list_orgs")
    assert len(big.encoded()) > MAX_BLOCK_BYTES > len(small.encoded())
    return big, small


def test_admission_refuses_a_transaction_larger_than_a_block(chain):
    big, small = _big_and_small(chain)
    ledger = chain.ledger
    check = ledger.executor.check_tx
    now = int(time.time() * 1000)
    check(small, ledger.height + 1, now, ledger.latest.get)
    with pytest.raises(TxInvalid, match="max_block_bytes"):
        check(big, ledger.height + 1, now, ledger.latest.get)


def test_a_pending_transaction_larger_than_a_block_does_not_stop_every_block(chain, tmp_path):
    """Pending already (admitted before governance lowered `max_block_bytes`, or by a node
    of an older version): the proposer drops it, and the others' transactions go in."""
    big, small = _big_and_small(chain)
    ledger = chain.ledger
    mempool = Mempool()
    mempool.add(big)  # first in the turn order
    mempool.add(small)
    maker, _ = _maker(chain, tmp_path, mempool)
    included = []
    for _ in range(3):  # three heights, each proposal built and committed
        h = ledger.height + 1
        params = ledger.params(h)
        ready = asyncio.run(
            maker.build(
                CreateProposalBlock(h, 0),
                params,
                PROPOSER,
                asyncio.Lock(),
                lambda h=h: h,
                idle_until=0.0,
                stopping=lambda: False,
            )
        )
        executed = maker.executed.pop(ready.block_hash)
        block_txs = list(executed.block.txs)
        included += [t.hash for t in block_txs]
        chain.block(block_txs)
        mempool.remove(t.hash for t in block_txs)
    assert small.hash in included
    assert big.hash not in included
    assert mempool.get(big.hash) is None  # dropped: it can never be in a block


def test_the_solo_producer_drops_a_pending_transaction_larger_than_a_block(chain):
    """The same for `tianfu dev`'s producer, which takes under the genesis limits."""
    big, small = _big_and_small(chain)
    mempool = Mempool()
    mempool.add(big)
    mempool.add(small)
    solo = SoloDriver(
        chain.ledger,
        mempool,
        next(iter(chain.keys.values())),
        max_block_txs=5000,
        max_block_bytes=MAX_BLOCK_BYTES,
        interval_ms=0,
        clock=lambda: (chain.ledger.next_block_time() + 1000) / 1000,
    )
    start = chain.ledger.height
    for _ in range(3):
        asyncio.run(solo._produce())
    blocks = [chain.ledger.store.load_block(h) for h in range(start + 1, chain.ledger.height + 1)]
    included = [t.hash for b in blocks for t in b.txs]
    assert included == [small.hash]
    assert len(mempool) == 0
