"""Canonical encoding and domain-separated hashing for everything that is hashed or signed.

Every object has exactly one byte form: msgspec msgpack, structs encoded as arrays, map
keys sorted. `decode` rejects oversize input, trailing bytes, oversize fields (declared
with `msgspec.Meta(max_length=...)`), unknown versions (via each struct's `validate()`)
and any encoding that does not re-encode to the very same bytes (non-canonical forms).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

DEFAULT_MAX_SIZE = 1 << 20  # 1 MiB
HASH_SIZE = 32


class CodecError(ValueError):
    """Raised for any input that is not the canonical encoding of a valid object."""


_encoder = msgspec.msgpack.Encoder(order="sorted")


# `encode(obj)`: the canonical msgpack bytes of `obj`. The encoder's own method, not a
# wrapper: it is called several times per transaction on every node.
encode: Callable[[Any], bytes] = _encoder.encode


def decode(data: bytes, typ: type[T], *, max_size: int = DEFAULT_MAX_SIZE) -> T:
    """Decode canonical bytes into `typ`, or raise `CodecError` with a clear reason."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CodecError("expected bytes")
    if len(data) > max_size:
        raise CodecError(f"message of {len(data)} bytes exceeds the limit of {max_size}")
    try:
        obj = msgspec.msgpack.decode(data, type=typ)
    except msgspec.ValidationError as exc:
        raise CodecError(f"invalid {getattr(typ, '__name__', typ)}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise CodecError(f"malformed {getattr(typ, '__name__', typ)}: {exc}") from None
    except UnicodeDecodeError:
        raise CodecError(
            f"malformed {getattr(typ, '__name__', typ)}: invalid UTF-8 in a string"
        ) from None
    except RecursionError:
        # Far deeper than any valid object (values nest at most 32 levels): refused, and
        # never an error of another type, whatever depth the host's stack gives out at.
        raise CodecError(f"malformed {getattr(typ, '__name__', typ)}: nested too deeply") from None
    if try_encode(obj) != bytes(data):
        raise CodecError(f"non-canonical encoding of {getattr(typ, '__name__', typ)}")
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except CodecError:
            raise
        except ValueError as exc:
            raise CodecError(str(exc)) from None
    return obj


def try_encode(obj: Any) -> bytes | None:
    """`encode(obj)`, or None for a decoded object that has no canonical form (a map with
    keys that are not strings cannot be encoded with sorted keys)."""
    try:
        return _encoder.encode(obj)
    except (TypeError, msgspec.EncodeError):
        return None


_value_decoder = msgspec.msgpack.Decoder()


# `decode_value(data)`: stored contract-value bytes decoded (trusted: written by this node's
# own execution). The decoder's own method, like `encode`.
decode_value: Callable[[bytes], Any] = _value_decoder.decode


def to_builtins(obj: Any) -> Any:
    """Plain Python (JSON-friendly except bytes) form of a struct."""
    return msgspec.to_builtins(obj)


def hash_domain(tag: str, *parts: bytes) -> bytes:
    """SHA-256 over a domain tag and length-prefixed parts.

    The tag (e.g. "tianfu/tx/v1") separates object types; the explicit lengths make the
    boundaries between parts unambiguous, so no two different inputs share a hash.
    """
    prefix = _prefixes.get(tag)
    if prefix is None:
        prefix = _tag_prefix(tag)
        if len(_prefixes) < 256:
            _prefixes[tag] = prefix
    if len(parts) == 1:  # the hot case: one small part
        p = parts[0]
        n = len(p)
        if n <= _JOIN_MAX:
            return _sha256(prefix + n.to_bytes(8, "big") + p).digest()
    h = _sha256(prefix)
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.digest()


_sha256 = hashlib.sha256
_JOIN_MAX = 16 << 10  # above this a part is fed to the hash rather than copied
_prefixes: dict[str, bytes] = {}  # tag -> _tag_prefix(tag), for the tags in use


def _tag_prefix(tag: str) -> bytes:
    """The hashed bytes of a domain tag: its length (one byte) then its UTF-8."""
    tb = tag.encode()
    return len(tb).to_bytes(1, "big") + tb


def check_version(obj: Any, expected: int = 1) -> None:
    """Raise `CodecError` unless `obj.version == expected`."""
    if obj.version != expected:
        raise CodecError(f"unknown {type(obj).__name__} version {obj.version}")


def encode_list(encoded: list[bytes]) -> bytes:
    """`encode(items)` from the items' own canonical encodings, without re-encoding them.

    A msgpack array is its header (the shortest form for its length) followed by its
    items' encodings, so this is byte for byte what `tianfu.codec.encode` gives.
    """
    n = len(encoded)
    if n < 16:
        head = bytes((0x90 | n,))
    elif n < 1 << 16:
        head = b"\xdc" + n.to_bytes(2, "big")
    else:
        head = b"\xdd" + n.to_bytes(4, "big")
    return head + b"".join(encoded)
