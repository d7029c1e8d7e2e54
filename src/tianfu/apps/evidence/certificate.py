"""Evidence certificates: a deposit's proofs as one document, verified offline against a genesis.

A certificate is a proof document (`tianfu.proofs.documents`) of kind "evidence": one
certified block holding the deposit transaction with its receipt (Merkle paths to the tx
and receipts roots) and the deposit record (a Merkle proof to the state root), plus the
chain of every validator-set change from the genesis to that block, so that it verifies
against the genesis alone however the membership changed since. Its readable fields are
rendered again from the proven data by the verifier and must match exactly.
`verify_certificate` needs only the certificate, the file and the consortium's genesis.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from tianfu.apps.common.certificate import export_record_certificate
from tianfu.client import Client, VerificationError
from tianfu.execution.contract_api import address_of
from tianfu.proofs.documents import (
    Kind,
    VerifiedDocument,
    load_document,
    register,
    split_state_key,
    verify_document,
)
from tianfu.proofs.values import readable
from tianfu.proofs.verify import ProvenBlock, VerifiedBundle
from tianfu.types import Genesis

KIND = "evidence"
CONTRACT = "evidence"
RECORD_PREFIX = "dep:"


class EvidenceCertificateError(VerificationError):
    """An evidence certificate that does not verify (tampered, malformed or wrong genesis)."""


class FileMismatch(EvidenceCertificateError):
    """The file's SHA-256 is not the hash the certificate proves was deposited."""


@dataclass(frozen=True)
class VerifiedDeposit:
    """What a verified certificate proves."""

    deposit_id: str
    file_sha256: str
    title: str
    meta: dict[str, Any]
    depositor: str
    org: str
    name: str
    chain_id: str
    height: int
    time_ms: int
    tx_hash: str
    block_hash: str
    state_root: str
    validator_changes: int = 0  # proven membership changes between the genesis and the block

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def deposit_key(deposit_id: str) -> str:
    return RECORD_PREFIX + deposit_id


def _deposit(v: VerifiedBundle) -> tuple[ProvenBlock, str, str, dict[str, Any]]:
    """The proven block, contract, deposit id and record of an evidence bundle (checked)."""
    if len(v.blocks) != 1:
        raise EvidenceCertificateError("an evidence certificate proves exactly one block")
    b = v.blocks[0]
    if len(b.txs) != 1 or len(b.entries) != 1:
        raise EvidenceCertificateError(
            "an evidence certificate proves one transaction and one record"
        )
    contract, key = split_state_key(b.entries[0].key)
    if not key.startswith(RECORD_PREFIX):
        raise EvidenceCertificateError("the state proof is not a deposit record")
    deposit_id = key[len(RECORD_PREFIX) :]
    record = b.entries[0].value
    p = b.txs[0]
    body = p.tx.body
    header = b.header
    if not isinstance(record, dict):
        raise EvidenceCertificateError("the proven deposit record is not a record")
    if body.contract != contract or body.method != "deposit" or not body.args:
        raise EvidenceCertificateError("the proven transaction is not an evidence deposit")
    checks = [
        (p.receipt.ok and p.receipt.result == deposit_id, "the deposit transaction failed"),
        (record.get("id") == deposit_id, "the proven record is another deposit"),
        (record.get("tx") == p.tx.hash.hex(), "the record was not written by this transaction"),
        (body.args[0] == record.get("file_hash"), "the transaction deposits another hash"),
        (record.get("height") == header.height, "the record's height is not the block's"),
        (record.get("time_ms") == header.time_ms, "the record's time is not the block's"),
        (
            record.get("depositor") == address_of(body.scheme, body.signer),
            "the transaction's signer is not the depositor",
        ),
        (
            all(isinstance(record.get(f), str) for f in ("file_hash", "title", "org")),
            "the record lacks its file hash, title or organisation",
        ),
    ]
    for ok, why in checks:
        if not ok:
            raise EvidenceCertificateError(why)
    return b, contract, deposit_id, record


def _check(v: VerifiedBundle) -> None:
    _deposit(v)


def _render(v: VerifiedBundle, _genesis: Genesis) -> dict[str, Any]:
    b, contract, deposit_id, record = _deposit(v)
    header = b.header
    return {
        "contract": contract,
        "deposit_id": deposit_id,
        "file_sha256": record["file_hash"],
        "title": record["title"],
        "depositor": record["depositor"],
        "org": record["org"],
        "height": header.height,
        "time_ms": header.time_ms,
        "block_hash": header.hash.hex(),
        "tx_hash": b.txs[0].tx.hash.hex(),
        "deposit": readable(record),
    }


register(Kind(KIND, _check, _render))


def export_certificate(client: Client, deposit_id: str, contract: str = CONTRACT) -> dict[str, Any]:
    """Collect the proofs of deposit `deposit_id` from a node into a certificate (a dict).

    The node is not trusted: the certificate is made only of what verifies against the
    client's trusted genesis (fetched and trusted with a warning by the CLI if none is given).
    """
    return export_record_certificate(
        client,
        contract,
        deposit_id,
        deposit_key(deposit_id),
        KIND,
        EvidenceCertificateError,
        "deposit",
    )


def load_certificate(data: bytes | str) -> dict[str, Any]:
    try:
        return load_document(data)
    except VerificationError as exc:
        raise EvidenceCertificateError(str(exc)) from None


def verify_certificate(
    cert_json: dict[str, Any] | str | bytes, file_bytes: bytes | None, genesis: Genesis
) -> VerifiedDeposit:
    """Verify an evidence certificate offline against `genesis` alone; return what it proves.

    Checks: every link of the validator chain from the genesis to the block; the commit
    certificate of the block by the set of its height; the deposit transaction and its
    successful receipt are in that block (Merkle paths to the tx and receipts roots); the
    deposit record is in that block's state (Merkle proof to the state root) and was
    written by exactly that transaction at that height and time; the document's readable
    fields are exactly the proven data; and, when `file_bytes` is given, the file's SHA-256
    equals the deposited hash. Raises `EvidenceCertificateError` (`FileMismatch` for the file).
    """
    try:
        verified: VerifiedDocument = verify_document(cert_json, genesis, kind=KIND)
    except EvidenceCertificateError:
        raise
    except VerificationError as exc:
        raise EvidenceCertificateError(str(exc)) from None
    b, _contract, deposit_id, record = _deposit(verified.verified)
    header = b.header
    if file_bytes is not None:
        actual = hashlib.sha256(file_bytes).hexdigest()
        if actual != record["file_hash"]:
            raise FileMismatch(
                f"the file's SHA-256 {actual} does not match the deposited hash "
                f"{record['file_hash']}: the file was changed or is another file"
            )
    meta = record.get("meta")
    return VerifiedDeposit(
        deposit_id=deposit_id,
        file_sha256=record["file_hash"],
        title=record["title"],
        meta=dict(meta) if isinstance(meta, dict) else {},
        depositor=record["depositor"],
        org=record["org"],
        name=str(record.get("name", "")),
        chain_id=header.chain_id,
        height=header.height,
        time_ms=header.time_ms,
        tx_hash=verified.readable["tx_hash"],  # computed with the chain's hash
        block_hash=verified.readable["block_hash"],
        state_root=header.state_root.hex(),
        validator_changes=len(verified.verified.changes) - 1,
    )
