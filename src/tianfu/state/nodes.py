"""Node types, node keys and hashing of the Jellyfish-style sparse Merkle state tree.

A key's path is the 64 nibbles of `hash_domain("tianfu/state/key/v1", key)`. Three kinds of
node are stored: an internal node (up to 16 children), a leaf and a null node (the root of
an empty tree, so that every version has a root entry). Each is stored under a node key
that encodes (version, nibble path), so versions never overwrite each other and unchanged
subtrees are shared between versions.

A leaf holds one entry's latest version: its key hash, its value (None once deleted: a
deletion leaves a tombstone, so the versions of a key form an unbroken chain), the version
(block height) of that change and the version of the change before it (None for the
entry's first version). The tree sets both heights itself; a writer only gives values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from tianfu.codec import hash_domain, on_hash_change, per_suite

KEY_TAG = "tianfu/state/key/v1"
VALUE_TAG = "tianfu/state/value/v1"
LEAF_TAG = "tianfu/state/leaf/v2"
INTERNAL_TAG = "tianfu/state/internal/v1"

empty_root = per_suite(lambda: hash_domain("tianfu/state/empty/v1"))
"""Root of the empty tree, for the chain's hash; also the placeholder hash of an empty child
(`empty_child`). The names `EMPTY_ROOT` and `EMPTY_CHILD` read it too."""

empty_child = empty_root


def __getattr__(name: str) -> bytes:
    if name in ("EMPTY_ROOT", "EMPTY_CHILD"):
        return empty_root()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_DEPTH = 64  # nibbles in a key path
RADIX = 16
MAX_VERSION = (1 << 64) - 1


class StateError(ValueError):
    """Raised for a misuse of the state tree (bad version, missing node)."""


def key_hash(key: bytes) -> bytes:
    """The 32-byte path of a raw state key: `hash_domain(KEY_TAG, key)`."""
    return _hash(_KEY_PREFIX + len(key).to_bytes(8, "big") + key).digest()


def value_hash(value: bytes) -> bytes:
    """`hash_domain(VALUE_TAG, value)`."""
    return _hash(_VALUE_PREFIX + len(value).to_bytes(8, "big") + value).digest()


# The hot hashes below are `hash_domain(tag, *parts)` with every part 32 bytes long, computed
# in one call over one joined buffer: the same bytes (tag prefix, then length | part for each
# part), so the same digests; anything not 32 bytes long takes the generic path. `_hash` is
# the chain's hash constructor (SHA-256 or SM3), kept current by `on_hash_change`.
_hash: Callable[..., Any]


def _use_hash(new: Callable[..., Any]) -> None:
    global _hash
    _hash = new


on_hash_change(_use_hash)
_LEN32 = (32).to_bytes(8, "big")


def _tag_prefix(tag: str) -> bytes:
    """What `hash_domain` hashes first for `tag`: its length (one byte), then its UTF-8."""
    tb = tag.encode()
    return len(tb).to_bytes(1, "big") + tb


_LEAF_PREFIX = _tag_prefix(LEAF_TAG) + _LEN32
_INTERNAL_PREFIX = _tag_prefix(INTERNAL_TAG) + _LEN32
_KEY_PREFIX = _tag_prefix(KEY_TAG)
_VALUE_PREFIX = _tag_prefix(VALUE_TAG)
_LEN0 = (0).to_bytes(8, "big")
_LEN8 = (8).to_bytes(8, "big")

DELETED = b""
"""The value-hash part of a tombstone leaf (a deleted entry): empty, unlike any value hash."""


def height_bytes(height: int) -> bytes:
    """A version (block height) as hashed in a leaf: 8 bytes big-endian."""
    return height.to_bytes(8, "big")


def leaf_hash(khash: bytes, vhash: bytes, height: int, prev: int | None) -> bytes:
    """Hash of a leaf: `hash_domain(LEAF_TAG, key_hash, value_hash, height, prev)`.

    `vhash` is `value_hash(value)`, or `DELETED` (empty) for a tombstone; `height` and `prev`
    are 8 bytes big-endian each, and `prev` is the empty part when the entry has no earlier
    version. The lengths are explicit (as in every `hash_domain`), so the parts never blur.
    """
    prev_part = _LEN0 if prev is None else _LEN8 + prev.to_bytes(8, "big")
    if len(khash) == 32 and len(vhash) == 32:
        return _hash(
            _LEAF_PREFIX + khash + _LEN32 + vhash + _LEN8 + height.to_bytes(8, "big") + prev_part
        ).digest()
    parts = (khash, vhash, height_bytes(height), b"" if prev is None else height_bytes(prev))
    return hash_domain(LEAF_TAG, *parts)


def internal_hash_32(children: Sequence[bytes]) -> bytes:
    """`internal_hash` of 16 hashes that are all 32 bytes long (the tree's own nodes)."""
    return _hash(_INTERNAL_PREFIX + _LEN32.join(children)).digest()


def internal_hash(children: Sequence[bytes]) -> bytes:
    """Hash of an internal node over its 16 child hashes (EMPTY_CHILD where absent)."""
    lens = list(map(len, children))
    if min(lens, default=0) == 32 and max(lens) == 32:
        return _hash(_INTERNAL_PREFIX + _LEN32.join(children)).digest()
    return hash_domain(INTERNAL_TAG, *children)


def nibble(khash: bytes, depth: int) -> int:
    """The nibble of a key path at `depth` (0 = most significant nibble of byte 0)."""
    b = khash[depth >> 1]
    return b & 0x0F if depth & 1 else b >> 4


def path_of(khash: bytes, depth: int) -> bytes:
    """The first `depth` nibbles of a key path, one nibble per byte."""
    return bytes(nibble(khash, i) for i in range(depth))


def node_key(version: int, path: bytes) -> bytes:
    """Storage key of the node at `path` (one nibble per byte) written at `version`.

    Layout: version (8 bytes big-endian) | nibble count (1 byte) | nibbles packed two per
    byte (a trailing half byte is zero). Keys sort by version, then by path.
    """
    return version.to_bytes(8, "big") + path_suffix(path)


# Paths up to this depth (at most 4,369 of them) keep their `path_suffix`: every block
# rewrites the nodes at the top of the tree, so their keys are packed once per process.
SUFFIX_MEMO_DEPTH = 3
_suffixes: dict[bytes, bytes] = {}


def path_suffix(path: bytes) -> bytes:
    """`node_key(version, path)` after its 8 version bytes: the nibble count, then the
    nibbles packed two per byte (a function of `path` alone)."""
    suffix = _suffixes.get(path)
    if suffix is not None:
        return suffix
    n = len(path)
    # Packing in C: the hex text of a nibble path is "0a0b03..."; its odd characters are
    # the nibbles themselves ("ab3"), which `fromhex` packs two per byte ("ab30").
    digits = path.hex()[1::2]
    suffix = bytes((n,)) + bytes.fromhex(digits + "0" if n & 1 else digits)
    if n <= SUFFIX_MEMO_DEPTH:
        _suffixes[path] = suffix
    return suffix


class Child(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """Reference from an internal node to one child: where it is stored and its hash."""

    nibble: int
    version: int  # the child lives at node_key(version, parent_path + nibble)
    hash: bytes
    leaf: bool


class InternalNode(msgspec.Struct, array_like=True, frozen=True, tag=1, gc=False):
    children: tuple[Child, ...]  # sorted by nibble; never empty, never a lone leaf

    def hash(self) -> bytes:
        hashes = [empty_child()] * RADIX
        for c in self.children:
            hashes[c.nibble] = c.hash
        return internal_hash(hashes)


class LeafNode(msgspec.Struct, array_like=True, frozen=True, tag=3, gc=False):
    """An entry's latest version (tag 3: the leaf with history; tag 2 was the leaf without)."""

    key_hash: bytes
    value: bytes | None  # None: deleted (a tombstone)
    height: int  # the version that wrote this value (or deleted it)
    prev: int | None  # the version of the entry's previous change; None: first version

    def value_part(self) -> bytes:
        return DELETED if self.value is None else value_hash(self.value)

    def hash(self) -> bytes:
        return leaf_hash(self.key_hash, self.value_part(), self.height, self.prev)


class NullNode(msgspec.Struct, array_like=True, frozen=True, tag=0, gc=False):
    """Root entry of a version whose tree is empty."""

    def hash(self) -> bytes:
        return empty_root()


Node = InternalNode | LeafNode | NullNode
# The node structs are not tracked by Python's cycle collector (`gc=False`): they hold only
# bytes, ints, None and tuples of Child, so they can form no cycle, and the tree keeps tens
# of thousands of them decoded (`tianfu.state.cache`) that every collection would scan.

# Stored nodes come from our own database, so a plain (fast) typed decoder is enough here;
# anything that comes from outside (proofs) goes through tianfu.codec.decode instead.
_node_decoder = msgspec.msgpack.Decoder(Node)


def decode_node(data: bytes) -> Node:
    return _node_decoder.decode(data)
