"""Places where docs/spec let an outsider's verifier give another verdict than ours, made
exact (the fifth review of the verifiers): each test makes the document the specification
now settles and checks that every verifier (SDK, spec verifier, console under Node) says
what it says."""

from __future__ import annotations

from typing import Any

import pytest
import verifiers_agree_chain as vac
from test_verifiers_agree_review import three

from tianfu.codec import encode
from tianfu.crypto import ED25519, SM2, chain_suite
from tianfu.execution.contract_api import state_key
from tianfu.proofs.build import ProofBuilder
from tianfu.proofs.documents import make_document
from tianfu.proofs.valchain import TrustOptions


def odd_times_document(suite: str) -> dict[str, Any]:
    """A `state` document of block 3 of a chain whose block 1 is not dated at the genesis
    time and whose blocks 2 and 3 are not dated at their BFT median times (block 3 earlier
    than block 2): every certificate is valid, only the times break the rule validators
    apply when they vote (blocks.md#block-header)."""
    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"outsider-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"outsider-{suite}", suite,
                            [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        times = iter([m.T0 + 50_000, m.T0 + 40_000])
        t0, median = m.T0, m.median_time
        try:
            m.T0 = t0 + 7_000  # block 1's time (the genesis says T0)
            m.median_time = lambda *_: next(times)
            chain.commit([], {state_key("kv", "v"): encode("x")})
            chain.commit()
            chain.commit()
        finally:
            m.T0, m.median_time = t0, median
        assert [b.header.time_ms for b in chain.blocks] == [t0 + 7_000, t0 + 50_000, t0 + 40_000]
        now = t0 + 3_600_000
        bundle = ProofBuilder(chain).state_bundle([("kv", "v")], 3)
        doc = make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now))
        return {"name": "odd times", "kind": "state", "document": doc,
                "genesis": encode(chain.genesis), "now_ms": now}  # fmt: skip


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_header_time_no_rule_of_voting_allows_is_accepted_by_every_verifier(suite: str) -> None:
    """blocks.md said a verifier of proofs MAY check a header's BFT median time: one that
    did would refuse what the others accept. It now says no verifier checks it (the
    certificate certifies the time; the set of h - 1 is not always known)."""
    verdicts = three(odd_times_document(suite))
    assert all(ok for ok, _ in verdicts), verdicts


def around_a_change(suite: str) -> list[tuple[dict[str, Any], bool]]:
    """`state` documents of blocks c - 1 … c + 3 around a change written by block c = 3
    (node4 leaves), each with the link at c and without it, with the verdict
    proofs.md#validator-chain gives: the link may be carried by a document of any of these
    blocks (even one before c: links need not end below the proven block); without it a
    verifier presumes the genesis set, which signs blocks up to c + 1 only."""
    from tianfu.proofs.formats import BlockProof, ProofBundle, ValidatorLink
    from tianfu.proofs.valchain import VALIDATORS_KEY

    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"around-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"around-{suite}", suite,
                            [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        key = state_key("kv", "v")
        chain.commit([], {key: encode(1)})
        chain.commit([], {key: encode(2)})
        c = 3
        chain.change_validators(list(chain.genesis.validators[:3]))
        for i in range(4, 7):
            chain.commit([], {key: encode(i)})
        b = ProofBuilder(chain)
        e = b.entry(VALIDATORS_KEY, c)
        link = ValidatorLink(b.light_block(c), e.value, e.proof)
        now = m.T0 + 3_600_000
        out = []
        for t in range(c - 1, c + 4):
            block = BlockProof(b.light_block(t), [], [b.entry(key, t)])
            for links in ([link], []):
                bundle = ProofBundle(1, links, [block])
                name = f"block {t} {'with' if links else 'without'} the link at {c}"
                if links or t <= c + 1:
                    doc = make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now))
                else:  # no verifier makes it: the document with the link, the link taken out
                    doc = make_document("state", ProofBundle(1, [link], [block]), chain.genesis,
                                        TrustOptions(now_ms=now))  # fmt: skip
                    doc["raw"] = encode(bundle).hex()
                out.append(({"name": name, "kind": "state", "document": doc,
                             "genesis": encode(chain.genesis), "now_ms": now},
                            bool(links) or t <= c + 1))  # fmt: skip
        return out


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_documents_one_height_either_side_of_a_change_get_one_verdict(suite: str) -> None:
    """Blocks c - 1 … c + 3 around a change written by block c, with and without its link:
    every verifier accepts each document with the link, and without it accepts blocks up
    to c + 1 and refuses c + 2 and c + 3 (the new set signs them; the presumed genesis set
    is not the one their headers name)."""
    for base, valid in around_a_change(suite):
        verdicts = three(base)
        assert [ok for ok, _ in verdicts] == [valid] * len(verdicts), (base["name"], verdicts)
