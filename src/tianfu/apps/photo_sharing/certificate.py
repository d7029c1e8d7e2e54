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

KIND = "photo_authorship"
CONTRACT = "photo_sharing"
RECORD_PREFIX = "photo:"


class PhotoCertificateError(VerificationError):
    """An authorship certificate that does not verify (tampered, malformed or wrong genesis)."""


class ImageMismatch(PhotoCertificateError):
    """The image's SHA-256 is not the one the certificate proves was registered."""


@dataclass(frozen=True)
class VerifiedAuthorship(ProvenRecord):
    """What a verified authorship certificate proves."""

    photo_id: str
    sha256: str
    phash: str
    title: str
    licence: dict[str, Any]
    author: str


def _arg_checks(record: dict[str, Any], args: list[Any]) -> list[tuple[bool, str]]:
    return [
        (args[0] == record.get("sha256"), "the transaction registers another image hash"),
        (args[2] == record.get("phash"), "the transaction registers another pHash"),
    ]


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "image_sha256": record["sha256"],
        "phash": record["phash"],
        "title": record["title"],
        "author": record["author"],
        "org": record["org"],
    }


SPEC = RecordSpec(
    kind=KIND,
    contract=CONTRACT,
    prefix=RECORD_PREFIX,
    method="register",
    min_args=3,
    error=PhotoCertificateError,
    certificate="an authorship certificate",
    title="authorship certificate",
    proves="photo authorship",
    record="photo",
    transaction="registration",
    content="image",
    content_hash="sha256",
    mismatch=ImageMismatch,
    written="registered",
    written_by="a photo registration",
    signer="author",
    text_fields=("sha256", "phash", "title", "org"),
    lacks="its hashes, title or organisation",
    arg_checks=_arg_checks,
    id_field="photo_id",
    chain="network",
    shown=_shown,
    summary=("image_sha256", "author", "height", "time_ms"),
)


def photo_key(photo_id: str) -> str:
    return SPEC.key(photo_id)


register_record_kind(SPEC)


def export_certificate(client: Client, photo_id: str, contract: str = CONTRACT) -> dict[str, Any]:
    """Collect the proofs of photo `photo_id` from a node into a certificate (a dict).

    The node is not trusted: the certificate is made only of what verifies against the
    client's trusted genesis."""
    return export_record_certificate(client, SPEC, photo_id, contract)


def load_certificate(data: bytes | str) -> dict[str, Any]:
    return load_record_certificate(data, SPEC)


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
    photo_id, record, proven = verify_record_certificate(cert_json, image, genesis, SPEC)
    licence = record.get("licence")
    return VerifiedAuthorship(
        photo_id=photo_id,
        sha256=record["sha256"],
        phash=record["phash"],
        title=record["title"],
        licence=dict(licence) if isinstance(licence, dict) else {},
        author=record["author"],
        **proven,
    )
