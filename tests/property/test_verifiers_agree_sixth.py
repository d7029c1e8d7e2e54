"""Verifier disagreements found by the sixth review of the verifiers (SDK, spec verifier,
console under Node): each test makes the document the specification settles and checks
that every verifier says what it says."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import verifiers_agree_chain as vac
import verifiers_agree_lib as lib
from test_verifiers_agree import SIGNATURE_RUNNER
from test_verifiers_agree_review import three

from tianfu.codec import encode
from tianfu.crypto import ED25519, SM2, chain_suite
from tianfu.execution.contract_api import state_key
from tianfu.proofs.build import SKIPPING, ProofBuilder
from tianfu.proofs.documents import make_document
from tianfu.proofs.valchain import TrustOptions
from tianfu.types import Validator

BIG = 2**60  # a power beyond 2^53 (what a JavaScript number holds exactly)


def big_power_documents(suite: str) -> list[dict[str, Any]]:
    """`state` documents of a chain whose genesis gives node1 the power 2^60 (the others 1)
    and whose block 3 gives node2 the power 2^60 + 1 and adds a member of scheme and power
    2^64 − 1 and power 2^59 that never signs (the others outweigh it): blocks.md#validator-sets bounds a
    power only by the encoding (an unsigned 64-bit integer), so every verifier reads it
    exactly — from the genesis, from a proven `governance/validators` entry (sequential
    link) and from a skipping link's set."""
    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"big-{suite}/node{i + 1}", scheme) for i in range(4)]
        powers = [BIG, 1, 1, 1]
        chain = m.SpecChain(f"big-{suite}", suite,
                            [(s, f"org{i + 1}", powers[i]) for i, s in enumerate(signers)])  # fmt: skip
        key = state_key("kv", "v")
        chain.commit([], {key: encode("x")})  # 1
        chain.commit()  # 2
        g = list(chain.genesis.validators)
        odd = m.Signer.make(f"big-{suite}/odd", scheme)
        chain.abstain.add(odd.public_key)  # its scheme is no suite's: it cannot sign
        member = Validator("odd", "org1", 2**64 - 1, odd.public_key, BIG // 2)
        chain.change_validators([g[0], msgspec.structs.replace(g[1], power=BIG + 1), *g[2:],
                                 member])  # 3  # fmt: skip
        for _ in range(3):
            chain.commit()  # 4 … 6
        now = m.T0 + 3_600_000
        b = ProofBuilder(chain)
        out = []
        for name, bundle in [("block 2 (the genesis set)", b.state_bundle([("kv", "v")], 2)),
                             ("block 6 (sequential)", b.state_bundle([("kv", "v")], 6)),
                             ("block 6 (skipping)", b.state_bundle([("kv", "v")], 6, SKIPPING))]:  # fmt: skip
            doc = make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now))
            out.append({"name": name, "kind": "state", "document": doc,
                        "genesis": encode(chain.genesis), "now_ms": now})  # fmt: skip
        return out


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_validator_power_beyond_2_53_is_read_exactly_by_every_verifier(suite: str) -> None:
    """The console refused every document of a chain with a power beyond 2^53 ("too large
    for the browser verifier") that the SDK and the spec verifier accept."""
    for base in big_power_documents(suite):
        verdicts = three(base)
        assert all(ok for ok, _ in verdicts), (base["name"], verdicts)


def repeated_key_chain(suite: str) -> tuple[Any, dict[str, Any]]:
    """A chain whose block 1 writes a set listing node1's key twice — node1 (power 1) and,
    last, "node1-again" (power 10), with node2 … node4 (power 1 each; total 14) — and a
    `state` document of block 3, the first that set signs, certified by one precommit of
    each key. Counting a repeated key with its last member (blocks.md#validator-sets) the
    signers hold 13 of 14; with its first, 4 of 14. No chain writes such a set (genesis,
    governance and staking refuse it); a verifier does not check that of a proven set."""
    with chain_suite(suite).use():
        m = vac._chain_module()
        scheme = ED25519 if suite == "standard" else SM2
        signers = [m.Signer.make(f"repeat-{suite}/node{i + 1}", scheme) for i in range(4)]
        chain = m.SpecChain(f"repeat-{suite}", suite,
                            [(s, f"org{i + 1}", 1) for i, s in enumerate(signers)])  # fmt: skip
        g = list(chain.genesis.validators)
        again = msgspec.structs.replace(g[0], name="node1-again", power=10)
        chain.change_validators([*g, again])  # 1: signs from 3
        chain.commit([], {state_key("kv", "v"): encode("x")})  # 2
        chain.commit()  # 3: SpecChain signs once per member, so node1's key twice
        cert = chain.certs[-1]
        once = list({s.validator: s for s in reversed(cert.signatures)}.values())[::-1]
        chain.certs[-1] = msgspec.structs.replace(cert, signatures=once)
        assert len(once) == 4 and chain.set_at(3).total_power == 14
        now = m.T0 + 3_600_000
        bundle = ProofBuilder(chain).state_bundle([("kv", "v")], 3)
        doc = make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now))
        return chain, {"name": "a repeated key", "kind": "state", "document": doc,
                       "genesis": encode(chain.genesis), "now_ms": now}  # fmt: skip


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_a_repeated_key_counts_with_its_last_member_in_every_check(suite: str) -> None:
    """The node's `verify_commit` (sync, replay, the store guard) took a repeated key's
    first member where the spec and the three verifiers of documents take the last: it
    refused the certificate they accept."""
    from tianfu.crypto import verify_commit
    from tianfu.proofs.commit import check_commit

    chain, base = repeated_key_chain(suite)
    with chain_suite(suite).use():
        header, cert, valset = chain.header(3), chain.certificate(3), chain.set_at(3)
        check_commit(cert, header, valset, chain.chain_id)
        verify_commit(cert, header.hash, 3, valset, chain.chain_id)
        assert valset.by_key(valset.validators[0].public_key) == valset.validators[-1]
    verdicts = three(base)
    assert all(ok for ok, _ in verdicts), verdicts
    for name, doc in later_documents(chain, suite, base["now_ms"]):
        verdicts = three({**base, "name": name, "document": doc})
        assert all(ok for ok, _ in verdicts), (name, verdicts)


def later_documents(chain: Any, suite: str, now: int) -> list[tuple[str, dict[str, Any]]]:
    """The chain of `repeated_key_chain` goes on: block 4 (signed by the set with the
    repeated key) writes the genesis set again, blocks 5 … 8 follow; `state` documents of
    block 8 with sequential links (1 and 4) and with a skipping link to block 4 (its own
    set, the one with the repeated key, carried in the link)."""

    def once() -> None:  # SpecChain signs once per member: node1's key would sign twice
        cert = chain.certs[-1]
        sigs = list({s.validator: s for s in reversed(cert.signatures)}.values())[::-1]
        chain.certs[-1] = msgspec.structs.replace(cert, signatures=sigs)

    with chain_suite(suite).use():
        chain.change_validators(list(chain.genesis.validators))  # 4
        once()
        chain.commit()  # 5: still the set with the repeated key
        once()
        for _ in range(3):
            chain.commit()  # 6 … 8
        b = ProofBuilder(chain)
        out = []
        for name, bundle in [("block 8, sequential", b.state_bundle([("kv", "v")], 8)),
                             ("block 8, skipping", b.state_bundle([("kv", "v")], 8, SKIPPING))]:  # fmt: skip
            assert len(bundle.validators) == (2 if name.endswith("sequential") else 1)
            out.append(
                (name, make_document("state", bundle, chain.genesis, TrustOptions(now_ms=now)))
            )
        return out


def ed25519_cases() -> list[tuple[bytes, bytes, bytes]]:
    """(public key, message, signature): 70 keys signing twice and 4 keys signing 12
    messages each (each valid, then with a bit of S, a bit of R flipped, and over another
    message), and the holder-made signatures of test_verifiers_agree three times over (a
    small-order R; a key with an order-8 component, signing honestly: valid exactly when 8
    divides k) — in one order, so the console sees keys again and again."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from test_verifiers_agree import (
        ED_B,
        ED_L,
        ORDER_8,
        _ed_add,
        _ed_encode,
        _ed_hash,
        _ed_mul,
        holder_made_ed25519_signatures,
    )

    from tianfu.crypto import KeyPair

    def key(seed: bytes) -> KeyPair:
        return KeyPair.from_private(Ed25519PrivateKey.from_private_bytes(seed))

    out: list[tuple[bytes, bytes, bytes]] = []
    for i in range(70):
        kp = key(bytes([i]) * 32)
        out += [(kp.public_key, bytes([j]) * 32, kp.sign(bytes([j]) * 32)) for j in range(2)]
    for i in range(4):
        kp = key(bytes([100 + i]) * 32)
        for j in range(12):
            m = bytes([j, i]) * 16
            sig = kp.sign(m)
            out += [(kp.public_key, m, sig),
                    (kp.public_key, m, sig[:40] + bytes([sig[40] ^ 4]) + sig[41:]),
                    (kp.public_key, m, bytes([sig[0] ^ 1]) + sig[1:]),
                    (kp.public_key, b"\xff" * 32, sig)]  # fmt: skip
    a = 0x7654321 * 8 + 2**254
    mixed = _ed_encode(_ed_add(_ed_mul(a, ED_B), lib.specwire.ed_point(ORDER_8, True)))
    for j in range(24):
        m, r = bytes([j]) * 32, 13 + j
        big_r = _ed_encode(_ed_mul(r, ED_B))
        out.append((mixed, m, big_r + ((r + _ed_hash(big_r, mixed, m) * a) % ED_L).to_bytes(32, "little")))  # fmt: skip
    out += [(pub, m, sig) for _ in range(3) for _, pub, m, sig in holder_made_ed25519_signatures()]
    return out


def test_the_console_keeps_the_sdks_ed25519_verdicts_with_its_key_tables() -> None:
    """The console keeps each Ed25519 key decoded, and from its second use a table of its
    multiples (chain.js, edMultiply): over keys seen again and again (70 keys, more than it
    keeps), valid, changed and holder-made signatures, it says what the SDK (libsodium) says."""
    import json
    import subprocess

    from tianfu.crypto import ED25519, STANDARD, verify

    cases = ed25519_cases()
    with STANDARD.use():
        sdk = [verify(ED25519, pub, m, sig) for pub, m, sig in cases]
    assert 100 < sum(sdk) < len(sdk) - 100 and any(sdk[-30:-9]) and not all(sdk[-30:-9])
    if lib.NODE is None:
        return
    payload = [{"suite": "standard", "scheme": 1, "public_key": pub.hex(), "message": m.hex(),
                "signature": sig.hex()} for pub, m, sig in cases]  # fmt: skip
    out = subprocess.run([lib.NODE, str(SIGNATURE_RUNNER)], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert out.returncode == 0, out.stderr
    js = json.loads(out.stdout)
    assert js == sdk, [i for i, (x, y) in enumerate(zip(js, sdk, strict=True)) if x != y]


def test_a_total_power_beyond_2_64_is_read_exactly() -> None:
    """documents.md said a document's integers reach 2^64 - 1: a verifier parsing them
    into 64-bit integers would refuse a `validators` document whose `total_power` (four
    powers of 2^64 - 1) is beyond that, which the SDK and the spec verifier accept (and
    refuse one less). The console does not verify `validators` documents."""
    with chain_suite("standard").use():
        m = vac._chain_module()
        signers = [m.Signer.make(f"total/node{i + 1}", ED25519) for i in range(4)]
        chain = m.SpecChain("total", "standard",
                            [(s, f"org{i + 1}", 2**64 - 1) for i, s in enumerate(signers)])  # fmt: skip
        for _ in range(3):
            chain.commit()
        now = m.T0 + 3_600_000
        bundle = ProofBuilder(chain).validators_bundle(3)
        doc = make_document("validators", bundle, chain.genesis, TrustOptions(now_ms=now))
    assert doc["total_power"] == 4 * (2**64 - 1)

    def two(d: dict[str, Any]) -> list[tuple[bool, str]]:
        case = lib.Case("total", lib.dumps(d), now)
        g = encode(chain.genesis)
        return [lib.verdict_sdk(case, g, "validators"), lib.verdict_spec(case, g, "validators")]

    assert two(doc) == [(True, "")] * 2
    assert not any(ok for ok, _ in two(dict(doc, total_power=doc["total_power"] - 1)))


def test_the_console_keeps_the_sdks_sm2_verdicts_with_its_key_tables() -> None:
    """The console keeps each SM2 key's point with a table of its multiples from its second
    use (chain.js, sm2Point): over 70 keys signing twice (more than it keeps) and 4 keys
    signing 8 messages each — valid, with a bit of s or r flipped, over another message —
    and a key off the curve used three times, it says what the SDK says."""
    import json
    import subprocess

    from tianfu.crypto import SM2 as SM2_SCHEME
    from tianfu.crypto import SM2_SUITE, verify

    m = vac._chain_module()
    with SM2_SUITE.use():  # the signers check what they sign under the chain's suite
        cases: list[tuple[bytes, bytes, bytes]] = []
        for i in range(70):
            s = m.Signer.make(f"sm2-table/key{i}", SM2_SCHEME)
            cases += [(s.public_key, bytes([j]) * 32, s.sign(bytes([j]) * 32)) for j in range(2)]
        for i in range(4):
            s = m.Signer.make(f"sm2-table/many{i}", SM2_SCHEME)
            for j in range(8):
                msg = bytes([j, i]) * 16
                sig = s.sign(msg)
                cases += [(s.public_key, msg, sig),
                          (s.public_key, msg, sig[:40] + bytes([sig[40] ^ 4]) + sig[41:]),
                          (s.public_key, msg, bytes([sig[0] ^ 1]) + sig[1:]),
                          (s.public_key, b"\xff" * 32, sig)]  # fmt: skip
        off = b"\x02" + bytes(31) + b"\x05"  # x = 5: x³ + ax + b is no square, no point has it
        cases += [(off, bytes(32), cases[-1][2])] * 3
        sdk = [verify(SM2_SCHEME, pub, msg, sig) for pub, msg, sig in cases]
    assert sum(sdk) == 140 + 32, [i for i, ok in enumerate(sdk) if ok and i >= 140]
    if lib.NODE is None:
        return
    payload = [{"suite": "sm2", "scheme": SM2_SCHEME, "public_key": pub.hex(), "message": msg.hex(),
                "signature": sig.hex()} for pub, msg, sig in cases]  # fmt: skip
    out = subprocess.run([lib.NODE, str(SIGNATURE_RUNNER)], input=json.dumps(payload),
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert out.returncode == 0, out.stderr
    js = json.loads(out.stdout)
    assert js == sdk, [i for i, (x, y) in enumerate(zip(js, sdk, strict=True)) if x != y]
