"""Verifying a `ProofBundle`: the validator chain, then every proven block, tx and entry.

Pure: no I/O. Returns what was proven, decoded from the proven bytes only; raises
`TrustError` for anything that does not verify. Every byte of the bundle is checked:
each part decodes only from its canonical bytes, every signature listed must be valid,
every path and proof must lead to the certified roots.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tianfu.codec import CodecError, decode
from tianfu.crypto import current_suite
from tianfu.crypto.merkle import verify_merkle_proof
from tianfu.proofs.formats import (
    MAX_BUNDLE_BYTES,
    BlockProof,
    EntryProof,
    ProofBundle,
    TxInclusion,
)
from tianfu.proofs.valchain import (
    Change,
    TrustedHistory,
    TrustError,
    check_part_size,
    decode_part,
    decode_target,
    prepare_link,
)
from tianfu.proofs.values import check_receipt, decode_value_strict
from tianfu.state import StateProof, check_proof
from tianfu.types import BlockHeader, CommitCertificate, Receipt, Transaction, ValidatorSet


@dataclass(frozen=True)
class ProvenTx:
    index: int
    tx: Transaction
    receipt: Receipt
    tx_bytes: bytes
    receipt_bytes: bytes


@dataclass(frozen=True)
class ProvenEntry:
    """A state entry proven in a block's state: its value (None: absent) and history."""

    key: bytes  # the raw state key
    value_bytes: bytes | None
    value: Any
    height: int | None  # the height of its last change (None: never written)
    prev: int | None  # the height of the change before (None: none)

    @property
    def present(self) -> bool:
        return self.value_bytes is not None


@dataclass(frozen=True)
class ProvenBlock:
    header: BlockHeader
    valset: ValidatorSet  # the set that signed it
    txs: list[ProvenTx]
    entries: list[ProvenEntry]


@dataclass(frozen=True)
class VerifiedBundle:
    """What a bundle proves: the validator history it walked and the proven blocks."""

    bundle: ProofBundle
    changes: list[Change]  # the trust anchor's set, then each proven change
    blocks: list[ProvenBlock]


def decode_bundle(data: bytes) -> ProofBundle:
    try:
        return decode(data, ProofBundle, max_size=MAX_BUNDLE_BYTES)
    except CodecError as exc:
        raise TrustError(f"malformed proof bundle: {exc}") from None


def verify_bundle(bundle: ProofBundle, history: TrustedHistory) -> VerifiedBundle:
    """Apply the bundle's validator chain to `history` (which it extends), then verify each
    proven block against it.

    Two passes: first everything is decoded and every Merkle proof and path is checked
    against its (not yet trusted) header; then, in order, the links and the blocks'
    commit certificates are checked against the validator history. A bundle is accepted
    only if both pass; the cheap pass first makes malformed input cheap to refuse.
    """
    with history.suite.use():  # the chain's hash for every Merkle proof and path
        links = [prepare_link(link, history.genesis_set) for link in bundle.validators]
        blocks = [_prepare_block(bp) for bp in bundle.blocks]
        history.apply_all(links)
        for header, cert, _txs, _entries in blocks:
            history.check_header(header, cert, history.set_at(header.height))
        proven = [
            ProvenBlock(header, history.set_at(header.height), txs, entries)
            for header, _cert, txs, entries in blocks
        ]
    return VerifiedBundle(bundle, list(history.changes), proven)


def _prepare_block(
    bp: BlockProof,
) -> tuple[BlockHeader, CommitCertificate, list[ProvenTx], list[ProvenEntry]]:
    header, cert = decode_target(bp.block)
    txs: list[ProvenTx] = []
    last = -1
    for inc in bp.txs:
        if inc.index <= last:
            raise TrustError("a block's proven transactions must ascend by index")
        last = inc.index
        txs.append(_verify_tx(inc, header))
    keys: set[bytes] = set()
    entries: list[ProvenEntry] = []
    for ep in bp.entries:
        if ep.key in keys:
            raise TrustError("a block proves the same state entry twice")
        keys.add(ep.key)
        entries.append(_verify_entry(ep, header))
    return header, cert, txs, entries


def check_tx_scheme(tx: Transaction) -> None:
    """A proven transaction is one the chain admitted, so its signer's scheme is one the
    chain's suite accepts (transactions.md): its id's hash and its signer's address
    (`u8(scheme)`, crypto.md#addresses) are defined for those schemes only."""
    if tx.body.scheme not in current_suite().schemes:
        raise TrustError(
            f"a proven transaction's scheme {tx.body.scheme} is not one the chain's suite accepts"
        )


def _verify_tx(inc: TxInclusion, header: BlockHeader) -> ProvenTx:
    tx: Transaction = decode_part(inc.tx, Transaction, "transaction")
    check_tx_scheme(tx)
    receipt: Receipt = decode_part(inc.receipt, Receipt, "receipt")
    try:
        check_receipt(receipt)
    except ValueError as exc:
        raise TrustError(str(exc)) from None
    n = header.tx_count
    if not 0 <= inc.index < n:
        raise TrustError(f"transaction index {inc.index} is outside block {header.height}")
    if not verify_merkle_proof(header.tx_root, inc.tx, inc.index, n, list(inc.tx_path)):
        raise TrustError(f"the transaction is not at index {inc.index} of block {header.height}")
    if not verify_merkle_proof(
        header.receipts_root, inc.receipt, inc.index, n, list(inc.receipt_path)
    ):
        raise TrustError(f"the receipt is not at index {inc.index} of block {header.height}")
    return ProvenTx(inc.index, tx, receipt, inc.tx, inc.receipt)


def _verify_entry(ep: EntryProof, header: BlockHeader) -> ProvenEntry:
    proof: StateProof = decode_part(ep.proof, StateProof, "state proof")
    entry = check_proof(header.state_root, ep.key, proof)
    if entry is None or not entry.holds(ep.value):
        raise TrustError(f"a state proof does not match the state of block {header.height}")
    if entry.height is not None and entry.height > header.height:
        raise TrustError(f"a state entry of block {header.height} claims a later change")
    value: Any = None
    if ep.value is not None:
        check_part_size(ep.value, "a proven state value")
        try:
            value = decode_value_strict(ep.value)
        except ValueError as exc:
            raise TrustError(str(exc)) from None
    return ProvenEntry(ep.key, ep.value, value, entry.height, entry.prev)
