"""Authenticated state: a versioned Jellyfish-style sparse Merkle tree with proofs."""

from tianfu.state.nodes import EMPTY_ROOT, LeafNode, StateError, key_hash
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
    "EMPTY_ROOT",
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
    "key_hash",
    "verify_proof",
]
