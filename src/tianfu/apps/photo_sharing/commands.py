"""`tianfu app photo_sharing ...`: register and upload photos, near-duplicate flags, licences,
infringement reports, authorship certificates and their offline verification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tianfu.apps.common import commands as cmd
from tianfu.apps.common import inputs
from tianfu.apps.common.certificate_commands import certificate_commands
from tianfu.apps.common.commands import (
    CommandTable,
    arg,
    custom,
    opt,
    record_view,
    record_with,
    table_view,
    tx,
)
from tianfu.apps.common.display import Display, Fields, Output, Rows, Text
from tianfu.apps.common.errors import BadInput
from tianfu.apps.common.params import address, local_file
from tianfu.apps.photo_sharing import media
from tianfu.apps.photo_sharing.certificate import (
    CONTRACT,
    SPEC,
    VerifiedAuthorship,
    verify_certificate,
)
from tianfu.apps.photo_sharing.sdk import PhotoSharing, licence_terms, read_image

LICENCE_HELP = (
    "Licence kind: all-rights-reserved, cc-by, cc-by-sa, cc-by-nc, cc0 or custom "
    "(then say the terms with --terms)."
)


def _prepared(path: Path) -> media.PreparedPhoto:
    """A local image file decoded and hashed (a file that is no usable image: exit 2)."""
    try:
        return media.prepare(read_image(path))
    except media.MediaError as exc:
        raise BadInput(f"{path}: {exc}") from None


def register(session: cmd.Session, v: dict[str, Any]) -> Output:
    photo = _prepared(v["file"])
    app = PhotoSharing(session.client(signed=True))
    photo_id = app.register_prepared(photo, v["title"], licence_terms(v["licence"], v["terms"]))
    uploaded = [] if v["no_upload"] else app.upload(photo)
    record = app.get(photo_id)
    doc = {"photo": record, "uploaded": uploaded, "flags": app.flags(photo_id)}
    lines: list[Display] = [Fields(f"photo {photo_id} registered", record)]
    for flag in doc["flags"]:
        lines.append(
            Text(
                f"near-duplicate of {flag['photo']} by {flag['author']} "
                f"(distance {flag['distance']} bits): flagged to both authors"
            )
        )
    if v["no_upload"]:
        lines.append(Text(f"not uploaded: run `tianfu app photo_sharing upload {v['file']}`"))
    return Output(doc, tuple(lines))


def upload(session: cmd.Session, v: dict[str, Any]) -> Output:
    photo = _prepared(v["file"])
    answers = PhotoSharing(session.client()).upload(photo)
    rows = [{k: str(a.get(k, "")) for k in ("kind", "photo", "sha256", "stored")} for a in answers]
    return Output(answers, (Rows("uploaded", ("kind", "photo", "sha256", "stored"), rows),))


show = record_with(PhotoSharing, "photo_id", "photo", "flags", "licences", "reports")


def find(session: cmd.Session, v: dict[str, Any]) -> Output:
    photo = _prepared(v["file"])
    app = PhotoSharing(session.client())
    exact = app.by_sha256(photo.sha256)
    similar = app.similar(photo.phash)
    doc = {"sha256": photo.sha256, "phash": photo.phash, "exact": exact, "similar": similar}
    lines: list[Display] = [
        Text(
            f"registered as {exact['id']} by {exact['author']}"
            if exact
            else "this exact image is not registered"
        )
    ]
    lines.append(Rows("near-duplicates (closest first)", ("photo", "distance"), similar))
    return Output(doc, tuple(lines))


def phash(session: cmd.Session, v: dict[str, Any]) -> Output:
    photo = _prepared(v["file"])
    doc = {
        "sha256": photo.sha256,
        "size": photo.size,
        "phash": photo.phash,
        "width": photo.width,
        "height": photo.height,
        "thumb_sha256": photo.thumb_sha256,
        "thumb_size": photo.thumb_size,
    }
    return Output(doc, (Fields(str(v["file"]), doc),))


def download(session: cmd.Session, v: dict[str, Any]) -> Output:
    data = PhotoSharing(session.client()).download(inputs.hash_or_file(v["sha256"]))
    v["out"].write_bytes(data)
    doc = {"sha256": v["sha256"], "size": len(data), "out": str(v["out"])}
    return Output(doc, (Text(f"{len(data)} bytes written to {v['out']} (SHA-256 checked)"),))


def _registered(proven: VerifiedAuthorship) -> str:
    return f"(SHA-256 {proven.sha256}) was registered as {proven.photo_id} by {proven.author}"


def usage(session: cmd.Session, v: dict[str, Any]) -> Output:
    who = v["address"]
    usage = PhotoSharing(session.client()).usage(inputs.address(who))
    return Output(usage, (Fields(f"storage used by {who}", usage),))


PHOTO = arg("photo_id", help="A photo id (PH000001).")
TO = address("to", "The licensee: an address (40 hex) or an identity directory.", option=True)
COMMANDS = CommandTable(
    contract=CONTRACT,
    help="Photo sharing: register photos (hash, perceptual hash, thumbnail), near-duplicate "
    "flags, licences, infringement reports, authorship certificates verified offline.",
    notes=(
        "The image is hashed on this machine; the chain records its SHA-256, pHash, sizes "
        "and licence; the node keeps the bytes once they match (ADR 0026).",
    ),
    commands=(
        custom(
            "register",
            "Register an image (JPEG, PNG or WebP, at most 1,000,000 bytes) and upload it.",
            register,
            local_file("The image file."),
            opt("title", help="What the photo shows."),
            opt("licence", help=LICENCE_HELP, default="all-rights-reserved"),
            opt("terms", help="Licence terms in words.", default=""),
            opt("no_upload", bool, "Register only; upload later.", default=False),
            uses=("url", "identity", "json"),
        ),
        custom(
            "upload",
            "Upload a registered image and its thumbnail to the node at --url.",
            upload,
            local_file("The registered image file."),
        ),
        custom("show", "Show a photo with its flags, licences and reports.", show, PHOTO),
        custom(
            "find",
            "Look an image up: its exact registration and near-duplicates.",
            find,
            local_file("An image file."),
        ),
        custom(
            "phash",
            "Print an image's SHA-256, perceptual hash and thumbnail hash (no node needed).",
            phash,
            local_file("An image file."),
            uses=("json",),
        ),
        table_view(
            "flags",
            "List a photo's near-duplicate flags (earlier and later registrations).",
            PHOTO,
            columns=("photo", "role", "distance", "author", "height"),
            title="near-duplicates of {photo_id}",
        ),
        tx(
            "grant",
            "Grant a licence on your photo (author only); the result is the licence id.",
            PHOTO,
            TO,
            opt("terms", help="The licence terms."),
            opt("transferable", bool, default=False, flag="--transferable/--personal"),
            method="grant_licence",
        ),
        tx(
            "accept",
            "Accept a licence granted or transferred to you (it enters your list).",
            arg("licence_id", help="A licence id (LI000001)."),
            method="accept_licence",
        ),
        tx(
            "transfer",
            "Transfer a transferable licence you hold and accepted.",
            arg("licence_id", help="A licence id (LI000001)."),
            TO,
            method="transfer_licence",
        ),
        table_view(
            "licences",
            "List the licences granted on a photo.",
            PHOTO,
            columns=("id", "holder", "transferable", "transfers", "terms"),
            title="licences of {photo_id}",
        ),
        table_view(
            "licence-history",
            "List the transfers of a licence.",
            arg("licence_id"),
            columns=("from", "to", "height", "time_ms"),
            title="transfers of {licence_id}",
        ),
        tx(
            "report",
            "Report that photo COPY infringes the earlier photo ORIGINAL.",
            arg("original_id", help="The earlier photo."),
            arg("copy_id", help="The later photo."),
            opt("statement", help="What was copied, and where it appears."),
            method="report_infringement",
        ),
        tx(
            "respond",
            "Answer an infringement report naming your photo (once).",
            arg("report_id", help="A report id (IR000001)."),
            opt("response", help="Your answer."),
            method="respond_infringement",
        ),
        table_view(
            "reports",
            "List the infringement reports naming a photo.",
            PHOTO,
            columns=("id", "original", "copy", "distance", "reporter", "statement"),
            title="infringement reports naming {photo_id}",
        ),
        custom(
            "usage",
            "Show the storage an account used against its quota.",
            usage,
            arg("address", help="An address (40 hex) or an identity directory."),
        ),
        record_view("params", "Show the contract's parameters (threshold, quota, limits)."),
        custom(
            "download",
            "Download an image or thumbnail by its SHA-256 (or a file's) from the node.",
            download,
            arg("sha256", help="The blob's SHA-256 (64 hex)."),
            opt("out", Path, "Where to write the bytes."),
        ),
        *certificate_commands(SPEC, PHOTO, read_image, verify_certificate, _registered),
    ),
)
