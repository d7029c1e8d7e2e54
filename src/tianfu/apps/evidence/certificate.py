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

from tianfu.apps.common.certificate import ProvenRecord, RecordCertificate, RecordSpec
from tianfu.apps.evidence import NAME
from tianfu.client import VerificationError


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


SPEC = RecordSpec(
    kind="evidence",
    contract=NAME,
    prefix="dep:",
    method="deposit",
    args=((0, "file_hash", "deposits another hash"),),
    error=EvidenceCertificateError,
    certificate="an evidence certificate",
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
    chain="consortium",
    shown=(("file_sha256", "file_hash"), "title", "depositor", "org"),
    summary=("file_sha256", "height", "time_ms"),
)
KIND, CONTRACT = SPEC.kind, SPEC.contract
CERTIFICATE = RecordCertificate(SPEC, VerifiedDeposit)
deposit_key = SPEC.key
verify_certificate = CERTIFICATE.verify
