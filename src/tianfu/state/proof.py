"""Inclusion / exclusion proofs of the state tree and their pure verifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec

from tianfu.codec import check_version
from tianfu.state.nodes import (
    DELETED,
    MAX_DEPTH,
    RADIX,
    empty_child,
    internal_hash,
    key_hash,
    leaf_hash,
    nibble,
    value_hash,
)

PROOF_VERSION = 2  # 2: leaves carry the height of their change and of the previous one

Hash32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
ValueHash = Annotated[bytes, msgspec.Meta(max_length=32)]  # 32 bytes, or empty: deleted
MAX_PROVEN_VERSION = (1 << 63) - 1  # heights in proofs are int64 (as in every signed struct)
Version = Annotated[int, msgspec.Meta(ge=0, le=MAX_PROVEN_VERSION)]
Level = Annotated[tuple[Hash32, ...], msgspec.Meta(min_length=RADIX - 1, max_length=RADIX - 1)]


class ProofError(ValueError):
    """Raised by `StateProof.validate` for a structurally malformed proof."""


class ProofLeaf(msgspec.Struct, array_like=True, frozen=True):
    """The leaf at the end of the proven path: key hash, value hash (`DELETED` for a
    tombstone), the height of that change and of the entry's previous change (None: none)."""

    key_hash: Hash32
    value_hash: ValueHash
    height: Version
    prev: Version | None

    def validate(self) -> None:
        for h in (self.key_hash, self.value_hash):
            if not isinstance(h, bytes):
                raise ProofError("leaf hashes are bytes")
        if len(self.key_hash) != 32 or len(self.value_hash) not in (0, 32):
            raise ProofError("a leaf holds a 32-byte key hash and a 32-byte (or empty) value hash")
        for v in (self.height, self.prev):
            if v is not None and (type(v) is not int or not 0 <= v <= MAX_PROVEN_VERSION):
                raise ProofError("leaf heights are integers in the version range")
        if self.prev is not None and self.prev >= self.height:
            raise ProofError("a leaf's previous change must be older than the leaf")

    def hash(self) -> bytes:
        return leaf_hash(self.key_hash, self.value_hash, self.height, self.prev)


class StateProof(msgspec.Struct, array_like=True, frozen=True):
    """Path from the root towards a key.

    `siblings[d]` holds, for the internal node at depth d on the key's path, the hashes of
    its 15 other children in nibble order (EMPTY_CHILD where absent). The path ends at
    depth len(siblings) in either a leaf (`leaf`) or an empty child (`leaf is None`).
    An inclusion proof ends at the key's own leaf (a tombstone if the key was deleted); an
    exclusion proof ends at an empty child or at the leaf of another key whose path shares
    the same prefix.
    """

    version: int
    siblings: Annotated[tuple[Level, ...], msgspec.Meta(max_length=MAX_DEPTH)]
    leaf: ProofLeaf | None

    def validate(self) -> None:
        check_version(self, PROOF_VERSION)
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
            leaf.validate()


@dataclass(frozen=True)
class ProvenEntry:
    """What a verified proof shows about one key at the proven root.

    `value_hash` is None when the key is absent: deleted (`height` is the deletion's) or
    never written (`height` is None). `height` / `prev` are the key's last change and the
    change before it, as recorded in its leaf.
    """

    value_hash: bytes | None
    height: int | None
    prev: int | None

    @property
    def present(self) -> bool:
        return self.value_hash is not None

    @property
    def written(self) -> bool:
        """Whether the key has any version (a value or a tombstone) at the proven root."""
        return self.height is not None

    def holds(self, value: bytes | None) -> bool:
        """Whether the entry is `value` (None: absent)."""
        if value is None:
            return self.value_hash is None
        return self.value_hash is not None and self.value_hash == value_hash(value)


def _same_prefix(a: bytes, b: bytes, depth: int) -> bool:
    full = depth >> 1
    if a[:full] != b[:full]:
        return False
    return not depth & 1 or (a[full] >> 4) == (b[full] >> 4)


def check_proof(root: bytes, key: bytes, proof: StateProof) -> ProvenEntry | None:
    """The entry of `key` that `proof` proves under `root`, or None if it proves nothing.

    Pure: needs no node and does no I/O. Returns None, never raises, for any tampered or
    malformed input. Work is bounded by MAX_DEPTH levels.
    """
    if not (isinstance(root, bytes) and len(root) == 32 and isinstance(key, bytes)):
        return None
    if not isinstance(proof, StateProof):
        return None
    try:
        proof.validate()
    except ValueError:
        return None
    khash = key_hash(key)
    leaf = proof.leaf
    depth = len(proof.siblings)
    empty = empty_child()
    if leaf is None:
        h = empty
        entry = ProvenEntry(None, None, None)
    elif leaf.key_hash == khash:
        h = leaf.hash()
        vh = None if leaf.value_hash == DELETED else leaf.value_hash
        entry = ProvenEntry(vh, leaf.height, leaf.prev)
    else:
        # Exclusion by another key's leaf: it must sit where our path leads.
        if not _same_prefix(leaf.key_hash, khash, depth):
            return None
        h = leaf.hash()
        entry = ProvenEntry(None, None, None)
    if depth and all(s == empty for s in proof.siblings[-1]):
        # A canonical tree has no internal node whose only child is a leaf (or nothing).
        return None
    for d in range(depth - 1, -1, -1):
        level = proof.siblings[d]
        n = nibble(khash, d)
        h = internal_hash((*level[:n], h, *level[n:]))
    return entry if h == root else None


def verify_proof(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> bool:
    """True iff `proof` shows that `key` maps to `value` (None: is absent) under `root`.

    Absent means never written or deleted (the key's own tombstone leaf). Pure; returns
    False, never raises, for any tampered or malformed input.
    """
    if value is not None and not isinstance(value, bytes):
        return False
    entry = check_proof(root, key, proof)
    return entry is not None and entry.holds(value)
