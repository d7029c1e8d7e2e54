"""The /verify page's in-browser verifier (static/js/proof.js, under Node) on chains whose
validators sign with other schemes than Ed25519: an ECDSA P-256 chain's evidence
certificate is accepted with its file, and every sampled flipped byte and a signature with
a high s (the other valid ECDSA signature, which the chain refuses) are refused — the
Python verifier agreeing on every case."""

from __future__ import annotations

import json
from collections.abc import Iterator

import msgspec
import pytest
from test_console_verify import NODE, case, run

from tianfu.apps.evidence.certificate import EvidenceCertificateError, verify_certificate
from tianfu.apps.evidence.demo import DEMO_FILE
from tianfu.apps.registry import application
from tianfu.codec import decode, encode
from tianfu.crypto import ECDSA_P256
from tianfu.proofs.formats import ProofBundle
from tianfu.testing.appchain import AppChain
from tianfu.types import CommitCertificate, Genesis

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js runs the browser verifier here")
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def issue(chain: AppChain) -> tuple[str, bytes]:
    application("evidence").create_demo(chain)
    r = chain.http.get("/evidence/EV000001/certificate.json")
    assert r.status_code == 200, r.text
    genesis = chain.ledger.store.load_genesis()
    assert genesis is not None
    return r.text, genesis


def python_accepts(cert: str, genesis: bytes, file: bytes | None = DEMO_FILE) -> bool:
    try:
        verify_certificate(cert, file, decode(genesis, Genesis))
    except EvidenceCertificateError:
        return False
    return True


def flipped_cases(cert: str, genesis: bytes, samples: int) -> list[dict[str, object]]:
    doc = json.loads(cert)
    raw = bytes.fromhex(doc["raw"])
    out = []
    for pos in sorted({int(i * (len(raw) - 1) / (samples - 1)) for i in range(samples)}):
        b = bytearray(raw)
        b[pos] ^= 0x01
        out.append(case(json.dumps({**doc, "raw": b.hex()}), genesis, DEMO_FILE))
    return out


@pytest.fixture(scope="module")
def p256(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes]]:
    chain = AppChain(tmp_path_factory.mktemp("p256"), scheme=ECDSA_P256)
    try:
        yield issue(chain)
    finally:
        chain.close()


def test_a_p256_chains_certificate_verifies(p256: tuple[str, bytes]) -> None:
    cert, genesis = p256
    assert json.loads(cert)["validator_changes"][0]["validators"][0]["scheme"] == ECDSA_P256
    ok, changed_file = run([case(cert, genesis, DEMO_FILE), case(cert, genesis, b"other")])
    assert ok["ok"] and ok["file"] is True, ok["reason"]
    assert ok["result"]["signers"] == ["node0 (org1)"]
    assert changed_file["ok"] and changed_file["file"] is False
    assert python_accepts(cert, genesis)


def test_a_p256_certificate_with_any_sampled_flipped_byte_is_refused(
    p256: tuple[str, bytes],
) -> None:
    cert, genesis = p256
    cases = flipped_cases(cert, genesis, 80)
    for r, c in zip(run(cases), cases, strict=True):
        assert not r["ok"], "a flipped bit of the proof was accepted"
        assert not python_accepts(str(c["cert"]), genesis)


def test_a_high_s_p256_signature_is_refused(p256: tuple[str, bytes]) -> None:
    """(r, n - s) is a valid ECDSA signature too; the chain accepts only the low-s one."""
    cert, genesis = p256
    doc = json.loads(cert)
    bundle = decode(bytes.fromhex(doc["raw"]), ProofBundle)
    block = bundle.blocks[0]
    commit = decode(block.block.certificate, CommitCertificate)
    sig = commit.signatures[0]
    s = int.from_bytes(sig.signature[32:], "big")
    high = sig.signature[:32] + (P256_N - s).to_bytes(32, "big")
    commit = msgspec.structs.replace(
        commit, signatures=[msgspec.structs.replace(sig, signature=high)]
    )
    light = msgspec.structs.replace(block.block, certificate=encode(commit))
    changed = msgspec.structs.replace(bundle, blocks=[msgspec.structs.replace(block, block=light)])
    text = json.dumps({**doc, "raw": encode(changed).hex()})
    (r,) = run([case(text, genesis, DEMO_FILE)])
    assert not r["ok"] and "signature" in r["reason"], r["reason"]
    assert not python_accepts(text, genesis)
