"""Unit tests: every pending transaction that fits in a block alone reaches a block, however
busy the senders whose turns come before it (the take stops at the first that does not
fit, so the first in the take must change from block to block)."""

from __future__ import annotations

from tianfu.consensus.blockmaker import selection_after
from tianfu.crypto.keys import generate_keypair
from tianfu.mempool import Mempool
from tianfu.types import ConsensusParams, Transaction, TxBody

ALICE, BOB, CAROL = generate_keypair(), generate_keypair(), generate_keypair()


def _tx(key, nonce: int, pad: int = 0) -> Transaction:
    body = TxBody(1, "c", key.scheme, key.public_key, nonce, 10_000, "kv", "put", ["x" * pad])
    return Transaction(body, bytes(64))


def test_a_large_transaction_behind_a_busy_sender_is_taken() -> None:
    """Alice always has a transaction pending (one more arrives each block); Bob's one
    large transaction fits in a block alone, not beside one of Alice's; Carol's small one
    came after Bob's. In turns with the senders in the order their lanes opened, every take
    was [Alice's oldest] and stopped at Bob's: Bob's and Carol's never went in (until they
    expired), nor anything of a sender after Bob. In arrival order Bob's was the oldest by
    the second block."""
    pool = Mempool()
    alice = [_tx(ALICE, n, 100) for n in range(40)]
    pool.add(alice[0])
    pool.add(alice[1])
    big = _tx(BOB, 1, 3000)
    carol = _tx(CAROL, 1, 100)
    pool.add(big)
    pool.add(carol)
    limit = len(big.encoded()) + len(alice[0].encoded()) // 2  # Bob's alone, not beside
    taken: list[Transaction] = []
    for block in range(6):
        txs = pool.take(100, limit)
        assert txs, block
        taken += txs
        pool.remove(t.hash for t in txs)  # committed
        pool.add(alice[block + 2])  # and Alice's next arrives
    assert big in taken and carol in taken
    # Alice's own order was kept all along.
    mine = [t for t in taken if t.body.signer == ALICE.public_key]
    assert mine == alice[: len(mine)]


def test_selection_after_is_the_take_after_the_removal() -> None:
    """`selection_after` (a block built ahead, ADR 0030) selects what `take` gives once the
    decided block's transactions are removed, in the same order, for any decided block."""
    pool = Mempool()
    a = [_tx(ALICE, n) for n in range(4)]
    b = [_tx(BOB, n) for n in range(3)]
    c = [_tx(CAROL, n) for n in range(2)]
    for tx in (a[0], b[0], c[0], a[1], b[1], c[1], a[2], b[2], a[3]):
        pool.add(tx)
    params = ConsensusParams(max_block_txs=4)
    for decided in ([a[0], b[0]], [b[0], a[0]], [c[0], c[1]], [a[1], b[0], a[0]], [a[3]]):
        got, full = selection_after(pool, params, decided)
        copy = Mempool()
        for tx in pool.take(100, 1 << 30):  # (nothing removed yet: the same lanes)
            copy.add(tx)
        copy.remove(t.hash for t in decided)
        assert got == copy.take(4, params.max_block_bytes), decided
        assert full == (len(copy) > 4)
