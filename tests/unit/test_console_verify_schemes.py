"""The /verify page's in-browser verifier (static/js/proof.js, under Node) on chains whose
validators sign with other schemes than Ed25519: an ECDSA P-256 chain's and an SM2/SM3
chain's evidence certificates are accepted with their file, and every sampled flipped byte,
a P-256 signature with a high s (the other valid ECDSA signature, which the chain refuses),
an SM2 precommit whose [s]G + [t]P_A is the point at infinity and another chain's genesis
are refused — the Python verifier agreeing on every case. The
vendored SM2/SM3 library meets the standards' published vectors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from test_console_verify import NODE, case, run

from tianfu.apps.evidence.certificate import EvidenceCertificateError, verify_certificate
from tianfu.apps.evidence.demo import DEMO_FILE
from tianfu.apps.registry import application
from tianfu.codec import decode, encode
from tianfu.crypto import ECDSA_P256, SM2, SM2_SUITE, process_suite, set_chain_suite
from tianfu.crypto.suite import STANDARD
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
    # Made under the standard suite whatever is in force: pytest-xdist may tear the module's
    # fixtures down between two tests and make this one again while `sm2_chain`'s suite is.
    with STANDARD.use():
        chain = AppChain(tmp_path_factory.mktemp("p256"), scheme=ECDSA_P256)
        made = issue(chain)
    try:
        yield made
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


# -- the SM2/SM3 suite ------------------------------------------------------------------------
VENDOR = Path(__file__).resolve().parents[2] / "src/tianfu/web/static/vendor/sm-crypto-v2/index.js"


def node_json(script: str) -> Any:
    assert NODE is not None
    out = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_vendored_sm_library_meets_the_standards_vectors() -> None:
    """GB/T 32905-2016 Appendix A (SM3) and GB/T 32918.5-2017 Appendix A (the SM2 signature
    of "message digest" with the standard user id on the recommended curve)."""
    from test_sm2 import MESSAGE, SM3_ABC, SM3_ABCD16, XA, YA, R, S

    key = "04" + (XA + YA).hex()
    other = f"{int(S, 16) ^ 1:064x}"
    script = f"""
        import {{ sm2, sm3 }} from {json.dumps(VENDOR.as_uri())};
        const msg = new TextEncoder().encode({json.dumps(MESSAGE.decode())});
        const v = (sig) => sm2.doVerifySignature(msg, sig, {json.dumps(key)}, {{ hash: true }});
        process.stdout.write(JSON.stringify([
          sm3("abc"), sm3("abcd".repeat(16)),
          v({json.dumps(R + S)}), v({json.dumps(R + other)}),
        ]));
    """
    assert node_json(script) == [SM3_ABC, SM3_ABCD16, True, False]


@pytest.fixture(scope="module")
def sm2_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppChain, str, bytes]]:
    """An SM2 chain and its demo certificate (the chain runs with the SM2 suite in force)."""
    before = process_suite()
    set_chain_suite(SM2_SUITE)
    chain = AppChain(tmp_path_factory.mktemp("sm2"), scheme=SM2)
    try:
        yield (chain, *issue(chain))
    finally:
        chain.close()
        set_chain_suite(before)


@pytest.fixture(scope="module")
def sm2_chain(sm2_app: tuple[AppChain, str, bytes]) -> tuple[str, bytes]:
    """An SM2 chain's demo certificate."""
    return sm2_app[1], sm2_app[2]


def test_an_sm2_chains_certificate_verifies(sm2_chain: tuple[str, bytes]) -> None:
    cert, genesis = sm2_chain
    doc = json.loads(cert)
    assert doc["suite"] == "sm2" and doc["validator_changes"][0]["validators"][0]["scheme"] == SM2
    ok, changed_file = run([case(cert, genesis, DEMO_FILE), case(cert, genesis, b"other")])
    assert ok["ok"] and ok["file"] is True, ok["reason"]
    assert ok["result"]["signers"] == ["node0 (org1)"]
    assert ok["result"]["genesisHash"] == doc["genesis_hash"]
    assert changed_file["ok"] and changed_file["file"] is False
    assert python_accepts(cert, genesis)


def test_an_sm2_certificate_with_any_sampled_flipped_byte_is_refused(
    sm2_chain: tuple[str, bytes],
) -> None:
    cert, genesis = sm2_chain
    cases = flipped_cases(cert, genesis, 80)
    for r, c in zip(run(cases), cases, strict=True):
        assert not r["ok"], "a flipped bit of the proof was accepted"
        assert not python_accepts(str(c["cert"]), genesis)


def test_an_sm2_certificate_is_refused_with_a_standard_genesis(
    sm2_chain: tuple[str, bytes], p256: tuple[str, bytes]
) -> None:
    cert, _ = sm2_chain
    _, standard = p256
    (r,) = run([case(cert, standard, DEMO_FILE)])
    assert not r["ok"] and "genesis" in r["reason"]
    assert not python_accepts(cert, standard)


def sm2_e(public_key: bytes, message: bytes) -> int:
    """SM2's e = SM3(Z_A || m) with the standard user id (docs/spec/crypto.md)."""
    from test_sm2 import GX, GY, A, B

    from tianfu.codec import SM3
    from tianfu.crypto.sm2 import expand_public_key

    uid = b"1234567812345678"
    curve = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
    z = SM3.hash(b"\x00\x80" + uid + curve + expand_public_key(public_key)[1:])
    return int.from_bytes(SM3.hash(z + message), "big")


def test_an_sm2_precommit_at_infinity_is_refused_by_the_console_and_python(
    sm2_app: tuple[AppChain, str, bytes],
) -> None:
    """The validator's key holder signs its precommit with r = e, s = -r*d/(1 + d), so that
    [s]G + [t]P_A is the point at infinity: no SM2 signature (docs/spec/crypto.md). The
    console's verifier read that point's x as 0 and accepted the certificate; Python
    (Tongsuo) refuses it. Both refuse it now."""
    from tianfu.crypto.sm2 import N

    chain, cert, genesis = sm2_app
    d = chain.driver.key.private.private_numbers().private_value
    doc = json.loads(cert)
    bundle = decode(bytes.fromhex(doc["raw"]), ProofBundle)
    block = bundle.blocks[0]
    commit = decode(block.block.certificate, CommitCertificate)
    sig = commit.signatures[0]
    r = sm2_e(chain.driver.key.public_key, commit.signing_bytes(sig, chain.genesis.vote_domain)) % N
    s = -r * d * pow(1 + d, -1, N) % N
    forged = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    commit = msgspec.structs.replace(
        commit, signatures=[msgspec.structs.replace(sig, signature=forged)]
    )
    light = msgspec.structs.replace(block.block, certificate=encode(commit))
    changed = msgspec.structs.replace(bundle, blocks=[msgspec.structs.replace(block, block=light)])
    text = json.dumps({**doc, "raw": encode(changed).hex()})
    (res,) = run([case(text, genesis, DEMO_FILE)])
    assert not res["ok"] and "signature" in res["reason"], res["reason"]
    assert not python_accepts(text, genesis)
