"""Unit tests: a signature checked at admission spares the check only for the very
transaction admitted, not for another one of the same hash (the hash covers the body
alone) carrying other signature bytes."""

from __future__ import annotations

import pytest
from tests.unit.kvchain import KvChain

from tianfu.ledger.ledger import InvalidBlock
from tianfu.types import Transaction


def _forged(tx: Transaction) -> Transaction:
    """`tx`'s body under a signature that is not its signer's (one byte changed)."""
    sig = bytearray(tx.signature)
    sig[10] ^= 0xFF
    forged = Transaction(tx.body, bytes(sig))
    assert forged.hash == tx.hash and forged.encoded() != tx.encoded()
    return forged


def test_a_block_with_an_admitted_transaction_under_a_forged_signature_is_invalid(
    tmp_path,
) -> None:
    """Every honest validator admitted T (gossip); a Byzantine proposer puts T's body
    under garbage signature bytes in its block. The hash is T's, so the admission memo said
    "signature checked" and the validators executed it unchecked: the block was valid
    to them, and stored a transaction no one signed, which a node syncing from the genesis
    (no memo) refuses: it could never catch up."""
    chain = KvChain(tmp_path, auto_commit=False)
    try:
        tx = chain.tx("put", "k", 1)
        chain.service.admit(tx)
        assert tx.hash in chain.service.verified
        ledger = chain.app.ledger  # (the memo below: what the node hands its ledger)
        proposer = chain.app.driver.key.public_key
        built = ledger.build_block([_forged(tx)], proposer, lambda h: True)
        assert len(built.block.txs) == 1  # (made as a Byzantine proposer would)
        with pytest.raises(InvalidBlock):  # what a node without the memo says
            ledger.execute(built.block)
        with pytest.raises(InvalidBlock):
            ledger.execute(built.block, chain.app.driver.verified)
    finally:
        chain.close()


def test_a_proposer_drops_an_admitted_transaction_under_a_forged_signature(tmp_path) -> None:
    """The proposer's own build from the same memo: the forged copy is dropped (its
    signature checked), the admitted one goes in the block."""
    chain = KvChain(tmp_path, auto_commit=False)
    try:
        tx = chain.tx("put", "k", 1)
        chain.service.admit(tx)
        ledger = chain.app.ledger  # (the memo below: what the node hands its ledger)
        proposer = chain.app.driver.key.public_key
        built = ledger.build_block([_forged(tx)], proposer, chain.app.driver.verified)
        assert list(built.block.txs) == []
        assert [h for h, _ in built.result.dropped] == [tx.hash]
        built = ledger.build_block([tx], proposer, chain.app.driver.verified)
        assert list(built.block.txs) == [tx]
    finally:
        chain.close()
