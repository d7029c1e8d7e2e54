"""The /verify page's in-browser verifier (static/js/proof.js + valchain.js, under Node) on
a chain whose validator set changed (a power changed, a validator added, its power changed,
then removed): certificates and state proofs with sequential and skipping validator chains
are accepted; every sampled flipped byte, every dropped, reordered or altered link, a
changed validator history and a different genesis are refused — and the Python verifier
agrees on every case."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from test_console_verify import NODE, case, run

from tianfu.apps import evidence
from tianfu.apps.evidence.certificate import EvidenceCertificateError, verify_certificate
from tianfu.apps.evidence.demo import cast as evidence_cast
from tianfu.apps.evidence.sdk import Evidence
from tianfu.codec import decode, encode
from tianfu.crypto import generate_keypair
from tianfu.ledger.proofs import ledger_proofs
from tianfu.proofs.build import SKIPPING
from tianfu.proofs.documents import make_document, verify_document
from tianfu.proofs.errors import VerificationError
from tianfu.proofs.formats import LightBlock, ProofBundle, ValidatorLink
from tianfu.proofs.valchain import TrustOptions
from tianfu.testing.appchain import AppChain
from tianfu.types import Genesis

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js runs the browser verifier here")
FILE = b"evidence deposited after validator-set changes"


def _gov(chain: AppChain, method: str, *args: Any) -> None:
    r = chain.call(chain.admin("org1"), "governance", method, *args)
    assert r.ok, r.error
    for org in ("org1", "org2", "org3"):
        v = chain.call(chain.admin(org), "governance", "vote", r.result, True)
        assert v.ok, v.error
    assert v.result["status"] == "activated", v.result


class Issued(msgspec.Struct):
    genesis: bytes
    cert: str  # the evidence certificate (sequential validator chain)
    state: str  # a state document of the deposit record (sequential)
    skipping: str  # the same state document with a skipping validator chain
    other_genesis: bytes


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issued]:
    chain = AppChain(tmp_path_factory.mktemp("valsets"))
    other = AppChain(tmp_path_factory.mktemp("other"))
    try:
        chain.deploy(evidence.NAME, evidence.source())
        # node0 keeps more than 2/3 of the power, so the one-validator chain still commits.
        _gov(chain, "propose_set_power", "node0", 10)
        key = generate_keypair()
        _gov(chain, "propose_add_validator", "node1", "org2", key.scheme, key.public_key, 1)
        _gov(chain, "propose_set_power", "node1", 3)
        _gov(chain, "propose_remove_validator", "node1")
        people = evidence_cast(chain, "-vs")
        ev = Evidence(chain.client(people["depositor"]))
        did = ev.deposit(FILE, "After changes", {"case": "V-1"})
        builder = ledger_proofs(chain.ledger)
        state = chain.client(None).prove_state("evidence", "dep:" + did).document
        bundle = builder.state_bundle([("evidence", "dep:" + did)], mode=SKIPPING)
        skipping = make_document("state", bundle, chain.genesis, TrustOptions())
        genesis = chain.ledger.store.load_genesis()
        other_genesis = other.ledger.store.load_genesis()
        assert genesis is not None and other_genesis is not None
        yield Issued(
            genesis,
            json.dumps(ev.certificate(did)),
            json.dumps(state),
            json.dumps(skipping),
            other_genesis,
        )
    finally:
        chain.close()
        other.close()


def python_accepts(doc: str, genesis: bytes, kind: str, now_ms: int | None = None) -> bool:
    g = decode(genesis, Genesis)
    try:
        if kind == "evidence":
            verify_certificate(doc, None, g)
        else:
            verify_document(doc, g, kind=kind, options=TrustOptions(now_ms=now_ms))
    except (EvidenceCertificateError, VerificationError):
        return False
    return True


def js_case(doc: str, genesis: bytes, kind: str, now_ms: int | None = None) -> dict[str, Any]:
    c = case(doc, genesis, FILE if kind == "evidence" else None)
    c["kind"] = kind
    if now_ms is not None:
        c["now_ms"] = now_ms
    return c


def with_bundle(doc: str, bundle: ProofBundle) -> str:
    return json.dumps({**json.loads(doc), "raw": encode(bundle).hex()})


def bundle_of(doc: str) -> ProofBundle:
    return decode(bytes.fromhex(json.loads(doc)["raw"]), ProofBundle)


def test_documents_after_validator_set_changes_verify(issued: Issued) -> None:
    cert_doc = json.loads(issued.cert)
    changes = cert_doc["validator_changes"]
    assert len(changes) == 5 and len(bundle_of(issued.cert).validators) == 4
    assert [v["name"] for v in changes[-1]["validators"]] == ["node0"]
    assert len(json.loads(issued.skipping)["validator_changes"]) < 5  # a link skipped changes
    assert any(link.block.signers for link in bundle_of(issued.skipping).validators)
    cases = [
        js_case(issued.cert, issued.genesis, "evidence"),
        js_case(issued.state, issued.genesis, "state"),
        js_case(issued.skipping, issued.genesis, "state"),
    ]
    results = run(cases)
    for r, c in zip(results, cases, strict=True):
        assert r["ok"], r["reason"]
        assert python_accepts(c["cert"], issued.genesis, c["kind"])
    cert = results[0]
    assert cert["file"] is True and cert["result"]["height"] == cert_doc["height"]
    assert cert["result"]["signers"] == ["node0 (org1)"]


def test_every_sampled_changed_byte_is_refused_by_both(issued: Issued) -> None:
    cases = []
    for doc, kind in ((issued.cert, "evidence"), (issued.skipping, "state")):
        parsed = json.loads(doc)
        raw = bytes.fromhex(parsed["raw"])
        for pos in sorted({int(i * (len(raw) - 1) / 99) for i in range(100)}):
            flipped = bytearray(raw)
            flipped[pos] ^= 0x01
            cases.append(
                js_case(json.dumps({**parsed, "raw": flipped.hex()}), issued.genesis, kind)
            )
    results = run(cases)
    for r, c in zip(results, cases, strict=True):
        assert not r["ok"], "a flipped bit of the proof was accepted"
        assert not python_accepts(c["cert"], issued.genesis, c["kind"])


def _changed_links(doc: str) -> list[tuple[str, ProofBundle]]:
    b = bundle_of(doc)
    links = b.validators
    own = msgspec.structs.replace
    first_as_skip = own(
        links[0], block=own(links[0].block, signers=links[1].block.signers or b"\x91\x90")
    )
    later_header = own(links[1], block=own(links[1].block, header=links[2].block.header))
    return [
        ("dropped first", own(b, validators=links[1:])),
        ("dropped middle", own(b, validators=[links[0], *links[2:]])),
        ("dropped last", own(b, validators=links[:-1])),
        ("none", own(b, validators=[])),
        ("reordered", own(b, validators=[links[1], links[0], *links[2:]])),
        ("repeated", own(b, validators=[links[0], *links])),
        (
            "value of another link",
            own(b, validators=[own(links[0], value=links[1].value), *links[1:]]),
        ),
        (
            "proof of another link",
            own(b, validators=[own(links[0], proof=links[1].proof), *links[1:]]),
        ),
        ("header of another link", own(b, validators=[links[0], later_header, *links[2:]])),
        ("signers added", own(b, validators=[first_as_skip, *links[1:]])),
        (
            "block signers added",
            own(
                b,
                blocks=[
                    own(
                        b.blocks[0],
                        block=LightBlock(
                            b.blocks[0].block.header,
                            b.blocks[0].block.certificate,
                            links[-1].block.signers or b"\x91\x90",
                        ),
                    )
                ],
            ),
        ),
    ]


def test_changed_links_are_refused_by_both(issued: Issued) -> None:
    named = _changed_links(issued.cert)
    cases = [js_case(with_bundle(issued.cert, b), issued.genesis, "evidence") for _, b in named]
    for (name, _), r, c in zip(named, run(cases), cases, strict=True):
        assert not r["ok"], name
        assert not python_accepts(c["cert"], issued.genesis, "evidence"), name


def test_skipping_link_changes_are_refused_by_both(issued: Issued) -> None:
    b = bundle_of(issued.skipping)
    skip = next(i for i, link in enumerate(b.validators) if link.block.signers)
    links = list(b.validators)
    own = msgspec.structs.replace
    stripped = own(links[skip], block=own(links[skip].block, signers=b""))
    genesis_set = decode(issued.genesis, Genesis).validator_set
    wrong_set = own(links[skip], block=own(links[skip].block, signers=encode(genesis_set)))
    variants = {
        "signers removed": own(b, validators=[*links[:skip], stripped, *links[skip + 1 :]]),
        "other signers": own(b, validators=[*links[:skip], wrong_set, *links[skip + 1 :]]),
    }
    cases = [
        js_case(with_bundle(issued.skipping, v), issued.genesis, "state") for v in variants.values()
    ]
    # beyond the trusting period (a week after the genesis), a skip is refused
    late = json.loads(issued.skipping)["time_ms"] + 8 * 24 * 3600 * 1000
    cases.append(js_case(issued.skipping, issued.genesis, "state", now_ms=late))
    names = [*variants, "after the trusting period"]
    for name, r, c in zip(names, run(cases), cases, strict=True):
        assert not r["ok"], name
        assert not python_accepts(c["cert"], issued.genesis, "state", c.get("now_ms")), name
    # the sequential chain does not depend on the time
    (seq,) = run([js_case(issued.state, issued.genesis, "state", now_ms=late)])
    assert seq["ok"], seq["reason"]


@pytest.mark.parametrize("index", [0, 2, 4])
def test_a_changed_validator_history_field_is_refused(issued: Issued, index: int) -> None:
    doc = json.loads(issued.cert)
    doc["validator_changes"][index]["validators"][0]["power"] += 1
    (r,) = run([js_case(json.dumps(doc), issued.genesis, "evidence")])
    assert not r["ok"]
    assert not python_accepts(json.dumps(doc), issued.genesis, "evidence")


def test_another_genesis_is_refused(issued: Issued) -> None:
    cases = [
        js_case(issued.cert, issued.other_genesis, "evidence"),
        js_case(issued.skipping, issued.other_genesis, "state"),
    ]
    for r, c in zip(run(cases), cases, strict=True):
        assert not r["ok"] and "genesis" in r["reason"]
        assert not python_accepts(c["cert"], issued.other_genesis, c["kind"])


def test_every_changed_byte_of_the_commit_certificates_is_refused_by_both(issued: Issued) -> None:
    """The parts no hash or signature covers (a certificate's version, its signatures' list)
    are checked too: every bit-flip of the proven block's and the first link's certificate."""
    b = bundle_of(issued.cert)
    own = msgspec.structs.replace
    cases = []
    block_cert = b.blocks[0].block.certificate
    for pos in range(len(block_cert)):
        cert = bytearray(block_cert)
        cert[pos] ^= 0x01
        light = own(b.blocks[0].block, certificate=bytes(cert))
        changed = own(b, blocks=[own(b.blocks[0], block=light)])
        cases.append(js_case(with_bundle(issued.cert, changed), issued.genesis, "evidence"))
    link_cert = b.validators[0].block.certificate
    for pos in range(len(link_cert)):
        cert = bytearray(link_cert)
        cert[pos] ^= 0x01
        link = own(b.validators[0], block=own(b.validators[0].block, certificate=bytes(cert)))
        changed = own(b, validators=[link, *b.validators[1:]])
        cases.append(js_case(with_bundle(issued.cert, changed), issued.genesis, "evidence"))
    for r, c in zip(run(cases), cases, strict=True):
        assert not r["ok"], "a changed certificate byte was accepted"
        assert not python_accepts(c["cert"], issued.genesis, "evidence")


LINK_RUNNER = Path(__file__).resolve().parents[1] / "js" / "link_runner.mjs"


def _spec_chain_module() -> Any:
    vectors = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"
    spec = importlib.util.spec_from_file_location("spec_vectors_chain", vectors / "chain.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: {**r, "note": "x"}, id="an extra field"),
        pytest.param(lambda r: {k: x for k, x in r.items() if k != "org"}, id="a missing field"),
        pytest.param(lambda r: {**r, "power": 0}, id="power 0"),
        pytest.param(lambda r: {**r, "power": -1}, id="negative power"),
        pytest.param(lambda r: {**r, "name": b"node1"}, id="a name in bytes"),
    ],
)
def test_a_malformed_proven_validator_record_is_refused_by_both(change: Any) -> None:
    """docs/spec/blocks.md: a verifier MUST refuse a proven `governance/validators` entry
    unless its records have exactly the five fields, of their types, with power >= 1 —
    however validly the block holding it is signed."""
    from tianfu.codec import encode
    from tianfu.contracts.reviewed_admission import validator_record
    from tianfu.crypto import ED25519
    from tianfu.proofs.valchain import VALIDATORS_KEY, TrustError, prepare_link

    chain_mod = _spec_chain_module()
    signer = chain_mod.Signer.make("malformed/node1", ED25519)
    chain = chain_mod.SpecChain("malformed-records", "standard", [(signer, "org1", 1)])
    (validator,) = chain.genesis.validators
    value = encode([change(validator_record(validator))])
    header = chain.commit([], {VALIDATORS_KEY: value})
    link = ValidatorLink(
        LightBlock(encode(header), encode(chain.certificate(1))),
        value,
        encode(chain.state.prove(VALIDATORS_KEY, 1)),
    )
    with pytest.raises(TrustError, match="malformed validator set"):
        prepare_link(link, chain.genesis.validator_set)
    assert NODE is not None
    out = subprocess.run(
        [NODE, str(LINK_RUNNER)],
        input=json.dumps([{"link_hex": encode(link).hex(), "suite": "standard"}]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    (r,) = json.loads(out.stdout)
    assert not r["ok"], "the console accepted a malformed validator record"
    assert "malformed validator set" in r["reason"]


def _run_links(links: list[ValidatorLink]) -> list[dict[str, Any]]:
    from tianfu.codec import encode

    assert NODE is not None
    out = subprocess.run(
        [NODE, str(LINK_RUNNER)],
        input=json.dumps([{"link_hex": encode(link).hex(), "suite": "standard"} for link in links]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    result: list[dict[str, Any]] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize("power", [0, -1])
def test_a_skipping_link_whose_set_has_a_power_below_1_is_refused_by_all(power: int) -> None:
    """docs/spec/proofs.md: a skipping link's own set gives every validator a power >= 1
    (no chain has another). The verifiers disagreed (the Python ones took any power, the
    console power 0); all three now refuse it before any signature is looked at."""
    from tianfu.codec import encode
    from tianfu.crypto import ED25519
    from tianfu.proofs.valchain import VALIDATORS_KEY, TrustError, prepare_link
    from tianfu.types import Validator, ValidatorSet

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spec_verifier"))
    import specverify
    import specwire

    chain_mod = _spec_chain_module()
    signer = chain_mod.Signer.make("skipset/node1", ED25519)
    chain = chain_mod.SpecChain("skipping-set", "standard", [(signer, "org1", 1)])
    (v,) = chain.genesis.validators
    own = ValidatorSet([v, Validator("ghost", "org1", ED25519, bytes(32), power)])
    header = msgspec.structs.replace(chain.commit(), validators_hash=own.hash)
    cert = msgspec.structs.replace(chain.certificate(1), block_hash=header.hash)
    value = chain.state.get(VALIDATORS_KEY, 1)
    link = ValidatorLink(
        LightBlock(encode(header), encode(cert), encode(own)),
        value,
        encode(chain.state.prove(VALIDATORS_KEY, 1)),
    )
    with pytest.raises(TrustError, match="power below 1"):
        prepare_link(link, chain.genesis.validator_set)
    spec_genesis = specwire.parse_genesis(encode(chain.genesis))
    with pytest.raises(specwire.Invalid, match="power below 1"):
        specverify.parse_link("standard", msgspec.msgpack.decode(encode(link)), spec_genesis)
    (r,) = _run_links([link])
    assert not r["ok"] and r["reason"] == "malformed validator set", r
