"""Authorship certificates: a photo's registration as one proof document, verified offline
against a genesis.

A certificate is a proof document (`tianfu.proofs.documents`, format `tianfu-proof/v1`) of
kind "photo_authorship", built like an evidence certificate: one certified block holding
the registration transaction with its successful receipt (Merkle paths to the tx and
receipts roots) and the photo record (a Merkle proof to the state root), with the chain of
validator-set changes from the genesis to that block. The record is written once and never
changed, so the certificate stays true. `verify_certificate` needs only the certificate,
the genesis and, optionally, the image: its SHA-256 must then be the registered one.
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

KIND = "photo_authorship"
CONTRACT = "photo_sharing"
RECORD_PREFIX = "photo:"


class PhotoCertificateError(VerificationError):
    """An authorship certificate that does not verify (tampered, malformed or wrong genesis)."""


class ImageMismatch(PhotoCertificateError):
    """The image's SHA-256 is not the one the certificate proves was registered."""


@dataclass(frozen=True)
class VerifiedAuthorship:
    """What a verified authorship certificate proves."""

    photo_id: str
    sha256: str
    phash: str
    title: str
    licence: dict[str, Any]
    author: str
    org: str
    name: str
    chain_id: str
    height: int
    time_ms: int
    tx_hash: str
    block_hash: str
    state_root: str
    validator_changes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def photo_key(photo_id: str) -> str:
    return RECORD_PREFIX + photo_id


def _registration(v: VerifiedBundle) -> tuple[ProvenBlock, str, str, dict[str, Any]]:
    """The proven block, contract, photo id and record of an authorship bundle (checked)."""
    if len(v.blocks) != 1:
        raise PhotoCertificateError("an authorship certificate proves exactly one block")
    b = v.blocks[0]
    if len(b.txs) != 1 or len(b.entries) != 1:
        raise PhotoCertificateError(
            "an authorship certificate proves one transaction and one record"
        )
    contract, key = split_state_key(b.entries[0].key)
    if not key.startswith(RECORD_PREFIX):
        raise PhotoCertificateError("the state proof is not a photo record")
    photo_id = key[len(RECORD_PREFIX) :]
    record = b.entries[0].value
    p = b.txs[0]
    body = p.tx.body
    header = b.header
    if not isinstance(record, dict):
        raise PhotoCertificateError("the proven photo record is not a record")
    if body.contract != contract or body.method != "register" or len(body.args) < 3:
        raise PhotoCertificateError("the proven transaction is not a photo registration")
    checks = [
        (p.receipt.ok and p.receipt.result == photo_id, "the registration transaction failed"),
        (record.get("id") == photo_id, "the proven record is another photo"),
        (record.get("tx") == p.tx.hash.hex(), "the record was not written by this transaction"),
        (body.args[0] == record.get("sha256"), "the transaction registers another image hash"),
        (body.args[2] == record.get("phash"), "the transaction registers another pHash"),
        (record.get("height") == header.height, "the record's height is not the block's"),
        (record.get("time_ms") == header.time_ms, "the record's time is not the block's"),
        (
            record.get("author") == address_of(body.scheme, body.signer),
            "the transaction's signer is not the author",
        ),
        (
            all(isinstance(record.get(f), str) for f in ("sha256", "phash", "title", "org")),
            "the record lacks its hashes, title or organisation",
        ),
    ]
    for ok, why in checks:
        if not ok:
            raise PhotoCertificateError(why)
    return b, contract, photo_id, record


def _check(v: VerifiedBundle) -> None:
    _registration(v)


def _render(v: VerifiedBundle, _genesis: Genesis) -> dict[str, Any]:
    b, contract, photo_id, record = _registration(v)
    header = b.header
    return {
        "contract": contract,
        "photo_id": photo_id,
        "image_sha256": record["sha256"],
        "phash": record["phash"],
        "title": record["title"],
        "author": record["author"],
        "org": record["org"],
        "height": header.height,
        "time_ms": header.time_ms,
        "block_hash": header.hash.hex(),
        "tx_hash": b.txs[0].tx.hash.hex(),
        "photo": readable(record),
    }


register(Kind(KIND, _check, _render))


def export_certificate(client: Client, photo_id: str, contract: str = CONTRACT) -> dict[str, Any]:
    """Collect the proofs of photo `photo_id` from a node into a certificate (a dict).

    The node is not trusted: the certificate is made only of what verifies against the
    client's trusted genesis."""
    return export_record_certificate(
        client, contract, photo_id, photo_key(photo_id), KIND, PhotoCertificateError, "photo"
    )


def load_certificate(data: bytes | str) -> dict[str, Any]:
    try:
        return load_document(data)
    except VerificationError as exc:
        raise PhotoCertificateError(str(exc)) from None


def verify_certificate(
    cert_json: dict[str, Any] | str | bytes, image: bytes | None, genesis: Genesis
) -> VerifiedAuthorship:
    """Verify an authorship certificate offline against `genesis` alone; return what it proves.

    Checks the validator chain from the genesis to the block, the block's commit
    certificate, the registration transaction and its successful receipt in the block, the
    photo record in the block's state written by exactly that transaction at that height
    and time by its signer, that the readable fields are exactly the proven data, and, when
    `image` is given, that its SHA-256 is the registered one. Raises
    `PhotoCertificateError` (`ImageMismatch` for the image)."""
    try:
        verified: VerifiedDocument = verify_document(cert_json, genesis, kind=KIND)
    except PhotoCertificateError:
        raise
    except VerificationError as exc:
        raise PhotoCertificateError(str(exc)) from None
    b, _contract, photo_id, record = _registration(verified.verified)
    header = b.header
    if image is not None:
        actual = hashlib.sha256(image).hexdigest()
        if actual != record["sha256"]:
            raise ImageMismatch(
                f"the image's SHA-256 {actual} does not match the registered hash "
                f"{record['sha256']}: the image was changed or is another image"
            )
    licence = record.get("licence")
    return VerifiedAuthorship(
        photo_id=photo_id,
        sha256=record["sha256"],
        phash=record["phash"],
        title=record["title"],
        licence=dict(licence) if isinstance(licence, dict) else {},
        author=record["author"],
        org=record["org"],
        name=str(record.get("name", "")),
        chain_id=header.chain_id,
        height=header.height,
        time_ms=header.time_ms,
        tx_hash=verified.readable["tx_hash"],
        block_hash=verified.readable["block_hash"],
        state_root=header.state_root.hex(),
        validator_changes=len(verified.verified.changes) - 1,
    )
