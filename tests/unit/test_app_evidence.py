"""Evidence on the in-process chain: deposits, certificates verified offline, tampering, CLI."""

from __future__ import annotations

import json

import msgspec
import pytest
from typer.testing import CliRunner

from tianfu.apps import evidence
from tianfu.apps.common.scenario import enrol
from tianfu.apps.evidence.certificate import (
    EvidenceCertificateError,
    FileMismatch,
    verify_certificate,
)
from tianfu.apps.evidence.demo import cast, create_demo
from tianfu.apps.evidence.scenario import run_scenario
from tianfu.apps.evidence.sdk import Evidence, file_sha256
from tianfu.cli import common
from tianfu.cli.apps import app_cli
from tianfu.client import Client, TxFailed
from tianfu.codec import decode, encode
from tianfu.proofs.formats import BlockProof, ProofBundle
from tianfu.testing.appchain import AppChain

runner = CliRunner()
app = app_cli("evidence")


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    c = AppChain(tmp_path_factory.mktemp("evidence"))
    c.deploy(evidence.NAME, evidence.source())
    yield c
    c.close()


@pytest.fixture(scope="module")
def people(chain):
    return cast(chain, "-t")


@pytest.fixture(scope="module")
def other_chain(tmp_path_factory):
    c = AppChain(tmp_path_factory.mktemp("other"))
    yield c
    c.close()


def test_scenario(chain):
    run_scenario(chain)


def test_demo(chain):
    summary = create_demo(chain)
    ev = Evidence(chain.client(chain.admin("org1")))
    assert ev.get(summary["deposit_id"])["file_hash"] == summary["file_sha256"]
    assert len(ev.attestations(summary["deposit_id"])) == 1
    assert ev.verifications(summary["deposit_id"])[0]["result"] == "verified"


def test_certificate_is_offline_and_catches_tampering(chain, people, other_chain):
    ev = Evidence(chain.client(people["depositor"]))
    data = b"%PDF-1.7 signed contract"
    did = ev.deposit(data, "Contract", {"pages": 3})
    cert = json.loads(json.dumps(ev.certificate(did)))
    # Offline: only the certificate, the file and the genesis.
    proven = verify_certificate(json.dumps(cert), data, chain.genesis)
    assert proven.deposit_id == did and proven.file_sha256 == file_sha256(data)
    assert proven.meta == {"pages": 3} and proven.org == people["depositor"].info.org
    assert proven.height == cert["height"] and proven.time_ms == cert["time_ms"]
    with pytest.raises(FileMismatch, match="does not match the deposited hash"):
        verify_certificate(cert, data[:-1], chain.genesis)
    with pytest.raises(EvidenceCertificateError, match="genesis"):
        verify_certificate(cert, data, other_chain.genesis)
    renamed = msgspec.structs.replace(chain.genesis, chain_id="elsewhere")
    with pytest.raises(EvidenceCertificateError, match="genesis"):
        verify_certificate(cert, data, renamed)
    # Swap in another deposit's (valid) proofs: the record is not this tx's.
    did2 = ev.deposit(b"another file", "Other")
    cert2 = ev.certificate(did2)
    b1, b2 = (decode(bytes.fromhex(c["raw"]), ProofBundle) for c in (cert, cert2))
    for txs, entries in (
        (b1.blocks[0].txs, b2.blocks[0].entries),
        (b2.blocks[0].txs, b1.blocks[0].entries),
    ):
        for block in (b1.blocks[0].block, b2.blocks[0].block):
            mixed = msgspec.structs.replace(b1, blocks=[BlockProof(block, txs, entries)])
            with pytest.raises(EvidenceCertificateError):
                verify_certificate({**cert, "raw": encode(mixed).hex()}, data, chain.genesis)
    for bad in (
        {},
        {"format": "x"},
        {**cert, "raw": "zz"},
        {**cert, "raw": cert["raw"][:-2]},
        {**cert, "raw": cert2["raw"]},
        {**cert, "height": cert["height"] + 1},
        {**cert, "extra": 1},
        {k: v for k, v in cert.items() if k != "title"},
        {**{k: v for k, v in cert.items() if k != "title"}, "Title": cert["title"]},
    ):
        with pytest.raises(EvidenceCertificateError):
            verify_certificate(bad, data, chain.genesis)
    with pytest.raises(EvidenceCertificateError, match="not JSON"):
        verify_certificate("{nope", data, chain.genesis)


def test_forbidden_actions(chain, people):
    ev = Evidence(chain.client(people["depositor"]))
    did = ev.deposit(b"x", "X")
    outsider = Evidence(chain.client(enrol(chain, chain.identity("org4", "ev-nobody"))))
    notary = Evidence(chain.client(people["notary"]))
    root = chain.contract_state()
    for call, needle in [
        (lambda: outsider.deposit(b"y", "Y"), "depositor"),
        (lambda: ev.deposit_hash("A" * 64, "T"), "SHA-256"),
        (lambda: ev.deposit(b"y", ""), "title"),
        (lambda: ev.deposit(b"y", "T", {"k": [1]}), "string, integer or boolean"),
        (lambda: ev.attest(did, "mine"), "notary"),
        (lambda: notary.attest("EV000000", "x"), "unknown deposit"),
        (lambda: notary.record_verification(did, "c"), "court"),
    ]:
        with pytest.raises(TxFailed, match=needle):
            call()
    assert chain.contract_state() == root


def test_cli_deposit_certificate_verify(chain, people, tmp_path, monkeypatch):
    monkeypatch.setattr(
        common,
        "client_factory",
        lambda url, identity=None, genesis=None: Client(
            url, identity, genesis=genesis, http=chain.http
        ),
    )
    people["depositor"].save(tmp_path / "dep")
    (tmp_path / "genesis.bin").write_bytes(encode(chain.genesis))
    doc = tmp_path / "evidence.pdf"
    doc.write_bytes(b"the original evidence")

    def run(*args):
        return runner.invoke(app, [str(a) for a in args])

    r = run(
        "deposit",
        doc,
        "--title",
        "Evidence",
        "--meta",
        "case=A1",
        "--meta",
        "n=2",
        "--identity",
        tmp_path / "dep",
        "--json",
    )
    assert r.exit_code == 0, r.output
    did = json.loads(r.stdout)["result"]
    r = run(
        "certificate", did, "--out", tmp_path / "cert.json", "--genesis", tmp_path / "genesis.bin"
    )
    assert r.exit_code == 0, r.output
    r = run("verify", doc, tmp_path / "cert.json", "--genesis", tmp_path / "genesis.bin", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["verified"] and out["deposit_id"] == did and out["meta"] == {"case": "A1", "n": 2}
    r = run("verify", doc, tmp_path / "cert.json", "--genesis", tmp_path / "genesis.bin")
    assert r.exit_code == 0 and "verified:" in r.stdout
    doc.write_bytes(b"the original evidencE")
    r = run("verify", doc, tmp_path / "cert.json", "--genesis", tmp_path / "genesis.bin")
    assert r.exit_code == 1 and "does not match the deposited hash" in r.stderr
    doc.write_bytes(b"the original evidence")
    cert = json.loads((tmp_path / "cert.json").read_text())
    cert["time_ms"] += 1000
    (tmp_path / "bad.json").write_text(json.dumps(cert))
    r = run("verify", doc, tmp_path / "bad.json", "--genesis", tmp_path / "genesis.bin")
    assert r.exit_code == 1 and "time_ms" in r.stderr
    r = run("verify", doc, tmp_path / "cert.json")
    assert r.exit_code == 2 and "--genesis" in r.stderr
    r = run("find", doc, "--json")
    assert did in json.loads(r.stdout)
    r = run("show", did, "--json")
    assert json.loads(r.stdout)["title"] == "Evidence"
    assert run("show", "EV999999").exit_code == 1


FORGER = """
def deposit(ctx, file_hash, title, meta):
    n = ctx.get("seq", 0) + 1
    ctx.put("seq", n)
    i = "EV" + str(n).zfill(6)
    record = {"id": i, "file_hash": file_hash, "title": title, "meta": meta,
              "depositor": ctx.sender.address, "org": "supreme-court", "name": "Supreme Court",
              "height": ctx.height, "time_ms": ctx.time_ms, "tx": ctx.tx_hash}
    ctx.put("dep:" + i, record)
    return i


@view
def get(ctx, deposit_id):
    return ctx.get("dep:" + deposit_id)
"""


def test_a_certificate_from_another_contract_does_not_verify(chain, people):
    """A look-alike contract's `deposit` may write any organisation into its records; its
    proofs are genuine, but an evidence certificate proves a deposit of the evidence contract
    only (or of the contract the verifier names)."""
    from tianfu.apps.evidence.certificate import CERTIFICATE

    chain.deploy("evidence_copy", FORGER)
    fake = Evidence(chain.client(people["depositor"]), "evidence_copy")
    data = b"a file the court never saw"
    did = fake.deposit(data, "Judgment")
    cert = json.loads(json.dumps(CERTIFICATE.export(fake.client, did, "evidence_copy")))
    with pytest.raises(EvidenceCertificateError, match="not in the evidence contract"):
        verify_certificate(cert, data, chain.genesis)
    with pytest.raises(EvidenceCertificateError, match="not in the evidence contract"):
        fake.verify(cert, data, chain.genesis)
    proven = verify_certificate(cert, data, chain.genesis, contract="evidence_copy")
    assert proven.org == "supreme-court"  # what that contract wrote, verified as its record
