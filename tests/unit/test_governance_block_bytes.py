"""A vote may lower `max_block_bytes` down to 1,024 (its bound) while transactions of a few
kilobytes stay admissible (their gas fits `max_gas_per_tx`). A transaction larger than
`max_block_bytes` can never be in a block: mempool admission refuses it with a clear error,
and a proposer drops one that is already pending (admitted under larger blocks) instead of
stopping every block's selection at it. Before, the mempool admitted it and the take
stopped at it while it was first in turn: every block came out empty until it expired, and
its sender, never removed, stayed first in turn with the next one."""

import asyncio

import pytest
from test_dynamic_params import make_driver, tx_with_expiry, vote_params
from test_governance_admission import Chain

from tianfu.codec import decode
from tianfu.consensus.messages import CreateProposalBlock
from tianfu.consensus.privval import FilePrivValidator
from tianfu.execution.executor import TxInvalid
from tianfu.mempool import Mempool
from tianfu.types import Block

SMALL_BLOCKS = {"max_block_bytes": 1024}


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    c.block()
    yield c
    c.close()


def test_admission_refuses_a_transaction_larger_than_a_block(chain):
    h = vote_params(chain, SMALL_BLOCKS)
    chain.block()  # the next block is h + 2: the new parameters apply
    next_h = chain.ledger.height + 1
    assert chain.ledger.params(next_h).max_block_bytes == 1024
    user = chain.cas["org2"].issue("someone", "member")
    big = tx_with_expiry(chain, user, h + 10, "list_orgs", "x" * 1500)
    assert len(big.encoded()) > 1024
    with pytest.raises(TxInvalid, match="max_block_bytes"):
        chain.ledger.executor.check_tx(big, next_h, chain.time_ms, chain.ledger.latest.get)
    small = tx_with_expiry(chain, chain.admins["org1"], h + 10, "list_orgs")
    assert len(small.encoded()) <= 1024
    chain.ledger.executor.check_tx(small, next_h, chain.time_ms, chain.ledger.latest.get)


def test_a_pending_transaction_larger_than_a_block_is_dropped_not_blocking(chain, tmp_path):
    user = chain.cas["org2"].issue("someone", "member")
    h = vote_params(chain, SMALL_BLOCKS)
    big = tx_with_expiry(chain, user, h + 50, "list_orgs", "x" * 1500)
    small = tx_with_expiry(chain, chain.admins["org1"], h + 50, "list_orgs")
    mempool = Mempool()
    assert mempool.add(big) and mempool.add(small)  # admitted while blocks were larger
    chain.block()  # now deciding h + 2, with blocks of at most 1,024 bytes
    node = chain.cas["org1"].issue("org1-node", "node")
    FilePrivValidator.initialise(node.keypair, tmp_path / "pv.json")
    privval = FilePrivValidator(node.keypair, tmp_path / "pv.json")
    driver = make_driver(chain, tmp_path, mempool=mempool, privval=privval)
    posted = []
    driver._post = posted.append

    async def build(round_):
        driver._ledger_lock = asyncio.Lock()
        driver.core = driver._default_core(h + 2, chain.ledger.validator_set(h + 2))
        await driver._build(CreateProposalBlock(h + 2, round_))

    included = []
    for round_ in range(3):
        asyncio.run(build(round_))
        assert posted and posted[-1].height == h + 2
        included = [t.hash for t in decode(posted[-1].block, Block).txs]
        if included:
            break
    assert included == [small.hash]
    assert mempool.get(big.hash) is None  # dropped: it can never be in a block
