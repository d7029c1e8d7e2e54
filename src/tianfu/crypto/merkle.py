"""Binary Merkle tree (RFC 6962 shape) for transaction and receipt roots, with inclusion proofs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tianfu.codec import hash_domain, on_hash_change, per_suite

# The root of an empty list, for the chain's hash (`empty_root()`; `EMPTY_ROOT` reads it).
empty_root = per_suite(lambda: hash_domain("tianfu/merkle/empty/v1"))

_LEAF_TAG = "tianfu/merkle/leaf/v1"
_NODE_TAG = "tianfu/merkle/node/v1"
_hash: Callable[..., Any]  # the chain's hash constructor (SHA-256 or SM3), kept current


def _use_hash(new: Callable[..., Any]) -> None:
    global _hash
    _hash = new


on_hash_change(_use_hash)


def __getattr__(name: str) -> bytes:
    if name == "EMPTY_ROOT":
        return empty_root()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LEN32 = (32).to_bytes(8, "big")
# `hash_domain(_NODE_TAG, left, right)` for two 32-byte hashes, in one call over the same
# bytes (tag length | tag | len | left | len | right); other lengths take the generic path.
_NODE_PREFIX = len(_NODE_TAG).to_bytes(1, "big") + _NODE_TAG.encode() + _LEN32
# Likewise `hash_domain(_LEAF_TAG, data)` = H(tag length | tag | len(data) | data).
_LEAF_PREFIX = len(_LEAF_TAG).to_bytes(1, "big") + _LEAF_TAG.encode()


def leaf_hash(data: bytes) -> bytes:
    return _hash(_LEAF_PREFIX + len(data).to_bytes(8, "big") + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    if len(left) == 32 and len(right) == 32:
        return _hash(_NODE_PREFIX + left + _LEN32 + right).digest()
    return hash_domain(_NODE_TAG, left, right)


def _split(n: int) -> int:
    """Largest power of two strictly less than n (n >= 2)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def _root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(_root(leaves[:k]), _root(leaves[k:]))


def _root_levels(level: list[bytes]) -> bytes:
    """`_root` bottom-up: pair neighbours level by level, an odd last node moves up.

    For RFC 6962's shape (left subtree = the largest power of two below n) this pairing
    gives the same tree: every left subtree is complete, so it is built from aligned pairs.
    """
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merkle_root(items: list[bytes]) -> bytes:
    """Root over the leaf hashes of `items` (each item is already-encoded bytes).

    Computes `_root_levels([leaf_hash(i) for i in items])`, hashing each leaf and inner
    node directly with its domain prefix (one hash call per node, no function call per
    hash): every inner node is over two 32-byte hashes.
    """
    if not items:
        return empty_root()
    sha, leaf = _hash, _LEAF_PREFIX
    level = [sha(leaf + len(i).to_bytes(8, "big") + i).digest() for i in items]
    node, len32 = _NODE_PREFIX, _LEN32
    while len(level) > 1:
        pairs = iter(level)  # zip(pairs, pairs): neighbours (0, 1), (2, 3), ...
        nxt = [sha(node + a + len32 + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        if len(level) & 1:  # an odd last node moves up
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merkle_proof(items: list[bytes], index: int) -> list[bytes]:
    """Audit path for item `index`, leaf-to-root order."""
    if not 0 <= index < len(items):
        raise IndexError("leaf index out of range")
    leaves = [leaf_hash(i) for i in items]
    path: list[bytes] = []

    def walk(lo: int, hi: int) -> None:
        if hi - lo == 1:
            return
        k = _split(hi - lo)
        if index < lo + k:
            walk(lo, lo + k)
            path.append(_root(leaves[lo + k : hi]))
        else:
            walk(lo + k, hi)
            path.append(_root(leaves[lo : lo + k]))

    walk(0, len(leaves))
    return path


def verify_merkle_proof(root: bytes, item: bytes, index: int, size: int, path: list[bytes]) -> bool:
    """Check that `item` is leaf `index` of a tree of `size` leaves with this `root`.

    Every sibling of `path` is a 32-byte hash (merkle.md, audit path step 1): a node over
    a sibling of another length is no node of any tree, whatever root it hashes to."""
    if not 0 <= index < size or len(path) > 64 or any(len(s) != 32 for s in path):
        return False
    # Rebuild the left/right decisions top-down, then fold bottom-up.
    sides: list[bool] = []  # True when the sibling is on the right
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            sides.append(True)
            hi = lo + k
        else:
            sides.append(False)
            lo = lo + k
    if len(sides) != len(path):
        return False
    h = leaf_hash(item)
    for sibling, right in zip(path, reversed(sides), strict=True):
        h = node_hash(h, sibling) if right else node_hash(sibling, h)
    return h == root
