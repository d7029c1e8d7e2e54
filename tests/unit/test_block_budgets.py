"""Per-block budgets (ConsensusParams.max_block_gas / max_block_receipt_bytes): the proposer
stops adding transactions before a block goes over them (the rest wait for the next block),
drops one that can never fit, and every validator refuses a block over them."""

import msgspec
import pytest
from test_dynamic_params import tx_with_expiry, vote_params
from test_governance_admission import Chain

from tianfu.codec import CodecError, decode, encode
from tianfu.contracts.reviewed_admission import PARAM_BOUNDS, PARAM_KEYS
from tianfu.execution.executor import BlockOverLimit
from tianfu.execution.limits import MAX_RESULT_BYTES
from tianfu.identity import OrgCA
from tianfu.ledger import InvalidBlock
from tianfu.types import ConsensusParams, Genesis, OrgConfig, Validator
from tianfu.types.genesis import MAX_TX_RECEIPT_BYTES

SOURCE = (
    "def burn(ctx, n):\n"
    "    x = 0\n"
    "    for i in range(n):\n"
    "        x = x + i\n"
    "    return x\n"
    "\n"
    "def blob(ctx, n):\n"
    "    return 'x' * n\n"
)


def deploy(chain):
    pid = chain.ok(chain.admins["org1"], "propose_contract", "load", SOURCE)
    chain.pass_proposal(pid)


@pytest.fixture
def make_chain(tmp_path):
    made = []

    def make(**params):
        directory = tmp_path / str(len(made))
        directory.mkdir()
        c = Chain(directory, ConsensusParams(**params))
        made.append(c)
        c.block()
        deploy(c)
        return c

    yield make
    for c in made:
        c.close()


def calls(chain, user, method, *ns):
    expiry = chain.ledger.height + 20
    return [tx_with_expiry(chain, user, expiry, method, n, contract="load") for n in ns]


def relaxed(ledger, **changes):
    """Make `ledger` (as a faulty proposer) build under laxer limits than the chain's."""
    real = ledger.params

    def params(height):
        return msgspec.structs.replace(real(height), **changes)

    ledger.params = params


def test_proposer_stops_at_the_gas_budget_and_validators_refuse_more(make_chain):
    chain = make_chain(max_gas_per_tx=100_000, max_block_gas=100_000)
    user = chain.cas["org2"].issue("burner", "member")
    chain.time_ms += 1000
    # Size the loops so that each takes about 40% of the block's gas (whatever a step costs).
    probe = chain.ledger.build_block(calls(chain, user, "burn", 1_000, 9_000), b"")
    g1, g2 = (r.gas_used for r in probe.result.receipts)
    n = 1_000 + int((40_000 - g1) * 8_000 / (g2 - g1))
    txs = calls(chain, user, "burn", n, n, n, n)
    built = chain.ledger.build_block(txs, b"\x01" * 32)
    used = [r.gas_used for r in built.result.receipts]
    assert all(30_000 < g < 50_000 for g in used), used
    assert all(r.ok for r in built.result.receipts)
    assert 0 < len(built.block.txs) < len(txs)
    assert sum(used) <= 100_000 < sum(used) + used[0]  # the next would have gone over
    assert built.result.gas_used == sum(used)
    assert built.result.deferred == len(txs) - len(built.block.txs)
    assert built.result.dropped == []  # left out, not dropped: they stay pending
    # The replica agrees with the block it got (same roots).
    assert chain.replica.execute(built.block).batch.root == built.block.header.state_root
    # A faulty proposer packing them all is refused by every validator.
    relaxed(chain.ledger, max_block_gas=10**9)
    over = chain.ledger.build_block(txs, b"\x01" * 32)
    assert len(over.block.txs) == len(txs)
    with pytest.raises(InvalidBlock, match="limits"):
        chain.replica.execute(over.block)
    # The executor alone raises the typed error.
    with pytest.raises(BlockOverLimit):
        chain.replica.executor.execute_block(
            chain.replica.height + 1,
            chain.time_ms,
            list(over.block.txs),
            chain.replica.latest.get,
            chain.replica.store.has_tx,
            params=chain.replica.params(chain.replica.height + 1),
        )


def test_proposer_stops_at_the_receipt_budget_and_the_rest_go_in_the_next_block(make_chain):
    chain = make_chain(max_block_receipt_bytes=MAX_TX_RECEIPT_BYTES)
    user = chain.cas["org2"].issue("writer", "member")
    # Five fit, a sixth does not (each result stays under the 256 KiB return-value cap).
    size = MAX_TX_RECEIPT_BYTES // 5 - 1000
    assert size < MAX_RESULT_BYTES
    txs = calls(chain, user, "blob", size, size, size, size, size, size, 10)
    receipts = chain.block(txs)
    assert len(receipts) == 5 and all(r.ok for r in receipts)
    assert sum(len(encode(r)) for r in receipts) <= MAX_TX_RECEIPT_BYTES
    # The two left out go in the next block, in order.
    rest = chain.block(txs[5:])
    assert [r.ok for r in rest] == [True, True] and rest[1].result == "x" * 10
    # A faulty proposer's block over the budget is refused by validators.
    more = calls(chain, user, "blob", size, size, size, size, size, size)
    relaxed(chain.ledger, max_block_receipt_bytes=64 << 20)
    chain.time_ms += 1000
    over = chain.ledger.build_block(more, b"\x01" * 32)
    assert len(over.block.txs) == 6
    with pytest.raises(InvalidBlock, match="receipt"):
        chain.replica.execute(over.block)


def test_a_transaction_that_can_never_fit_is_dropped_or_fails_never_retried(make_chain):
    chain = make_chain(max_block_receipt_bytes=MAX_TX_RECEIPT_BYTES)
    user = chain.cas["org2"].issue("huge", "member")
    txs = calls(chain, user, "blob", 10, MAX_TX_RECEIPT_BYTES + 100, 20)
    chain.time_ms += 1000
    built = chain.ledger.build_block(txs, b"\x01" * 32)
    hashes = [t.hash for t in built.block.txs]
    dropped = dict(built.result.dropped)
    if txs[1].hash in dropped:  # refused: the proposer removes it from its mempool
        assert "exceeds a block's limits" in dropped[txs[1].hash]
        assert hashes == [txs[0].hash, txs[2].hash]
    else:  # or execution capped it into a failed receipt
        assert hashes == [t.hash for t in txs]
        assert not built.result.receipts[1].ok
    assert built.result.deferred == 0
    assert chain.replica.execute(built.block).batch.root == built.block.header.state_root


def test_block_params_are_voted_like_the_others_and_validated(make_chain):
    chain = make_chain()
    admin = chain.admins["org1"]
    assert {"max_block_gas", "max_block_receipt_bytes"} <= PARAM_KEYS
    assert PARAM_BOUNDS["max_block_receipt_bytes"][0] == MAX_TX_RECEIPT_BYTES
    for bad in (
        {"max_block_gas": 999_999},  # below max_gas_per_tx (1,000,000)
        {"max_gas_per_tx": 2_000_000, "max_block_gas": 1_500_000},
        {"max_gas_per_tx": 200_000_000},  # above the current block gas budget
        {"max_block_receipt_bytes": MAX_TX_RECEIPT_BYTES - 1},
        {"max_block_receipt_bytes": 1 << 40},
        {"max_block_gas": "lots"},
    ):
        r = chain.call(admin, "propose_set_params", bad)
        assert not r.ok, bad
    h = vote_params(chain, {"max_block_gas": 5_000_000, "max_block_receipt_bytes": 2 << 20})
    assert chain.ledger.params(h + 1).max_block_gas == ConsensusParams().max_block_gas
    for ledger in (chain.ledger, chain.replica):
        new = ledger.params(h + 2)
        assert (new.max_block_gas, new.max_block_receipt_bytes) == (5_000_000, 2 << 20)
    assert chain.query("get_params")["max_block_gas"] == 5_000_000


def test_genesis_checks_the_budgets_and_refuses_a_genesis_without_them():
    with pytest.raises(ValueError, match="max_block_gas"):
        ConsensusParams(max_gas_per_tx=2_000_000, max_block_gas=1_000_000).validate()
    with pytest.raises(ValueError, match="max_block_receipt_bytes"):
        ConsensusParams(max_block_receipt_bytes=1000).validate()
    ConsensusParams().validate()

    # One canonical encoding: a genesis whose parameters lack the budgets (an older
    # format) is refused, not read with defaults under a second accepted byte form.
    ca = OrgCA.create("org1")
    node = ca.issue("node1", "node").keypair
    orgs = [OrgConfig("org1", ca.cert_der)]
    validators = [Validator("v1", "org1", node.scheme, node.public_key, 1)]
    g = Genesis(1, "g", 1, orgs, validators, ConsensusParams(max_block_txs=7))
    assert decode(encode(g), Genesis) == g
    raw = msgspec.msgpack.decode(encode(g))
    raw[5] = raw[5][:-2]
    with pytest.raises(CodecError, match="non-canonical"):
        decode(msgspec.msgpack.encode(raw), Genesis)


def test_max_block_bytes_cannot_be_voted_past_a_proposal_frame():
    from tianfu.consensus.messages import MAX_BLOCK_BYTES

    lo, hi = PARAM_BOUNDS["max_block_bytes"]
    assert hi + (1 << 20) <= MAX_BLOCK_BYTES  # room for the header and the array framing


def test_a_transaction_whose_bytes_need_more_than_max_gas_per_tx_is_never_in_a_block(make_chain):
    """The byte gas rule (`tx_gas`) holds for blocks, not only at admission: a proposer
    drops such a transaction, and a validator refuses a block holding one. Before, a
    proposer that skipped admission put it in a block with a failed receipt capped at
    `max_gas_per_tx`, so its bytes past what that gas buys were free and every validator
    accepted the block."""
    from tianfu.execution.costs import GAS_BASE, TX_FREE_BYTES, TX_GAS_PER_BYTE, tx_gas

    limit = 100_000
    chain = make_chain(max_gas_per_tx=limit, max_block_gas=4 * limit)
    user = chain.cas["org2"].issue("bulky", "member")
    n = 4 * ((limit - GAS_BASE) // TX_GAS_PER_BYTE + TX_FREE_BYTES)  # four times what it buys
    txs = calls(chain, user, "blob", 10, "x" * n, 20)
    assert tx_gas(len(txs[1].body.cert), len(txs[1].encoded())) > limit
    chain.time_ms += 1000
    built = chain.ledger.build_block(txs, b"\x01" * 32)
    assert [t.hash for t in built.block.txs] == [txs[0].hash, txs[2].hash]
    assert "before its call" in dict(built.result.dropped)[txs[1].hash]
    # A faulty proposer that lets it in: every validator refuses the block.
    relaxed(chain.ledger, max_gas_per_tx=10**7, max_block_gas=10**8)
    over = chain.ledger.build_block(txs, b"\x01" * 32)
    assert txs[1].hash in [t.hash for t in over.block.txs]
    with pytest.raises(InvalidBlock, match="before its call"):
        chain.replica.execute(over.block)
