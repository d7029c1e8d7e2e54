"""Images for photo_sharing: bounded decoding of untrusted bytes, the perceptual hash, the
thumbnail, and the checks a node runs on an upload against the registered hashes.

Decoding goes through Pillow with the size checked before any pixel is decoded (at most
MAX_PIXELS, far under Pillow's own `Image.MAX_IMAGE_PIXELS` bomb limit), in the formats
JPEG, PNG and WebP only. The perceptual hash is imagehash's pHash (64 bits, as 16 hex
characters). Every failure is a `MediaError`.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 1_000_000  # the contract's MAX_IMAGE_BYTES
MAX_THUMB_BYTES = 65_536  # the contract's MAX_THUMB_BYTES
MAX_PIXELS = 16_000_000  # a 16-megapixel photo decodes to at most 48 MB of RGB
THUMB_EDGE = 128  # the SDK's thumbnails fit in 128 x 128
MAX_THUMB_EDGE = 256  # what a node accepts as a thumbnail
FORMATS = ("JPEG", "PNG", "WEBP")
# pHash bits a node's own computation may differ from the registered one (another decoder
# build may round a few pixels differently), and a thumbnail's from its image's.
PHASH_TOLERANCE = 2
THUMB_TOLERANCE = 12

_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    struct.error,
)


class MediaError(ValueError):
    """An image that cannot be used: not an image, too large, or not the registered one."""


class NotAnImage(MediaError):
    """Bytes that do not decode as a JPEG, PNG or WebP image."""


class ImageTooLarge(MediaError):
    """An image over the byte or pixel bounds."""


class HashMismatch(MediaError):
    """The bytes are not those the registration names (SHA-256, size or perceptual hash)."""


@dataclass(frozen=True)
class PreparedPhoto:
    """What the SDK registers (hashes and sizes) and uploads (the bytes) for one photo."""

    image: bytes
    sha256: str
    size: int
    phash: str
    thumbnail: bytes
    thumb_sha256: str
    thumb_size: int
    width: int
    height: int


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def distance(a: str, b: str) -> int:
    """The Hamming distance of two perceptual hashes given as hex."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def open_image(
    data: bytes, max_bytes: int = MAX_IMAGE_BYTES, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Decode untrusted bytes: the byte count and the pixel count are checked before the
    pixels are decoded. Raises `ImageTooLarge` or `NotAnImage`."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"the image has {len(data)} bytes, more than {max_bytes}")
    if not data:
        raise NotAnImage("no image bytes")
    # Pillow itself refuses more than 2 x Image.MAX_IMAGE_PIXELS when opening (and warns
    # above 1 x); the bound here is far lower and checked before any pixel is decoded. No
    # warning filter is changed: uploads are checked in threads, and filters are global.
    try:
        img = Image.open(io.BytesIO(data), formats=FORMATS)
        width, height = img.size
        if width < 1 or height < 1:
            raise NotAnImage("the image has no pixels")
        if width * height > max_pixels:
            raise ImageTooLarge(
                f"the image is {width} x {height} pixels, more than {max_pixels} in all"
            )
        img.load()
    except MediaError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"decompression bomb refused: {exc}") from None
    except _DECODE_ERRORS as exc:
        raise NotAnImage(f"not a JPEG, PNG or WebP image: {exc}") from None
    return img


def phash_of(img: Image.Image) -> str:
    """imagehash's 64-bit pHash of a decoded image, as 16 hex characters."""
    import imagehash  # loads SciPy: only where a pHash is computed, not in every command

    return str(imagehash.phash(img))


def make_thumbnail(img: Image.Image) -> bytes:
    """A JPEG thumbnail fitting in THUMB_EDGE x THUMB_EDGE."""
    thumb = img.convert("RGB")
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE))
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=80)
    return out.getvalue()


def prepare(data: bytes) -> PreparedPhoto:
    """Decode a photo and compute what is registered: hashes, sizes, the thumbnail."""
    img = open_image(data)
    thumb = make_thumbnail(img)
    if len(thumb) > MAX_THUMB_BYTES:  # a 128 px JPEG is a few KB; never expected
        raise ImageTooLarge(f"the thumbnail has {len(thumb)} bytes, more than {MAX_THUMB_BYTES}")
    return PreparedPhoto(
        image=data,
        sha256=sha256_hex(data),
        size=len(data),
        phash=phash_of(img),
        thumbnail=thumb,
        thumb_sha256=sha256_hex(thumb),
        thumb_size=len(thumb),
        width=img.size[0],
        height=img.size[1],
    )


def _same_bytes(data: bytes, sha256: str, size: int, what: str) -> None:
    actual = sha256_hex(data)
    if actual != sha256:
        raise HashMismatch(f"the {what}'s SHA-256 is {actual}, not the registered {sha256}")
    if len(data) != size:
        raise HashMismatch(f"the {what} has {len(data)} bytes, not the registered {size}")


def check_image(data: bytes, sha256: str, size: int, phash: str) -> None:
    """The bytes are the registered image: same SHA-256 and size, and a pHash within
    PHASH_TOLERANCE bits of the registered one. Raises a `MediaError`."""
    _same_bytes(data, sha256, size, "image")
    actual = phash_of(open_image(data))
    if distance(actual, phash) > PHASH_TOLERANCE:
        raise HashMismatch(
            f"the image's perceptual hash is {actual}, not the registered {phash} "
            f"({distance(actual, phash)} bits differ, at most {PHASH_TOLERANCE} allowed)"
        )


def check_thumbnail(data: bytes, sha256: str, size: int, image_phash: str) -> None:
    """The bytes are the registered thumbnail: same SHA-256 and size, at most MAX_THUMB_EDGE
    pixels a side, and a picture of the registered image (its pHash within THUMB_TOLERANCE
    bits of the image's). Raises a `MediaError`."""
    _same_bytes(data, sha256, size, "thumbnail")
    img = open_image(data, MAX_THUMB_BYTES, MAX_THUMB_EDGE * MAX_THUMB_EDGE)
    if max(img.size) > MAX_THUMB_EDGE:
        raise ImageTooLarge(f"a thumbnail is at most {MAX_THUMB_EDGE} pixels a side")
    actual = phash_of(img)
    if distance(actual, image_phash) > THUMB_TOLERANCE:
        raise HashMismatch(
            f"the thumbnail is not a picture of the registered image: its perceptual hash "
            f"{actual} is {distance(actual, image_phash)} bits from the image's {image_phash}"
        )
