"""Unit tests: a block takes the mempool's transactions in turns across senders (the oldest of
each sender, then the second of each, ...), so a member's flood of transactions that each
use a transaction's whole gas to fail cannot fill every block before another sender's one."""

from __future__ import annotations

import pytest
from test_block_budgets import calls, deploy
from test_governance_admission import Chain

from tianfu.consensus.blockmaker import selection_after
from tianfu.crypto.keys import generate_keypair
from tianfu.mempool import Mempool
from tianfu.types import ConsensusParams, Transaction, TxBody

ALICE, BOB, CAROL = generate_keypair(), generate_keypair(), generate_keypair()


def _tx(key, nonce: int, pad: int = 0) -> Transaction:
    body = TxBody(1, "c", key.scheme, key.public_key, nonce, 100, "kv", "put", ["x" * pad, nonce])
    return Transaction(body, bytes(64))


def test_take_gives_each_sender_a_turn_before_anyone_a_second() -> None:
    pool = Mempool()
    flood = [_tx(ALICE, n) for n in range(50)]
    for tx in flood:
        pool.add(tx)
    bob, carol = [_tx(BOB, 1), _tx(BOB, 2)], [_tx(CAROL, 1)]
    for tx in (bob[0], carol[0], bob[1]):
        pool.add(tx)
    assert pool.take(3, 1 << 20) == [flood[0], bob[0], carol[0]]
    assert pool.take(6, 1 << 20) == [flood[0], bob[0], carol[0], flood[1], bob[1], flood[2]]
    assert pool.take(60, 1 << 20) == [flood[0], bob[0], carol[0], flood[1], bob[1]] + flood[2:]
    # Bytes: it stops at the first that does not fit, as before.
    size = len(flood[0].encoded())
    assert pool.take(10, 2 * size + size // 2) == [flood[0], bob[0]]
    assert pool.take(0, 1 << 20) == []
    # `skip`: as if those were removed, in that order (their senders go to the end).
    assert pool.take(3, 1 << 20, [flood[0].hash, bob[0].hash]) == [carol[0], flood[1], bob[1]]
    assert pool.take(3, 1 << 20, [bob[0].hash, flood[0].hash]) == [carol[0], bob[1], flood[1]]
    # A lane goes to the end when one of its transactions is removed (it had its turn),
    # and reopens at the end.
    pool.remove([t.hash for t in flood[:49]])
    assert pool.take(3, 1 << 20) == [bob[0], carol[0], flood[49]]
    pool.remove([flood[49].hash])
    pool.add(flood[0])
    assert pool.take(4, 1 << 20) == [bob[0], carol[0], flood[0], bob[1]]
    assert pool.evict_expired(101) and pool.take(10, 1 << 20) == []
    assert pool._lanes == {} and pool._senders == {}  # noqa: SLF001


def test_selection_after_skips_the_decided_in_turns() -> None:
    pool = Mempool()
    flood = [_tx(ALICE, n) for n in range(5)]
    for tx in [*flood, _tx(BOB, 1)]:
        pool.add(tx)
    params = ConsensusParams(max_block_txs=2)
    got, full = selection_after(pool, params, [flood[0], _tx(CAROL, 9)])
    pool.remove([flood[0].hash])
    assert (got, full) == (pool.take(2, params.max_block_bytes), True)
    got, full = selection_after(pool, ConsensusParams(max_block_txs=5), flood[:1])
    assert (got, full) == (pool.take(5, 1 << 30), False)  # the 5 left all fit


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path, ConsensusParams(max_gas_per_tx=100_000, max_block_gas=300_000))
    c.block()
    deploy(c)
    yield c
    c.close()


def test_failing_transactions_of_one_member_do_not_starve_another(chain) -> None:
    """Each of a member's transactions runs out of a transaction's gas (cheap to admit,
    a third of a block's gas to execute); another member's one transaction, sent after
    twenty of them, goes in the next block."""
    burner = chain.cas["org2"].issue("burner", "member")
    honest = chain.cas["org1"].issue("honest", "member")
    chain.time_ms += 1000
    flood = calls(chain, burner, "burn", *[999_999] * 20)
    mine = calls(chain, honest, "burn", 10)
    pool = Mempool()
    for tx in flood + mine:
        pool.add(tx)
    params = chain.ledger.params(chain.ledger.height + 1)
    built = chain.ledger.build_block(
        pool.take(params.max_block_txs, params.max_block_bytes), b"\x01" * 32
    )
    receipts = dict(zip((t.hash for t in built.block.txs), built.result.receipts, strict=True))
    assert mine[0].hash in receipts and receipts[mine[0].hash].ok
    failed = [r for h, r in receipts.items() if h != mine[0].hash]
    assert failed and all(not r.ok and r.gas_used == 100_000 for r in failed)
    assert built.result.gas_used <= 300_000
