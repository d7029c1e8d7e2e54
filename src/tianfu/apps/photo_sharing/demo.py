"""Demo data for photo_sharing: small pictures drawn here (no image files in the repository),
an original, a retouched copy of it that gets flagged, a licence and an infringement report."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw, ImageEnhance

from tianfu.apps.common.scenario import Member, ensure_deployed
from tianfu.apps.common.scenario import cast as cast_members
from tianfu.apps.env import AppEnv
from tianfu.apps.photo_sharing import NAME, media, source
from tianfu.apps.photo_sharing.sdk import PhotoSharing, licence_terms

MEMBERS = (
    Member("photographer", 0, "ph-photographer"),
    Member("agency", 1, "ph-agency"),
    Member("publisher", 2, "ph-publisher"),
)


def _encode(img: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def skyline(seed: int = 0, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A drawn city skyline at dusk; `seed` moves the towers and the moon (another picture)."""
    w, h = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(h):  # the sky: a vertical gradient
        draw.line([(0, y), (w, y)], fill=(20 + y // 3, 30 + y // 4, 90 + y // 3))
    moon = (40 + (seed * 97) % (w - 80), 20 + (seed * 31) % 40)
    draw.ellipse([moon, (moon[0] + 34, moon[1] + 34)], fill=(250, 240, 200))
    x = 0
    i = 0
    while x < w:
        width = 18 + ((i * 7 + seed * 13) % 5) * 8
        top = h // 3 + ((i * 37 + seed * 53) % 7) * (h // 14)
        shade = 25 + (i * 19 + seed) % 40
        draw.rectangle([x, top, x + width - 3, h], fill=(shade, shade, shade + 15))
        for wy in range(top + 6, h - 6, 12):  # lit windows
            for wx in range(x + 4, x + width - 8, 8):
                if (wx * 3 + wy * 5 + seed) % 7 < 3:
                    draw.rectangle([wx, wy, wx + 3, wy + 5], fill=(255, 210, 90))
        x += width
        i += 1
    return img


def original(seed: int = 0) -> bytes:
    """A photo as its author took it."""
    return _encode(skyline(seed))


def retouched(seed: int = 0, crop: int = 4) -> bytes:
    """The same picture cropped by `crop` pixels a side, resized, brightened, marked and
    saved at another quality: another file, whose perceptual hash differs by a few bits
    (2 for the default crop, about 8 for 8 pixels, 16 for 16)."""
    w, h = skyline(seed).size
    img = skyline(seed).crop((crop, crop, w - crop, h - crop))
    img = img.resize((288, 216), Image.Resampling.LANCZOS)
    img = ImageEnhance.Brightness(img).enhance(1.15)
    ImageDraw.Draw(img).text((10, 200), "(c) agency", fill=(255, 255, 255))
    return _encode(img, quality=70)


def cast(env: AppEnv, suffix: str = "") -> dict[str, Any]:
    return cast_members(env, MEMBERS, suffix=suffix)


def _registered(app: PhotoSharing, data: bytes, title: str, licence: dict[str, Any]) -> str:
    photo = media.prepare(data)
    record = app.by_sha256(photo.sha256)
    if record is not None:
        return str(record["id"])
    photo_id = app.register_prepared(photo, title, licence)
    app.upload(photo)
    return photo_id


def create_demo(env: AppEnv) -> dict[str, Any]:
    """Deploy `photo_sharing`, register a photo and a retouched copy (flagged), grant a
    licence and report the copy. Idempotent: what exists is described again."""
    p = cast(env)
    author = PhotoSharing(env.client(p["photographer"]))
    agency = PhotoSharing(env.client(p["agency"]))
    ensure_deployed(env, author.client, NAME, source())
    photo_id = _registered(
        author, original(), "Tianfu skyline at dusk", licence_terms("cc-by-nc", "credit the author")
    )
    copy_id = _registered(agency, retouched(), "City at night", licence_terms())
    publisher = p["publisher"].info.address
    if not author.licences(photo_id):  # a second run adds nothing
        lid = author.grant_licence(
            photo_id, publisher, "print run of 5,000, 2025", transferable=True
        )
        PhotoSharing(env.client(p["publisher"])).accept_licence(lid)
    if not author.reports(copy_id):
        author.report_infringement(photo_id, copy_id, "retouched copy of my photo")
    # (the copy's own flag: on a chain with other photos the original may have more)
    flags = [f for f in author.flags(photo_id) if f["photo"] == copy_id]
    return {
        "contract": NAME,
        "photo_id": photo_id,
        "copy_id": copy_id,
        "distance": flags[0]["distance"] if flags else None,
        "participants": {
            role: f"{who.info.org}/{who.info.name} {who.info.address}" for role, who in p.items()
        },
    }


def describe(summary: dict[str, Any]) -> list[str]:
    """Readable lines about the demo data, for `tianfu up --demo`."""
    pid, cid = summary["photo_id"], summary["copy_id"]
    return [
        f"a photo {pid} and a retouched copy {cid} registered by another member, flagged as "
        f"near-duplicates ({summary['distance']} bits apart), a licence and an infringement report",
        f"try: tianfu app photo_sharing show {pid}",
        f"     tianfu app photo_sharing certificate {pid} --out photo-cert.json "
        "--genesis .tianfu/localnet/genesis.bin",
    ]
