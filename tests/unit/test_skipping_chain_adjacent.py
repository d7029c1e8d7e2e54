"""A node's skipping validator chain is one its verifiers take, also when changes sit in
adjacent blocks. A verifier refuses a skipping link whose own set is the set it already
puts at the link's height (proofs.md, skipping link rule 2); the node jumped to such
changes (the block of a change written 1 or 2 blocks after the last trusted link is signed
by a set the verifier knows exactly), so for a key rotated in block 1 and again in block 2
it served no skipping document at all (its own check refused it)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tianfu.crypto import ED25519
from tianfu.proofs.build import SKIPPING, ProofBuilder
from tianfu.proofs.documents import make_document
from tianfu.proofs.valchain import TrustOptions

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"


def spec_chain_module() -> Any:
    spec = importlib.util.spec_from_file_location("spec_vectors_chain", VECTORS / "chain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def chain_with_changes_at(changes: list[int], top: int) -> tuple[Any, int]:
    """4 validators; at each height of `changes` node2's key is replaced by a new one."""
    m = spec_chain_module()
    signers = [m.Signer.make(f"adjacent/node{i}", ED25519) for i in range(4)]
    chain = m.SpecChain("adjacent", "standard", [(s, f"org{i}", 1) for i, s in enumerate(signers)])  # fmt: skip
    g = list(chain.genesis.validators)
    for h in range(1, top + 1):
        if h in changes:
            key = m.Signer.make(f"adjacent/node1-{h}", ED25519)
            chain.add_signer(key)
            chain.change_validators(
                [g[0], msgspec.structs.replace(g[1], public_key=key.public_key), *g[2:]]
            )
        else:
            chain.commit()
    return chain, m.T0 + 3_600_000


@pytest.mark.parametrize(
    ("changes", "skips"),
    [
        ([1, 2], False),  # block 2 is signed by the genesis set: no link can skip
        ([2, 3], False),  # block 3 too (the set of state 1)
        ([1, 2, 3], True),
        ([1, 2, 3, 4, 5, 6], True),
        ([1, 4, 5], True),
        ([3, 4, 8, 9, 10], True),
        ([5, 6, 12], True),
    ],
)
def test_a_skipping_chain_over_changes_in_adjacent_blocks_verifies(
    changes: list[int], skips: bool
) -> None:
    top = changes[-1] + 4
    chain, now = chain_with_changes_at(changes, top)
    builder = ProofBuilder(chain)
    skipped = False
    for height in range(3, top + 1):
        bundle = builder.validators_bundle(height, SKIPPING)
        doc = make_document("validators", bundle, chain.genesis, TrustOptions(now_ms=now))
        skipped |= any(c["skipped_to"] for c in doc["validator_changes"])
    assert skipped is skips  # a skipping link is used wherever a verifier takes one
