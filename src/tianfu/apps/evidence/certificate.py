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

from dataclasses import dataclass
from typing import Any

from tianfu.apps.common.certificate import (
    ProvenRecord,
    RecordSpec,
    export_record_certificate,
    load_record_certificate,
    register_record_kind,
    verify_record_certificate,
)
from tianfu.client import Client, VerificationError
from tianfu.types import Genesis

KIND = "evidence"
CONTRACT = "evidence"
RECORD_PREFIX = "dep:"


class EvidenceCertificateError(VerificationError):
    """An evidence certificate that does not verify (tampered, malformed or wrong genesis)."""


class FileMismatch(EvidenceCertificateError):
    """The file's SHA-256 is not the hash the certificate proves was deposited."""


@dataclass(frozen=True)
class VerifiedDeposit(ProvenRecord):
    """What a verified certificate proves."""

    deposit_id: str
    file_sha256: str
    title: str
    meta: dict[str, Any]
    depositor: str


def _arg_checks(record: dict[str, Any], args: list[Any]) -> list[tuple[bool, str]]:
    return [(args[0] == record.get("file_hash"), "the transaction deposits another hash")]


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "file_sha256": record["file_hash"],
        "title": record["title"],
        "depositor": record["depositor"],
        "org": record["org"],
    }


SPEC = RecordSpec(
    kind=KIND,
    contract=CONTRACT,
    prefix=RECORD_PREFIX,
    method="deposit",
    min_args=1,
    error=EvidenceCertificateError,
    certificate="an evidence certificate",
    title="evidence certificate",
    proves="evidence deposit",
    record="deposit",
    transaction="deposit",
    content="file",
    content_hash="file_hash",
    mismatch=FileMismatch,
    written="deposited",
    written_by="an evidence deposit",
    signer="depositor",
    text_fields=("file_hash", "title", "org"),
    lacks="its file hash, title or organisation",
    arg_checks=_arg_checks,
    id_field="deposit_id",
    chain="consortium",
    shown=_shown,
    summary=("file_sha256", "height", "time_ms"),
)


def deposit_key(deposit_id: str) -> str:
    return SPEC.key(deposit_id)


register_record_kind(SPEC)


def export_certificate(client: Client, deposit_id: str, contract: str = CONTRACT) -> dict[str, Any]:
    """Collect the proofs of deposit `deposit_id` from a node into a certificate (a dict).

    The node is not trusted: the certificate is made only of what verifies against the
    client's trusted genesis (fetched and trusted with a warning by the CLI if none is given).
    """
    return export_record_certificate(client, SPEC, deposit_id, contract)


def load_certificate(data: bytes | str) -> dict[str, Any]:
    return load_record_certificate(data, SPEC)


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
    deposit_id, record, proven = verify_record_certificate(cert_json, file_bytes, genesis, SPEC)
    meta = record.get("meta")
    return VerifiedDeposit(
        deposit_id=deposit_id,
        file_sha256=record["file_hash"],
        title=record["title"],
        meta=dict(meta) if isinstance(meta, dict) else {},
        depositor=record["depositor"],
        **proven,
    )
