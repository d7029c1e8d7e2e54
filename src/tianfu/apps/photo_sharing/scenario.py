"""End-to-end photo_sharing flow: register and upload, near-duplicate flagged to both
authors, uploads that do not match refused, licences granted and transferred, an
infringement report and its answer, an authorship certificate verified offline.

Every forbidden call is refused with a clear error and changes nothing; every refused
upload gets a 4xx and stores nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import secrets

import msgspec

from tianfu.apps.common.scenario import Scenario, ScenarioFailed, check, handles
from tianfu.apps.env import AppEnv
from tianfu.apps.photo_sharing import BLOB_PREFIX, NAME, demo, media, source
from tianfu.apps.photo_sharing.certificate import ImageMismatch, PhotoCertificateError
from tianfu.apps.photo_sharing.sdk import PhotoSharing, licence_terms
from tianfu.client import ApiError, Client

MEMBERS = tuple(demo.MEMBERS)


def _upload_refused(client: Client, sha256: str, data: bytes, status: int, needle: str) -> None:
    try:
        client.request("PUT", f"{BLOB_PREFIX}/{sha256}", content=data)
    except ApiError as exc:
        check(exc.status == status, f"upload answered {exc.status}, expected {status}: {exc}")
        check(needle in exc.message, f"upload refusal {exc.message!r} lacks {needle!r}")
    else:
        raise ScenarioFailed(f"an upload that should be refused ({needle}) was stored")
    try:
        client.request("GET", f"{BLOB_PREFIX}/{sha256}")
    except ApiError as exc:
        check(exc.status == 404, "a refused upload is not served")
    else:
        raise ScenarioFailed("a refused upload was stored")


def _cert_refused(cert: object, image: bytes, genesis: object, exc: type[Exception]) -> None:
    try:
        PhotoSharing.verify(cert, image, genesis)  # type: ignore[arg-type]
    except exc:
        return
    raise ScenarioFailed("a tampered certificate verified")


def fresh_picture(app: PhotoSharing) -> tuple[int, media.PreparedPhoto]:
    """A drawn picture near no registered one, whose retouched copy is clearly near it."""
    for _ in range(50):
        seed = secrets.randbelow(1 << 20) + 100
        photo = media.prepare(demo.original(seed))
        copy = media.prepare(demo.retouched(seed))
        if media.distance(photo.phash, copy.phash) <= 6 and not app.similar(photo.phash):
            return seed, photo
    raise ScenarioFailed("no fresh picture found in 50 draws")


def run_scenario(env: AppEnv) -> None:
    run = Scenario(env, [(NAME, source)], MEMBERS, suffix="-s")
    p, refused = run.people, run.refused
    ps = handles(env, p, PhotoSharing)
    author, agency, publisher = ps["photographer"], ps["agency"], ps["publisher"]
    seed, photo = fresh_picture(author)
    image = photo.image

    # Register, then upload: the node keeps the bytes that match the registration.
    photo_id = author.register(image, "Dusk over the Jinjiang", licence_terms("cc-by"))
    record = author.get(photo_id)
    check(record["sha256"] == photo.sha256 and record["phash"] == photo.phash, "hashes kept")
    check(record["author"] == p["photographer"].info.address, "the signer is the author")
    check(author.download(photo.sha256) == image, "the node serves the image it checked")
    check(author.download(photo.thumb_sha256) == photo.thumbnail, "and its thumbnail")
    check(author.flags(photo_id) == [], "a new picture is near no earlier one")

    # A retouched copy registered by another member is flagged to both authors.
    copy_bytes = demo.retouched(seed)
    copy_id = agency.register(copy_bytes, "Night city", licence_terms())
    copy_record = agency.get(copy_id)
    check(copy_record["near"] and copy_record["near"][0][0] == photo_id, "flagged at once")
    later = [f for f in author.flags(photo_id) if f["photo"] == copy_id]
    check(later and later[0]["role"] == "later", "the earlier author sees the later copy")
    check(later[0]["author"] == p["agency"].info.address, "with its author")
    earlier = [f for f in agency.flags(copy_id) if f["photo"] == photo_id]
    check(earlier and earlier[0]["role"] == "earlier", "the later author sees the original")
    check(later[0]["distance"] == media.distance(photo.phash, copy_record["phash"]), "distance")
    found = author.similar(photo.phash)
    check(any(f["photo"] == copy_id for f in found), "near-duplicates are found by pHash")

    # Uploads that are not the registered bytes are refused (4xx) and not stored.
    other = media.prepare(demo.original(seed + 1))
    _upload_refused(author.client, other.sha256, other.image, 404, "no committed")
    _upload_refused(author.client, photo.sha256[::-1], image, 422, "SHA-256")
    bogus = author.register_prepared(
        dataclasses.replace(other, phash=f"{int(other.phash, 16) ^ 0xFFFF:016x}"),
        "a photo with a false perceptual hash",
    )
    check(bogus.startswith("PH"), "the chain records the claim")
    _upload_refused(author.client, other.sha256, other.image, 422, "perceptual hash")
    _upload_refused(author.client, other.thumb_sha256, other.thumbnail, 422, "perceptual hash")

    # Forbidden calls change nothing.
    run.watch(lambda: (author.get(photo_id), author.licences(photo_id), author.reports(copy_id)))
    refused(lambda: agency.register(image, "again", upload=False), "already registered")
    refused(
        lambda: author.register_prepared(
            dataclasses.replace(photo, sha256="ab" * 31), "short hash"
        ),
        "sha256",
    )
    refused(
        lambda: author.register(
            demo.original(seed + 2), "x", {"kind": "free-for-all"}, upload=False
        ),
        "licence kind",
    )
    publisher_addr = p["publisher"].info.address
    refused(lambda: agency.grant_licence(photo_id, publisher_addr, "print"), "only the author")
    refused(lambda: author.report_infringement(copy_id, photo_id, "reversed"), "earlier")

    # Licences: granted by the author, transferred by the holder if transferable.
    lid = author.grant_licence(photo_id, publisher_addr, "web use, 2025", transferable=True)
    personal = author.grant_licence(photo_id, publisher_addr, "one print", transferable=False)
    agency_addr = p["agency"].info.address
    refused(lambda: agency.transfer_licence(lid, agency_addr), "only the holder")
    refused(lambda: publisher.transfer_licence(personal, agency_addr), "not transferable")
    refused(lambda: publisher.transfer_licence(lid, agency_addr), "accept it first")
    check(not [x for x in agency.held_licences(publisher_addr)], "not listed before acceptance")
    refused(lambda: agency.accept_licence(lid), "only the holder")
    publisher.accept_licence(lid)
    publisher.accept_licence(personal)
    check(publisher.transfer_licence(lid, agency_addr) == 1, "transferred")
    agency.accept_licence(lid)
    check(author.licence(lid)["holder"] == agency_addr, "the new holder holds it")
    history = author.licence_history(lid)
    check(history[0]["from"] == publisher_addr and history[0]["to"] == agency_addr, "history")
    check(lid in [x["id"] for x in agency.held_licences(agency_addr)], "held by the agency")
    check(lid not in [x["id"] for x in agency.held_licences(publisher_addr)], "not the publisher")

    # An infringement report links the two registrations; the copy's author answers once.
    rid = author.report_infringement(photo_id, copy_id, "retouched copy on the agency site")
    rep = author.report(rid)
    check(rep["original_author"] == record["author"], "the report names both authors")
    check(rep["copy_author"] == agency_addr, "the copy's author")
    check(rid in [r["id"] for r in agency.reports(copy_id)], "the copy's author sees it")
    refused(lambda: author.respond_infringement(rid, "me?"), "only the author of")
    agency.respond_infringement(rid, "we bought it from a stock site; checking")
    refused(lambda: agency.respond_infringement(rid, "twice"), "already answered")

    # Authorship proven offline against the genesis alone.
    genesis = author.client.genesis or author.client.fetch_genesis()
    cert = json.loads(json.dumps(author.certificate(photo_id)))
    proven = PhotoSharing.verify(cert, image, genesis)
    check(proven.photo_id == photo_id and proven.author == record["author"], "proven author")
    check(proven.time_ms == record["time_ms"] and proven.phash == photo.phash, "proven time")
    _cert_refused(cert, copy_bytes, genesis, ImageMismatch)
    for field in ("author", "image_sha256", "time_ms", "title"):
        bad = copy.deepcopy(cert)
        bad[field] = bad[field] + 1 if isinstance(bad[field], int) else "0" * 40
        _cert_refused(bad, image, genesis, PhotoCertificateError)
    raw = bytearray(bytes.fromhex(cert["raw"]))
    raw[len(raw) // 2] ^= 1
    _cert_refused({**cert, "raw": raw.hex()}, image, genesis, PhotoCertificateError)
    elsewhere = msgspec.structs.replace(genesis, chain_id=genesis.chain_id + "-other")
    _cert_refused(cert, image, elsewhere, PhotoCertificateError)
    check(author.get(photo_id) == record, "the photo record never changes")
