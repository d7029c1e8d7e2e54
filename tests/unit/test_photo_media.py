"""photo_sharing's handling of untrusted image bytes: bounded decoding, decompression bombs,
junk and foreign formats, the pHash tolerance of an upload check, the blob store."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tianfu.apps.photo_sharing import demo, media
from tianfu.apps.photo_sharing.blobs import BlobStore


def flip(phash: str, bits: list[int]) -> str:
    h = int(phash, 16)
    for b in bits:
        h ^= 1 << b
    return f"{h:016x}"


def _png(size: tuple[int, int], mode: str = "1") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG", optimize=True)
    return out.getvalue()


def test_decompression_bombs_and_junk_are_refused_before_decoding() -> None:
    bomb = _png((20_000, 20_000))  # 400 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    with pytest.raises(media.ImageTooLarge, match="pixels"):
        media.open_image(bomb)
    with pytest.raises(media.ImageTooLarge, match="bytes"):
        media.open_image(b"\0" * (media.MAX_IMAGE_BYTES + 1))
    good = demo.original()
    for junk in (b"", b"GIF89a" + good[6:], good[: len(good) // 2], b"\x89PNG\r\n\x1a\n" * 9):
        with pytest.raises(media.NotAnImage):
            media.open_image(junk)
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    with pytest.raises(media.NotAnImage):
        media.open_image(gif.getvalue())


def test_check_image_tolerates_only_a_few_phash_bits() -> None:
    photo = media.prepare(demo.original())
    media.check_image(photo.image, photo.sha256, photo.size, photo.phash)
    media.check_image(photo.image, photo.sha256, photo.size, flip(photo.phash, [0, 9]))
    with pytest.raises(media.HashMismatch, match="3 bits differ"):
        media.check_image(photo.image, photo.sha256, photo.size, flip(photo.phash, [0, 9, 20]))
    with pytest.raises(media.HashMismatch, match="bytes, not the registered"):
        media.check_image(photo.image, photo.sha256, photo.size + 1, photo.phash)
    with pytest.raises(media.ImageTooLarge, match="pixels a side"):
        big = io.BytesIO()
        Image.new("RGB", (300, 10)).save(big, format="PNG")
        data = big.getvalue()
        media.check_thumbnail(data, media.sha256_hex(data), len(data), photo.phash)


def test_a_damaged_blob_reads_as_absent(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"bytes"
    sha = media.sha256_hex(data)
    store.save(sha, data)
    assert store.load(sha) == data
    (tmp_path / sha[:2] / sha).write_bytes(b"other")
    assert store.load(sha) is None
    with pytest.raises(ValueError):
        store.save("ab" * 32, data)
    with pytest.raises(ValueError):
        store.load("../etc/passwd")
