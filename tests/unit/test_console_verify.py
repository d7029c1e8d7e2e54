"""The /verify page's in-browser verifier (static/js/proof.js), run under Node: it accepts
the demo evidence certificate with its file and rejects it with a changed file, any changed
certificate byte or readable field, and a different genesis — and agrees with the Python
verifier on every case."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi.testclient import TestClient

from tianfu.apps.evidence.certificate import EvidenceCertificateError, verify_certificate
from tianfu.apps.evidence.demo import DEMO_FILE
from tianfu.apps.registry import application
from tianfu.codec import decode
from tianfu.proofs.documents import verify_document
from tianfu.proofs.errors import VerificationError
from tianfu.testing.appchain import AppChain
from tianfu.types import Genesis

NODE = shutil.which("node")
RUNNER = Path(__file__).resolve().parents[1] / "js" / "verify_runner.mjs"
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js runs the browser verifier here")


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("verify"))
    application("evidence").create_demo(c)
    application("traceability").create_demo(c)
    yield c
    c.close()


@pytest.fixture(scope="module")
def other_genesis(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    c = AppChain(tmp_path_factory.mktemp("other"))
    try:
        data = c.ledger.store.load_genesis()
        assert data is not None
        return data
    finally:
        c.close()


def run(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert NODE is not None
    out = subprocess.run(
        [NODE, str(RUNNER)], input=json.dumps(cases), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def case(cert: str, genesis: bytes, file: bytes | None) -> dict[str, Any]:
    return {
        "cert": cert,
        "genesis_hex": genesis.hex(),
        "file_hex": None if file is None else file.hex(),
    }


@pytest.fixture(scope="module")
def material(chain: AppChain) -> tuple[str, bytes, TestClient]:
    client: TestClient = chain.http
    r = client.get("/evidence/EV000001/certificate.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    genesis = chain.ledger.store.load_genesis()
    assert genesis is not None
    return r.text, genesis, client


def test_accepts_the_demo_certificate_with_and_without_its_file(
    material: tuple[str, bytes, TestClient],
) -> None:
    cert, genesis, client = material
    genesis_json = client.get("/v1/genesis").content
    with_file, without, via_json = run(
        [case(cert, genesis, DEMO_FILE), case(cert, genesis, None), case(cert, genesis_json, None)]
    )
    assert with_file["ok"] and with_file["file"] is True, with_file["reason"]
    assert without["ok"] and without["file"] is None
    assert via_json["ok"], via_json["reason"]
    r = with_file["result"]
    doc = json.loads(cert)
    assert r["depositId"] == "EV000001" and r["height"] == doc["height"]
    assert r["blockHash"] == doc["block_hash"] and r["timeMs"] == doc["time_ms"]
    assert r["org"] == doc["org"] and r["signers"] == ["node0 (org1)"]


def test_rejects_a_changed_file_and_a_different_genesis(
    material: tuple[str, bytes, TestClient], other_genesis: bytes
) -> None:
    cert, genesis, _ = material
    changed_file, other = run(
        [case(cert, genesis, DEMO_FILE + b" "), case(cert, other_genesis, DEMO_FILE)]
    )
    assert changed_file["ok"] and changed_file["file"] is False  # the page shows NOT VERIFIED
    assert not other["ok"] and "genesis" in other["reason"]
    with pytest.raises(EvidenceCertificateError):
        verify_certificate(cert, DEMO_FILE + b" ", decode_genesis(genesis))


def decode_genesis(data: bytes) -> Any:
    from tianfu.codec import decode
    from tianfu.types import Genesis

    return decode(data, Genesis)


def test_rejects_every_sampled_changed_byte_of_the_proof(
    material: tuple[str, bytes, TestClient],
) -> None:
    cert, genesis, _ = material
    doc = json.loads(cert)
    raw = bytes.fromhex(doc["raw"])
    positions = sorted({int(i * (len(raw) - 1) / 59) for i in range(60)})
    cases = []
    for pos in positions:
        flipped = bytearray(raw)
        flipped[pos] ^= 0x01
        cases.append(case(json.dumps({**doc, "raw": flipped.hex()}), genesis, DEMO_FILE))
    results = run(cases)
    g = decode_genesis(genesis)
    for pos, r, c in zip(positions, results, cases, strict=True):
        assert not r["ok"], f"a flipped bit at byte {pos} of the proof was accepted"
        with pytest.raises(EvidenceCertificateError):
            verify_certificate(c["cert"], DEMO_FILE, g)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Another title"),
        ("time_ms", 1),
        ("org", "org2"),
        ("height", 1),
        ("deposit_id", "EV000002"),
        ("file_sha256", "00" * 32),
        ("extra", "field"),
        ("kind", "state"),
        ("format", "tianfu-proof/v2"),
        ("raw", "zz"),
    ],
)
def test_rejects_a_changed_readable_field(
    material: tuple[str, bytes, TestClient], field: str, value: Any
) -> None:
    cert, genesis, _ = material
    doc = json.loads(cert)
    doc[field] = value
    (r,) = run([case(json.dumps(doc), genesis, DEMO_FILE)])
    assert not r["ok"], field


def test_rejects_malformed_inputs(material: tuple[str, bytes, TestClient]) -> None:
    cert, genesis, _ = material
    results = run(
        [
            case("not json", genesis, None),
            case("[]", genesis, None),
            case(cert, b"\x93\x01\x02", None),
            case(cert, b"", None),
            case(cert, b'{"raw": "0"}', None),
            case(json.dumps({**json.loads(cert), "raw": "dc" + "00" * 10}), genesis, None),
        ]
    )
    assert not any(r["ok"] for r in results), results


def test_state_proof_of_a_batch_record_verifies_and_tampering_is_rejected(
    material: tuple[str, bytes, TestClient], other_genesis: bytes
) -> None:
    """The trace page's mark: the batch record's state proof, verified in the browser."""
    _, genesis, client = material
    doc = client.get("/v1/proofs/state/traceability/batch:LJ-TIN-004").text
    parsed = json.loads(doc)
    raw = bytearray(bytes.fromhex(parsed["raw"]))
    raw[len(raw) // 3] ^= 0x04
    changed_value = json.loads(doc)
    changed_value["entries"][0]["value"]["recall"] = None
    cases = [
        {**case(doc, genesis, None), "kind": "state"},
        {**case(json.dumps({**parsed, "raw": raw.hex()}), genesis, None), "kind": "state"},
        {**case(json.dumps(changed_value), genesis, None), "kind": "state"},
        {**case(doc, other_genesis, None), "kind": "state"},
        case(doc, genesis, None),  # a state document is not an evidence certificate
    ]
    ok, flipped, unrecalled, other, wrong_kind = run(cases)
    assert ok["ok"], ok["reason"]
    (entry,) = ok["result"]["entries"]
    assert entry["key"] == "batch:LJ-TIN-004" and entry["value"]["recall"] is not None
    for r in (flipped, unrecalled, other, wrong_kind):
        assert not r["ok"]


def test_rejects_what_the_spec_parsing_rules_refuse(
    material: tuple[str, bytes, TestClient],
) -> None:
    """docs/spec/documents.md: a repeated key in any object, a number with a fraction or an
    exponent where an integer is proven, and a document over 40 MiB are refused — as the
    Python verifier refuses them — not read past by `JSON.parse` (which keeps the last of
    two keys and reads `6.0` as 6)."""
    cert, genesis, _ = material
    doc = json.loads(cert)
    height = doc["height"]
    body = cert.strip()
    assert body.startswith("{")
    repeated_first = '{"title": "A forged title",' + body[1:]
    repeated_nested = json.dumps(doc).replace(
        '"deposit": {', '"deposit": {"title": "A forged title", ', 1
    )
    assert repeated_nested != json.dumps(doc)
    as_float = json.dumps({**doc, "height": "@"}).replace('"@"', f"{height}.0")
    as_exponent = json.dumps({**doc, "height": "@"}).replace('"@"', f"{height}e0")
    padded = body[:-1] + " " * (40 << 20) + "}"
    cases = [repeated_first, repeated_nested, as_float, as_exponent, padded]
    g = decode_genesis(genesis)
    for text in cases:
        with pytest.raises(EvidenceCertificateError):
            verify_certificate(text, DEMO_FILE, g)
    results = run([case(text, genesis, DEMO_FILE) for text in cases])
    names = ("a repeated key", "a repeated nested key", "6.0", "6e0", "over 40 MiB")
    accepted = [n for n, r in zip(names, results, strict=True) if r["ok"]]
    assert not accepted, f"the console accepted a document with {accepted}"
    (ok,) = run([case(json.dumps(doc, indent=1), genesis, DEMO_FILE)])  # layout is free
    assert ok["ok"], ok["reason"]


def _early_evidence_vector() -> tuple[dict[str, Any], dict[str, Any], bytes, Any]:
    """The spec vectors' early evidence deposit (standard suite): its case, its document,
    the genesis bytes and the decoded proof bundle (a block of one transaction)."""
    vectors = Path(__file__).resolve().parents[2] / "docs/spec/vectors/documents.json"
    v = json.loads(vectors.read_text())
    (base,) = [
        c
        for c in v["cases"]
        if c["name"] == "evidence before the last change" and c["suite"] == "standard"
    ]
    doc, genesis = base["document"], bytes.fromhex(v["geneses"]["standard"])
    return base, doc, genesis, msgspec.msgpack.decode(bytes.fromhex(doc["raw"]))


def test_rejects_a_merkle_path_that_is_not_a_list_of_hashes() -> None:
    """A proof bundle decodes strictly (docs/spec/proofs.md): an audit path is an array of
    32-byte hashes. The block of the vectors' early evidence deposit has one transaction,
    so its paths are empty — and an empty byte string in their place must not pass for
    one: the Python verifier refuses that bundle, and so must the console."""
    base, doc, genesis, bundle = _early_evidence_vector()
    inclusion = bundle[2][0][1][0]  # [index, tx, tx_path, receipt, receipt_path]
    assert inclusion[2] == [] and inclusion[4] == []
    patched = []
    for field in (2, 4):
        changed = copy.deepcopy(bundle)
        changed[2][0][1][0][field] = b""
        patched.append(json.dumps({**doc, "raw": msgspec.msgpack.encode(changed).hex()}))
    g = decode_genesis(genesis)
    for text in patched:
        with pytest.raises(EvidenceCertificateError):
            verify_certificate(text, None, g)
    cases = [{**case(text, genesis, None), "now_ms": base["now_ms"]} for text in patched]
    ok = {**case(json.dumps(doc), genesis, None), "now_ms": base["now_ms"]}
    *refused, accepted = run([*cases, ok])
    assert accepted["ok"], accepted["reason"]
    for field, r in zip(("tx_path", "receipt_path"), refused, strict=True):
        assert not r["ok"], f"the console accepted an empty byte string as the {field}"


def test_rejects_a_float_where_the_bundle_declares_an_integer() -> None:
    """encoding.md: floats never occur in a canonical encoding, and a bundle is decoded
    strictly. A transaction's index written as the float 0.0 is refused by the Python
    verifier; the console read it as the integer 0 and accepted the certificate."""
    base, doc, genesis, bundle = _early_evidence_vector()
    inclusion = bundle[2][0][1][0]  # [index, tx, tx_path, receipt, receipt_path]
    inclusion[0] = float(inclusion[0])
    text = json.dumps({**doc, "raw": msgspec.msgpack.encode(bundle).hex()})
    with pytest.raises(EvidenceCertificateError):
        verify_certificate(text, None, decode_genesis(genesis))
    (r,) = run([{**case(text, genesis, None), "now_ms": base["now_ms"]}])
    assert not r["ok"], "the console accepted a float for the transaction's index"


def test_transaction_proofs_verify_and_tampering_is_rejected_as_python_does(
    chain: AppChain, material: tuple[str, bytes, TestClient], other_genesis: bytes
) -> None:
    """The transaction page's mark: a transaction's proof, verified in the browser, with
    its nonce read exactly (the CLI's nonces are random 64-bit numbers, beyond what a
    JavaScript number holds); every refusal is one of the Python verifier too."""
    _, genesis, client = material
    chain._nonce = (1 << 62) + 12_345  # a nonce beyond 2^53, as `tianfu invoke` makes them
    admin = chain.admin("org1")
    good = chain.call(admin, "governance", "get_identity", admin.info.address)
    bad = chain.call(admin, "governance", "approve", "no-such-proposal")
    assert good.ok and not bad.ok
    height = chain.ledger.height
    block = chain.ledger.store.load_block(height - 1)
    failed_block = chain.ledger.store.load_block(height)
    assert block is not None and failed_block is not None
    docs = [
        client.get(f"/v1/txs/{blk.txs[0].hash.hex()}/proof").text for blk in (block, failed_block)
    ]
    doc, failed = docs
    parsed = json.loads(doc)
    assert parsed["tx"]["nonce"] > 1 << 53
    raw = bytearray(bytes.fromhex(parsed["raw"]))
    raw[len(raw) // 2] ^= 0x01
    nonce_off = doc.replace(str(parsed["tx"]["nonce"]), str(parsed["tx"]["nonce"] + 1))
    said_ok = json.loads(failed)
    said_ok["receipt"]["ok"] = True
    state = client.get("/v1/proofs/state/traceability/batch:LJ-TIN-004").text
    texts = [
        doc,
        failed,
        json.dumps({**parsed, "raw": raw.hex()}),
        nonce_off,
        json.dumps(said_ok),
        '{"raw": "00",' + doc.strip()[1:],  # a repeated key
        state,
    ]
    cases = [{**case(t, genesis, None), "kind": "tx"} for t in texts]
    cases.append({**case(doc, other_genesis, None), "kind": "tx"})
    results = run(cases)
    ok, ok_failed, *refused = results
    assert ok["ok"], ok["reason"]
    r = ok["result"]
    assert r["txHash"] == block.txs[0].hash.hex() and r["ok"] is True
    assert (r["height"], r["index"]) == (height - 1, 0)
    assert ok_failed["ok"] and ok_failed["result"]["ok"] is False, ok_failed["reason"]
    assert ok_failed["result"]["height"] == height
    assert all(not x["ok"] for x in refused), refused
    assert "another genesis" in refused[-1]["reason"]
    assert "readable part does not match" in refused[2]["reason"]
    # the Python verifier agrees on every case
    for c, res in zip(cases, results, strict=True):
        g = decode(bytes.fromhex(c["genesis_hex"]), Genesis)
        try:
            verify_document(c["cert"], g, kind="tx")
            python_ok = True
        except VerificationError:
            python_ok = False
        assert python_ok == res["ok"], (res["reason"], c["cert"][:80])


def test_a_transaction_proof_given_as_a_certificate_is_sent_to_its_page(
    chain: AppChain, material: tuple[str, bytes, TestClient]
) -> None:
    """/verify given a transaction's proof said "a proven integer is too large for the
    browser verifier" (its nonce, read before its kind); it now says what the document is
    and where it is verified."""
    _, genesis, client = material
    chain._nonce = (1 << 62) + 777
    admin = chain.admin("org2")
    assert chain.call(admin, "governance", "get_identity", admin.info.address).ok
    block = chain.ledger.store.load_block(chain.ledger.height)
    assert block is not None
    doc = client.get(f"/v1/txs/{block.txs[0].hash.hex()}/proof").text
    (as_certificate,) = run([case(doc, genesis, None)])
    assert not as_certificate["ok"]
    assert "the proof of a transaction" in as_certificate["reason"], as_certificate["reason"]
