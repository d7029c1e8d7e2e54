"""Authorship certificates: a photo's registration as one proof document, verified offline
against a genesis.

A certificate is a proof document (`tianfu.proofs.documents`, format `tianfu-proof/v1`) of
kind "photo_authorship", built like an evidence certificate: one certified block holding
the registration transaction with its successful receipt (Merkle paths to the tx and
receipts roots) and the photo record (a Merkle proof to the state root), with the chain of
validator-set changes from the genesis to that block. The record is written once and never
changed, so the certificate stays true. `verify_certificate` needs only the certificate,
the genesis and, optionally, the image: its SHA-256 must then be the registered one, and
its perceptual hash the registered pHash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tianfu.apps.common.certificate import ProvenRecord, RecordCertificate, RecordSpec
from tianfu.apps.photo_sharing import NAME, media
from tianfu.client import VerificationError
from tianfu.types import Genesis


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


SPEC = RecordSpec(
    kind="photo_authorship",
    contract=NAME,
    prefix="photo:",
    method="register",
    args=((0, "sha256", "registers another image hash"), (2, "phash", "registers another pHash")),
    error=PhotoCertificateError,
    certificate="an authorship certificate",
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
    chain="network",
    shown=(("image_sha256", "sha256"), "phash", "title", "author", "org"),
    summary=("image_sha256", "author", "height", "time_ms"),
)
CONTRACT = SPEC.contract
CERTIFICATE = RecordCertificate(SPEC, VerifiedAuthorship)


def verify_certificate(
    cert_json: dict[str, Any] | str | bytes,
    image: bytes | None,
    genesis: Genesis,
    contract: str | None = None,
) -> VerifiedAuthorship:
    """`CERTIFICATE.verify`, and, given the image, that its own pHash is the registered one
    (within `media.PHASH_TOLERANCE` bits, as a node checks an upload): a registration that
    made up its pHash hid its near-duplicates, and certifies no image."""
    proven = CERTIFICATE.verify(cert_json, image, genesis, contract)
    if image is not None:
        try:
            media.check_image(image, proven.sha256, len(image), proven.phash)
        except media.MediaError as exc:
            raise ImageMismatch(
                f"the image is not what {proven.photo_id} registered: {exc}"
            ) from None
    return proven
