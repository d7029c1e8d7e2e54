"""Authenticated state: a versioned Jellyfish-style sparse Merkle tree with proofs."""

from tianfu.state.nodes import LeafNode, StateError, empty_root, key_hash
from tianfu.state.proof import (
    PROOF_VERSION,
    ProofError,
    ProofLeaf,
    ProvenEntry,
    StateProof,
    check_proof,
    verify_proof,
)
from tianfu.state.tree import InMemoryNodes, MerkleState, NodeReader, TreeBatch

__all__ = [
    "PROOF_VERSION",
    "InMemoryNodes",
    "LeafNode",
    "MerkleState",
    "NodeReader",
    "ProofError",
    "ProofLeaf",
    "ProvenEntry",
    "StateError",
    "StateProof",
    "TreeBatch",
    "check_proof",
    "empty_root",
    "key_hash",
    "verify_proof",
]


def __getattr__(name: str) -> bytes:
    if name == "EMPTY_ROOT":  # the empty tree's root for the hash in force (`empty_root()`)
        return empty_root()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
