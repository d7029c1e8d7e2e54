"""Binary Merkle tree (RFC 6962 shape) for transaction and receipt roots, with inclusion proofs."""

from __future__ import annotations

from tianfu.codec import hash_domain

EMPTY_ROOT = hash_domain("tianfu/merkle/empty/v1")


def leaf_hash(data: bytes) -> bytes:
    return hash_domain("tianfu/merkle/leaf/v1", data)


def node_hash(left: bytes, right: bytes) -> bytes:
    return hash_domain("tianfu/merkle/node/v1", left, right)


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


def merkle_root(items: list[bytes]) -> bytes:
    """Root over the leaf hashes of `items` (each item is already-encoded bytes)."""
    if not items:
        return EMPTY_ROOT
    return _root([leaf_hash(i) for i in items])


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
    """Check that `item` is leaf `index` of a tree of `size` leaves with this `root`."""
    if not 0 <= index < size or len(path) > 64:
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
