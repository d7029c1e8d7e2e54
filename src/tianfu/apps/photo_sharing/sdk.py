"""SDK for photo_sharing: prepare a photo (hashes, thumbnail), register it, upload its bytes,
licences, infringement reports, and authorship certificates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tianfu.apps.common.sdk import ContractSDK, view
from tianfu.apps.photo_sharing import BLOB_PREFIX, media
from tianfu.apps.photo_sharing.certificate import CERTIFICATE, CONTRACT, verify_certificate
from tianfu.client import Client, ClientError


class BlobUnavailable(ClientError):
    """A node holds no bytes for that hash, or sent bytes that are not them."""


def read_image(source: bytes | Path) -> bytes:
    """The bytes of an image file (refused unread when over the size limit) or the bytes given."""
    if isinstance(source, bytes):
        return source
    size = source.stat().st_size
    if size > media.MAX_IMAGE_BYTES:
        raise media.ImageTooLarge(f"{source} has {size} bytes, more than {media.MAX_IMAGE_BYTES}")
    return source.read_bytes()


def licence_terms(kind: str = "all-rights-reserved", terms: str = "") -> dict[str, Any]:
    return {"kind": kind, "terms": terms}


class PhotoSharing(ContractSDK):
    """Operations and queries of the `photo_sharing` contract, and the node's photo routes."""

    CONTRACT = CONTRACT

    # -- photos ---------------------------------------------------------------------------------
    def register_prepared(
        self, photo: media.PreparedPhoto, title: str, licence: dict[str, Any] | None = None
    ) -> str:
        """Register a prepared photo's hashes and sizes; returns the photo id."""
        return str(
            self._invoke(
                "register",
                photo.sha256,
                photo.size,
                photo.phash,
                photo.thumb_sha256,
                photo.thumb_size,
                title,
                dict(licence or licence_terms()),
            )
        )

    def register(
        self,
        image: bytes | Path,
        title: str,
        licence: dict[str, Any] | None = None,
        *,
        upload: bool = True,
    ) -> str:
        """Hash the image locally (pHash, thumbnail), register it, then upload its image and
        thumbnail to the node (unless `upload` is False). Returns the photo id."""
        photo = media.prepare(read_image(image))
        photo_id = self.register_prepared(photo, title, licence)
        if upload:
            self.upload(photo)
        return photo_id

    def upload(self, photo: media.PreparedPhoto, client: Client | None = None) -> list[Any]:
        """Upload a registered photo's image and thumbnail to this client's node (or to
        `client`'s: another node keeping a copy). Returns the node's answers."""
        via = client or self.client
        return [
            via.request("PUT", f"{BLOB_PREFIX}/{sha}", content=data).json()
            for sha, data in ((photo.sha256, photo.image), (photo.thumb_sha256, photo.thumbnail))
        ]

    def download(self, sha256: str) -> bytes:
        """The bytes of an image or thumbnail from the node, checked against their hash."""
        data = self.client.request("GET", f"{BLOB_PREFIX}/{sha256}").content
        if media.sha256_hex(data) != sha256:
            raise BlobUnavailable(f"the node sent bytes that are not {sha256}")
        return data

    # -- licences and reports -------------------------------------------------------------------
    def grant_licence(
        self, photo_id: str, licensee: str, terms: str, transferable: bool = False
    ) -> str:
        return str(self._invoke("grant_licence", photo_id, licensee, terms, transferable))

    def accept_licence(self, licence_id: str) -> str:
        """Accept a licence granted or transferred to this account (it enters its list)."""
        return str(self._invoke("accept_licence", licence_id))

    def transfer_licence(self, licence_id: str, to: str) -> int:
        return int(self._invoke("transfer_licence", licence_id, to))

    def report_infringement(self, original_id: str, copy_id: str, statement: str) -> str:
        return str(self._invoke("report_infringement", original_id, copy_id, statement))

    def respond_infringement(self, report_id: str, response: str) -> str:
        return str(self._invoke("respond_infringement", report_id, response))

    # -- queries --------------------------------------------------------------------------------
    get = view("photo_id")
    by_sha256 = view("sha256")
    similar = view("phash", returns=list)
    flags = view("photo_id", returns=list)
    flag_count = view("photo_id", returns=int)
    flags_page = view("photo_id", returns=list, start=1, limit=200)
    licence = view("licence_id")
    licences = view("photo_id", returns=list)
    held_licences = view("address", returns=list)
    licence_history = view("licence_id", returns=list)
    report = view("report_id")
    reports = view("photo_id", returns=list)
    report_count = view("photo_id", returns=int)
    reports_page = view("photo_id", returns=list, start=1, limit=25)
    usage = view("address", returns=dict)
    params = view(returns=dict)
    count = view(returns=int)

    # -- certificates ---------------------------------------------------------------------------
    def certificate(self, photo_id: str) -> dict[str, Any]:
        """The authorship certificate of a photo (verified against the client's genesis)."""
        return CERTIFICATE.export(self.client, photo_id, self.contract)

    verify = staticmethod(verify_certificate)
