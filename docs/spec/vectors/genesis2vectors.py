"""Vectors of a version-2 genesis (ADR 0039, blocks.md#votes): its votes' sign bytes, which
bind the genesis hash, documents of its chain, and the same documents presented with the
genesis of a relaunched chain (the same chain id, organisations and validator keys, another
time and policies: another genesis hash), which every verifier MUST refuse."""

from __future__ import annotations

from typing import Any

import msgspec
from chain import T0, Signer, SpecChain, signed_tx

from tianfu.codec import encode
from tianfu.crypto import ECDSA_P256, ED25519, SM2, chain_suite
from tianfu.execution.contract_api import state_key
from tianfu.proofs.build import ProofBuilder
from tianfu.proofs.documents import make_document
from tianfu.proofs.valchain import TrustOptions
from tianfu.types import OK, PRECOMMIT, PREVOTE, Event, Genesis, Policies, Receipt
from tianfu.types import vote_signing_bytes as sign_bytes

NOW_MS = T0 + 3_600_000
RELAUNCH_MS = 86_400_000  # the relaunched genesis is dated a day later


def relaunched(genesis: Genesis) -> Genesis:
    """The same chain id, organisations and validators, launched a day later under other
    policies: another genesis, another genesis hash."""
    return msgspec.structs.replace(
        genesis, time_ms=genesis.time_ms + RELAUNCH_MS, policies=Policies("all", "all")
    )


def _chain(suite: str) -> tuple[SpecChain, bytes]:
    schemes = [ED25519, ED25519, ED25519, ECDSA_P256] if suite == "standard" else [SM2] * 4
    user = Signer.make(f"v2/{suite}/alice", schemes[0])
    signers = [Signer.make(f"v2/{suite}/node{i + 1}", sc) for i, sc in enumerate(schemes)]
    chain = SpecChain(f"spec2-{suite}", suite,
                      [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)], version=2)  # fmt: skip
    tx = signed_tx(user, chain.chain_id, 1, "kv", "put", ["alpha", "one"])
    receipt = Receipt(OK, 10, None, "", [Event("kv", "Put", {"key": "alpha"})])
    chain.commit([(tx, receipt)], {state_key("kv", "alpha"): encode("one")})  # 1
    chain.commit()  # 2
    chain.commit()  # 3
    return chain, tx.hash


def _votes(chain: SpecChain) -> list[dict[str, Any]]:
    d = chain.vote_domain
    assert d.genesis_hash is not None
    out = []
    for name, args in (("prevote of a block", (2, 0, PREVOTE, bytes([7]) * 32, 0)),
                       ("precommit of a block", (2, 1, PRECOMMIT, bytes([7]) * 32, T0 + 5)),
                       ("nil precommit", (3, 0, PRECOMMIT, b"", 0))):  # fmt: skip
        h, r, t, bh, ms = args
        out.append({"name": name, "chain_id": d.chain_id, "genesis_hash": d.genesis_hash.hex(),
                    "height": h, "round": r, "type": t, "block_hash": bh.hex(), "time_ms": ms,
                    "sign_bytes": sign_bytes(d, h, r, t, bh, ms).hex()})  # fmt: skip
    return out


def genesis2_vectors() -> dict[str, Any]:
    geneses: dict[str, str] = {}
    hashes: dict[str, str] = {}
    votes: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    for suite in ("standard", "sm2"):
        with chain_suite(suite).use():
            chain, tx_hash = _chain(suite)
            g = chain.genesis
            again = relaunched(g)
            assert again.hash != g.hash and again.vote_domain != g.vote_domain
            geneses[suite] = encode(g).hex()
            geneses[f"{suite}-relaunched"] = encode(again).hex()
            hashes[suite], hashes[f"{suite}-relaunched"] = g.hash.hex(), again.hash.hex()
            votes += [{"suite": suite, **v} for v in _votes(chain)]
            b = ProofBuilder(chain)
            opts = TrustOptions(now_ms=NOW_MS)
            docs = {
                "tx": ("tx", make_document("tx", b.tx_bundle(tx_hash), g, opts)),
                "state": (
                    "state",
                    make_document("state", b.state_bundle([("kv", "alpha")], 3), g, opts),
                ),  # fmt: skip
            }
        for name, (kind, doc) in docs.items():
            base = {"suite": suite, "kind": kind, "now_ms": NOW_MS, "document": doc}
            cases.append({"name": name, "genesis": suite, "valid": True, **base})
            cases.append({"name": f"{name}, presented with the relaunched genesis as issued",
                          "genesis": f"{suite}-relaunched", "valid": False, **base})  # fmt: skip
            rewritten = {**doc, "genesis_hash": hashes[f"{suite}-relaunched"]}
            cases.append({"name": f"{name}, its genesis_hash rewritten to the relaunched one",
                          "genesis": f"{suite}-relaunched", "valid": False,
                          **base, "document": rewritten})  # fmt: skip
    return {
        "description": "A version-2 genesis (blocks.md#genesis, #votes): its votes sign the "
        "genesis hash (tianfu/vote/v3). `geneses` holds, per suite, the genesis of a chain "
        "and that of a relaunched chain with the same chain id, organisations and validator "
        "keys (dated a day later, other policies). `votes`: sign bytes. `cases`: documents "
        "verified against the genesis named by `genesis` with the clock `now_ms`; `valid` "
        "says whether it MUST be accepted (a document of the first chain MUST be refused "
        "with the relaunched genesis, even with its genesis_hash rewritten).",
        "geneses": geneses,
        "genesis_hashes": hashes,
        "votes": votes,
        "cases": cases,
    }
