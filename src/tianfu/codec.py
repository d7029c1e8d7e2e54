"""Canonical encoding and domain-separated hashing for everything that is hashed or signed.

Every object has exactly one byte form: msgspec msgpack, structs encoded as arrays, map
keys sorted. `decode` rejects oversize input, trailing bytes, oversize fields (declared
with `msgspec.Meta(max_length=...)`), unknown versions (via each struct's `validate()`)
and any encoding that does not re-encode to the very same bytes (non-canonical forms);
map keys that are arrays where the type would decode them into tuples are refused before
decoding (`tianfu.codec_scan`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import msgspec

from tianfu.codec_scan import array_keys_refused
from tianfu.scoped import ScopedSetting

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
    if array_keys_refused(data, typ):
        # refused before decoding: keys built to share a hash (`tianfu.codec_scan`)
        raise CodecError(f"invalid {getattr(typ, '__name__', typ)}: dict keys must be str")
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
    keys that are not strings cannot be encoded with sorted keys) or that the encoder cannot
    reach the bottom of: a value the decoder took with its last levels of stack, which the
    encoder needs a level or two more for (far deeper than any valid object: values nest at
    most 32 levels), is refused as not canonical, never with a RecursionError."""
    try:
        return _encoder.encode(obj)
    except (TypeError, msgspec.EncodeError, RecursionError):
        return None


_value_decoder = msgspec.msgpack.Decoder()


# `decode_value(data)`: stored contract-value bytes decoded (trusted: written by this node's
# own execution). The decoder's own method, like `encode`.
decode_value: Callable[[bytes], Any] = _value_decoder.decode


def to_builtins(obj: Any) -> Any:
    """Plain Python (JSON-friendly except bytes) form of a struct."""
    return msgspec.to_builtins(obj)


def hash_domain(tag: str, *parts: bytes) -> bytes:
    """The chain's hash (SHA-256, or SM3 on an SM2 chain) over a domain tag and
    length-prefixed parts.

    The tag (e.g. "tianfu/tx/v1") separates object types; the explicit lengths make the
    boundaries between parts unambiguous, so no two different inputs share a hash. Which
    hash function is used is the process's chain suite (`set_default_hash`), or the one of
    the enclosing `hash_scope` (see below).
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
            return _new(prefix + n.to_bytes(8, "big") + p).digest()
    h = _new(prefix)
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.digest()


_JOIN_MAX = 16 << 10  # above this a part is fed to the hash rather than copied
_prefixes: dict[str, bytes] = {}  # tag -> _tag_prefix(tag), for the tags in use


def _tag_prefix(tag: str) -> bytes:
    """The hashed bytes of a domain tag: its length (one byte) then its UTF-8."""
    tb = tag.encode()
    return len(tb).to_bytes(1, "big") + tb


# ---- which hash: the chain suite's -----------------------------------------------------
#
# Every chain hash (transactions, blocks, votes, Merkle trees, addresses) is computed with
# one function chosen at genesis: SHA-256, or SM3 (GB/T 32905) on an SM2 chain. A node
# sets it once for its process (`set_default_hash`, when it opens its genesis); code that
# checks documents of another chain in the same process (a verifier, a test) enters
# `hash_scope(suite)` for the duration, which holds for the current thread or asyncio
# task only (a context variable).
#
# The hot paths (`hash_domain` above, `tianfu.crypto.merkle`, `tianfu.state.nodes`) call a
# module-level constructor that is rebound whenever the choice changes (`on_hash_change`):
# a process that never entered a scope pays nothing per hash for the choice. Once a scope
# was entered, the constructor becomes a dispatcher that reads the context variable.


class HashSuite:
    """A hash function by name, with its constructor: `new(data)` returns an object with
    `update(data)`, `digest()` and `copy()` (a `hashlib` object or one that behaves alike)."""

    __slots__ = ("name", "new")

    def __init__(self, name: str, new: Callable[..., Any]) -> None:
        self.name = name
        self.new = new

    def hash(self, data: bytes) -> bytes:
        return bytes(self.new(data).digest())

    def __repr__(self) -> str:
        return f"HashSuite({self.name!r})"


def _sm3_constructor() -> Callable[..., Any]:
    """SM3 from the OpenSSL that `hashlib` uses (copying a fresh context, which skips
    OpenSSL's algorithm lookup per call), or from Tongsuo (`tongsuopy`) where that
    OpenSSL lacks SM3."""
    try:
        base = hashlib.new("sm3")
    except ValueError:
        return _tongsuo_sm3
    copy = base.copy

    def sm3(data: bytes = b"") -> Any:
        h = copy()
        h.update(data)
        return h

    return sm3


class _TongsuoSm3:
    """A `hashlib`-like SM3 object over `tongsuopy` (only where hashlib has no SM3)."""

    __slots__ = ("_h",)

    def __init__(self, h: Any) -> None:
        self._h = h

    def update(self, data: bytes) -> None:
        self._h.update(bytes(data))

    def digest(self) -> bytes:
        return bytes(self._h.copy().finalize())

    def copy(self) -> _TongsuoSm3:
        return _TongsuoSm3(self._h.copy())


def _tongsuo_sm3(data: bytes = b"") -> _TongsuoSm3:
    from tongsuopy.crypto import hashes  # the SM2 suite's library (ADR 0022)

    h = _TongsuoSm3(hashes.Hash(hashes.SM3()))
    h.update(data)
    return h


SHA256 = HashSuite("sha256", hashlib.sha256)
SM3 = HashSuite("sm3", _sm3_constructor())
HASH_SUITES: dict[str, HashSuite] = {s.name: s for s in (SHA256, SM3)}

_listeners: list[Callable[[Callable[..., Any]], None]] = []


def _dispatch_new(data: bytes = b"") -> Any:
    return _hash.get().new(data)


def hash_constructor() -> Callable[..., Any]:
    """The constructor a hot path should call now (see `on_hash_change`)."""
    return _dispatch_new if _hash.scoped else _hash.default.new


def _rebind() -> None:
    global _new
    new = hash_constructor()
    _new = new
    for listener in _listeners:
        listener(new)


# The process's hash, and the one of an enclosing `hash_scope` (its first entry rebinds).
_hash: ScopedSetting[HashSuite] = ScopedSetting("tianfu_hash_suite", SHA256, _rebind)
_new: Callable[..., Any] = SHA256.new  # the constructor `hash_domain` calls


def on_hash_change(listener: Callable[[Callable[..., Any]], None]) -> None:
    """Call `listener(constructor)` now and whenever the constructor to use changes: a hot
    path keeps it in a module global instead of asking for it per hash."""
    _listeners.append(listener)
    listener(hash_constructor())


def current_hash() -> HashSuite:
    """The hash in force here: the enclosing scope's, else the process's."""
    return _hash.get()


def set_default_hash(suite: HashSuite) -> None:
    """Choose the process's hash (a node: its chain's, once, when it opens its genesis)."""
    _hash.default = suite
    _rebind()


def hash_scope(suite: HashSuite) -> AbstractContextManager[None]:
    """Hash with `suite` inside the block, in this thread or task only."""
    return _hash.scope(suite)


def hash_domain_with(suite: HashSuite, tag: str, *parts: bytes) -> bytes:
    """`hash_domain(tag, *parts)` with the hash `suite`, whatever is in force here."""
    h = suite.new(_tag_prefix(tag))
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return bytes(h.digest())


def per_suite(compute: Callable[[], bytes]) -> Callable[[], bytes]:
    """A constant that depends on the hash (e.g. an empty tree's root): `compute()` once per
    hash suite, under that suite; the getter returns the value for `current_hash()`."""
    cache: dict[str, bytes] = {}

    def get() -> bytes:
        suite = current_hash()
        value = cache.get(suite.name)
        if value is None:
            value = cache[suite.name] = compute()
        return value

    return get


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
