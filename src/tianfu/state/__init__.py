"""Authenticated state: a versioned Jellyfish-style sparse Merkle tree with proofs."""

from tianfu.state.nodes import EMPTY_ROOT, StateError, key_hash
from tianfu.state.proof import ProofError, ProofLeaf, StateProof, verify_proof
from tianfu.state.tree import InMemoryNodes, MerkleState, NodeReader, TreeBatch

__all__ = [
    "EMPTY_ROOT",
    "InMemoryNodes",
    "MerkleState",
    "NodeReader",
    "ProofError",
    "ProofLeaf",
    "StateError",
    "StateProof",
    "TreeBatch",
    "key_hash",
    "verify_proof",
]
