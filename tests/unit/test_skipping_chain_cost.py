"""A node computes a skipping validator chain with one certificate check per change: the
search for the furthest jump uses the verified signers of each change's block, kept, so a
chain of n changes costs n signature checks (not one per pair of changes), and none again
for later requests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

import tianfu.proofs.build as build
from tianfu.crypto import ED25519
from tianfu.proofs.build import SKIPPING, ProofBuilder
from tianfu.proofs.documents import make_document
from tianfu.proofs.formats import BUNDLE_VERSION, BlockProof, ProofBundle
from tianfu.proofs.valchain import TrustOptions
from tianfu.types import Validator

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"


def spec_chain_module() -> Any:
    spec = importlib.util.spec_from_file_location("spec_vectors_chain", VECTORS / "chain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rotating() -> Any:
    """A chain whose validator set is replaced entirely by each of 8 changes, so that no
    jump over more than one change is possible (the worst case of the search)."""
    m = spec_chain_module()
    sets = [[m.Signer.make(f"rot/{k}/{i}", ED25519) for i in range(4)] for k in range(9)]
    chain = m.SpecChain("rotating", "standard", [(s, "org1", 1) for s in sets[0]])
    for k in range(1, 9):
        for s in sets[k]:
            chain.add_signer(s)
        chain.change_validators(
            [
                Validator(f"v{k}-{i}", "org1", s.scheme, s.public_key, 1)
                for i, s in enumerate(sets[k])
            ]
        )
        chain.commit()
    for _ in range(3):
        chain.commit()
    return chain, m.T0


def test_the_furthest_jump_search_checks_each_certificate_once(rotating, monkeypatch):
    chain, t0 = rotating
    calls = []
    real = build.check_commit

    def counting(*args: Any) -> Any:
        calls.append(args[1].height)
        return real(*args)

    monkeypatch.setattr(build, "check_commit", counting)
    builder = ProofBuilder(chain)
    top = chain.height()
    links = builder.validator_chain(top, mode=SKIPPING)
    assert len(links) == 8  # every change needs its own link here
    assert sorted(calls) == sorted(set(calls)) and len(calls) <= 8
    builder.validator_chain(top, mode=SKIPPING)
    builder.validator_chain(top - 1, mode=SKIPPING)
    assert len(calls) <= 8  # kept for later requests
    # And the chain verifies from the genesis (with the clock of the chain's own time).
    bundle = ProofBundle(BUNDLE_VERSION, links, [BlockProof(builder.light_block(top), [], [])])
    doc = make_document("validators", bundle, chain.genesis, TrustOptions(now_ms=t0 + 60_000))
    assert len(doc["validator_changes"]) == 9
