"""The format specification's vectors (docs/spec/vectors) against the project's own code.

The committed files are exactly what `docs/spec/vectors/generate.py` makes (so the vectors
cannot drift from the code), and the project reproduces every expected byte and hash,
accepts every valid case and rejects every invalid one.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tianfu.apps.evidence.certificate import verify_certificate
from tianfu.codec import HASH_SUITES, CodecError, decode, encode, hash_domain_with
from tianfu.crypto import chain_suite, verify, verify_tx
from tianfu.crypto.merkle import merkle_proof, merkle_root, verify_merkle_proof
from tianfu.execution.contract_api import address_of
from tianfu.proofs.commit import CommitError, check_commit
from tianfu.proofs.documents import verify_document
from tianfu.proofs.errors import VerificationError
from tianfu.proofs.valchain import TrustOptions
from tianfu.proofs.values import ValueBytesError, check_receipt, decode_value_strict
from tianfu.state import StateProof, check_proof
from tianfu.types import (
    BlockHeader,
    CommitCertificate,
    Genesis,
    Receipt,
    ValidatorSet,
    vote_signing_bytes,
)
from tianfu.types.tx import decode_tx

VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def generator() -> Any:
    spec = importlib.util.spec_from_file_location("spec_vectors_generate", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def untag(v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) == {"bin"}:
            return bytes.fromhex(v["bin"])
        return {k: untag(x) for k, x in v["map"].items()}
    if isinstance(v, list):
        return [untag(x) for x in v]
    return v


def test_the_committed_vectors_are_the_generators_output():
    made = generator().build()
    assert sorted(made) == sorted(p.name for p in VECTORS.glob("*.json"))
    for name, text in made.items():
        assert (VECTORS / name).read_text(encoding="utf-8") == text, name


def test_encoding():
    v = load("encoding.json")
    for case in v["valid"]:
        value = untag(case["value"])
        assert encode(value).hex() == case["encoding"], case["name"]
        assert decode_value_strict(bytes.fromhex(case["encoding"])) == value, case["name"]
    for case in v["invalid"]:
        with pytest.raises(ValueBytesError):
            decode_value_strict(bytes.fromhex(case["encoding"]))
            pytest.fail(case["name"])


def test_hashing():
    for case in load("hashing.json")["cases"]:
        h = HASH_SUITES[chain_suite(case["suite"]).hash.name]
        parts = [bytes.fromhex(p) for p in case["parts"]]
        assert hash_domain_with(h, case["tag"], *parts).hex() == case["hash"], case


def test_signatures_and_addresses():
    v = load("crypto.json")
    for case in v["signatures"]:
        with chain_suite(case["suite"]).use():
            got = verify(
                case["scheme"],
                bytes.fromhex(case["public_key"]),
                bytes.fromhex(case["message"]),
                bytes.fromhex(case["signature"]),
            )
        assert got is case["valid"], case["name"]
    assert {c["valid"] for c in v["signatures"]} == {True, False}
    for case in v["addresses"]:
        if case["address"] is None:  # no suite's scheme: a proven transaction of it is refused
            _refuses_a_proven_transaction_of(case["scheme"])
            continue
        assert address_of(case["scheme"], bytes.fromhex(case["public_key"])) == case["address"]
    assert {c["address"] is None for c in v["addresses"]} == {True, False}


def _refuses_a_proven_transaction_of(scheme: int) -> None:
    from tianfu.proofs.valchain import TrustError
    from tianfu.proofs.verify import check_tx_scheme
    from tianfu.types import Transaction, TxBody

    tx = Transaction(TxBody(1, "c", scheme, bytes(32), 0, 0, "kv", "put", [], b""), b"")
    for suite in ("standard", "sm2"):
        with chain_suite(suite).use(), pytest.raises(TrustError, match="scheme"):
            check_tx_scheme(tx)


def test_transactions_and_receipts():
    v = load("transactions.json")
    for case in v["transactions"]:
        raw = bytes.fromhex(case["transaction"])
        with chain_suite(case["suite"]).use():
            if not case["valid"]:
                with pytest.raises(CodecError):
                    decode_tx(raw)
                    pytest.fail(case["name"])
                continue
            tx = decode_tx(raw)
            b = tx.body
            f = case["fields"]
            assert (b.version, b.chain_id, b.scheme, b.signer.hex(), b.nonce, b.expiry) == (
                f["version"], f["chain_id"], f["scheme"], f["signer"], f["nonce"], f["expiry"]
            )  # fmt: skip
            assert (b.contract, b.method, b.args, b.cert.hex(), tx.signature.hex()) == (
                f["contract"], f["method"], untag(f["args"]), f["cert"], f["signature"]
            )  # fmt: skip
            assert encode(b).hex() == case["body"]
            assert tx.hash.hex() == case["tx_id"]
            assert verify_tx(tx) is case["signature_valid"], case["name"]
    for case in v["receipts"]:
        raw = bytes.fromhex(case["receipt"])
        if not case["valid"]:
            with pytest.raises((CodecError, ValueBytesError)):
                check_receipt(decode(raw, Receipt))
                pytest.fail(case["name"])
            continue
        r = decode(raw, Receipt)
        check_receipt(r)
        f = case["fields"]
        assert (r.status, r.gas_used, r.result, r.error) == (
            f["status"], f["gas_used"], untag(f["result"]), f["error"]
        )  # fmt: skip
        assert [(e.contract, e.name, e.data) for e in r.events] == [
            (e["contract"], e["name"], untag(e["data"])) for e in f["events"]
        ]


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_blocks(suite):
    (s,) = [x for x in load("blocks.json")["suites"] if x["suite"] == suite]
    genesis = decode(bytes.fromhex(s["genesis"]), Genesis)
    assert genesis.suite == suite
    assert genesis.hash.hex() == s["genesis_hash"]
    with chain_suite(suite).use():
        gset = decode(bytes.fromhex(s["genesis_validator_set"]), ValidatorSet)
        assert gset == genesis.validator_set
        assert gset.hash.hex() == s["genesis_validator_set_hash"]
        for h in s["headers"]:
            header = decode(bytes.fromhex(h["header"]), BlockHeader)
            assert header.height == h["height"] and header.hash.hex() == h["hash"]
        for vote in s["votes"]:
            got = vote_signing_bytes(
                vote["chain_id"], vote["height"], vote["round"], vote["type"],
                bytes.fromhex(vote["block_hash"]), vote["time_ms"],
            )  # fmt: skip
            assert got.hex() == vote["sign_bytes"]
        for case in s["certificates"]:
            header = decode(bytes.fromhex(case["header"]), BlockHeader)
            valset = decode(bytes.fromhex(case["validator_set"]), ValidatorSet)
            try:
                cert = decode(bytes.fromhex(case["certificate"]), CommitCertificate)
                if header.validators_hash != valset.hash:
                    raise CommitError("another validator set")
                check_commit(cert, header, valset, case["chain_id"])
                valid = True
            except (CommitError, CodecError):
                valid = False
            assert valid is case["valid"], case["name"]
        for case in s["invalid_geneses"]:
            with pytest.raises(CodecError):
                decode(bytes.fromhex(case["genesis"]), Genesis)
                pytest.fail(case["name"])
        for case in s["invalid_headers"]:
            with pytest.raises(CodecError):
                decode(bytes.fromhex(case["header"]), BlockHeader)
                pytest.fail(case["name"])


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_merkle(suite):
    (s,) = [x for x in load("merkle.json")["suites"] if x["suite"] == suite]
    with chain_suite(suite).use():
        for tree in s["binary"]:
            items = [bytes.fromhex(i) for i in tree["items"]]
            root = merkle_root(items)
            assert root.hex() == tree["root"]
            for i, path in enumerate(tree["paths"]):
                assert [p.hex() for p in merkle_proof(items, i)] == path
                proof = [bytes.fromhex(p) for p in path]
                assert verify_merkle_proof(root, items[i], i, len(items), proof)
        for case in s["invalid_paths"]:
            path = [bytes.fromhex(p) for p in case["path"]]
            root, item = bytes.fromhex(case["root"]), bytes.fromhex(case["item"])
            assert not verify_merkle_proof(root, item, case["index"], case["size"], path), case
        for case in s["state"]:
            try:
                proof = decode(bytes.fromhex(case["proof"]), StateProof)
            except CodecError:
                assert case["entry"] is None, case["name"]
                continue
            entry = check_proof(bytes.fromhex(case["root"]), bytes.fromhex(case["key"]), proof)
            got = None
            if entry is not None:
                vh = None if entry.value_hash is None else entry.value_hash.hex()
                got = {"value_hash": vh, "height": entry.height, "prev": entry.prev}
            assert got == case["entry"], case["name"]


def document_cases(name: str = "documents.json") -> list[tuple[str, dict[str, Any], Any, str, int]]:  # fmt: skip
    v = load(name)
    gen = generator()
    by_name = {(c["suite"], c["name"]): c for c in v["cases"] if "document" in c}
    out = []
    for case in v["cases"]:
        if "document" in case:
            doc, genesis, now = case["document"], case["genesis"], case["now_ms"]
        else:
            doc, genesis, now = gen.apply_patch(case, by_name[(case["suite"], case["base"])])
        kind = case.get("kind") or by_name[(case["suite"], case["base"])]["kind"]
        out.append((f"{case['suite']}: {case['name']}", case, doc, genesis, now, kind))
    return out


def test_documents():
    v = load("documents.json")
    geneses = {s: decode(bytes.fromhex(g), Genesis) for s, g in v["geneses"].items()}
    valid = invalid = 0
    for name, case, doc, genesis, now, kind in document_cases():
        g = geneses[genesis]
        try:
            verify_document(doc, g, kind=kind, options=TrustOptions(now_ms=now))
            if kind == "evidence":
                verify_certificate(doc, None, g)
            accepted = True
        except VerificationError:
            accepted = False
        assert accepted is case["valid"], name
        valid += accepted
        invalid += not accepted
    assert valid >= 20 and invalid >= 60


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_open_geneses(suite):
    """blocks.md#the-open-profile: the code reads an open genesis as the vectors say, hashes
    it, writes the genesis-state entries listed, and refuses every invalid one."""
    from tianfu.contracts import governance
    from tianfu.types import decode_genesis

    (s,) = [x for x in load("open.json")["suites"] if x["suite"] == suite]
    g = decode_genesis(bytes.fromhex(s["genesis"]))
    assert g.profile == "open" and g.hash.hex() == s["genesis_hash"]
    entries = governance.genesis_entries(g)
    for name, value in s["genesis_state"].items():
        assert encode(entries[name]).hex() == value, name
    for c in s["valid_geneses"]:
        assert decode_genesis(bytes.fromhex(c["genesis"])).profile == "open", c["name"]
    for c in s["invalid_geneses"]:
        with pytest.raises(CodecError):
            decode_genesis(bytes.fromhex(c["genesis"]))
            pytest.fail(c["name"])


def test_open_documents():
    from tianfu.types import decode_genesis

    v = load("open.json")
    geneses = {s: decode_genesis(bytes.fromhex(g)) for s, g in v["geneses"].items()}
    results = {True: 0, False: 0}
    for name, case, doc, genesis, now, kind in document_cases("open.json"):
        try:
            verify_document(doc, geneses[genesis], kind=kind, options=TrustOptions(now_ms=now))
            accepted = True
        except VerificationError:
            accepted = False
        assert accepted is case["valid"], name
        results[accepted] += 1
    assert results[True] >= 16 and results[False] >= 20
