"""Inclusion / exclusion proofs of the state tree and their pure verifier."""

from __future__ import annotations

from typing import Annotated

import msgspec

from tianfu.codec import check_version
from tianfu.state.nodes import (
    EMPTY_CHILD,
    MAX_DEPTH,
    RADIX,
    internal_hash,
    key_hash,
    leaf_hash,
    nibble,
    value_hash,
)

Hash32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
Level = Annotated[tuple[Hash32, ...], msgspec.Meta(min_length=RADIX - 1, max_length=RADIX - 1)]


class ProofError(ValueError):
    """Raised by `StateProof.validate` for a structurally malformed proof."""


class ProofLeaf(msgspec.Struct, array_like=True, frozen=True):
    """The leaf at the end of the proven path: its key hash and value hash."""

    key_hash: Hash32
    value_hash: Hash32


class StateProof(msgspec.Struct, array_like=True, frozen=True):
    """Path from the root towards a key.

    `siblings[d]` holds, for the internal node at depth d on the key's path, the hashes of
    its 15 other children in nibble order (EMPTY_CHILD where absent). The path ends at
    depth len(siblings) in either a leaf (`leaf`) or an empty child (`leaf is None`).
    An inclusion proof ends at the key's own leaf; an exclusion proof ends at an empty
    child or at the leaf of another key whose path shares the same prefix.
    """

    version: int
    siblings: Annotated[tuple[Level, ...], msgspec.Meta(max_length=MAX_DEPTH)]
    leaf: ProofLeaf | None

    def validate(self) -> None:
        check_version(self)
        if not isinstance(self.siblings, tuple | list) or len(self.siblings) > MAX_DEPTH:
            raise ProofError(f"a proof has at most {MAX_DEPTH} levels")
        for level in self.siblings:
            if not isinstance(level, tuple | list) or len(level) != RADIX - 1:
                raise ProofError(f"each proof level holds exactly {RADIX - 1} sibling hashes")
            for h in level:
                if not isinstance(h, bytes) or len(h) != 32:
                    raise ProofError("sibling hashes are 32 bytes")
        leaf = self.leaf
        if leaf is not None:
            if not isinstance(leaf, ProofLeaf):
                raise ProofError("malformed proof leaf")
            for h in (leaf.key_hash, leaf.value_hash):
                if not isinstance(h, bytes) or len(h) != 32:
                    raise ProofError("leaf hashes are 32 bytes")


def _same_prefix(a: bytes, b: bytes, depth: int) -> bool:
    full = depth >> 1
    if a[:full] != b[:full]:
        return False
    return not depth & 1 or (a[full] >> 4) == (b[full] >> 4)


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> bool:
    """True iff `proof` shows that `key` maps to `value` (None: is absent) under `root`.

    Pure: needs no node and does no I/O. Returns False, never raises, for any tampered or
    malformed input. Work is bounded by MAX_DEPTH levels.
    """
    if not (isinstance(root, bytes) and len(root) == 32 and isinstance(key, bytes)):
        return False
    if value is not None and not isinstance(value, bytes):
        return False
    if not isinstance(proof, StateProof):
        return False
    try:
        proof.validate()
    except ValueError:
        return False
    khash = key_hash(key)
    leaf = proof.leaf
    depth = len(proof.siblings)
    if value is not None:
        if leaf is None or leaf.key_hash != khash or leaf.value_hash != value_hash(value):
            return False
        h = leaf_hash(leaf.key_hash, leaf.value_hash)
    elif leaf is None:
        h = EMPTY_CHILD
    else:
        # Exclusion by another key's leaf: it must sit where our path leads.
        if leaf.key_hash == khash or not _same_prefix(leaf.key_hash, khash, depth):
            return False
        h = leaf_hash(leaf.key_hash, leaf.value_hash)
    if depth and all(s == EMPTY_CHILD for s in proof.siblings[-1]):
        # A canonical tree has no internal node whose only child is a leaf (or nothing).
        return False
    for d in range(depth - 1, -1, -1):
        level = proof.siblings[d]
        n = nibble(khash, d)
        h = internal_hash((*level[:n], h, *level[n:]))
    return h == root
