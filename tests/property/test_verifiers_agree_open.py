"""The three proof-document verifiers (the SDK, the spec verifier, the console under Node)
on an open-profile chain (ADR 0025, docs/spec/blocks.md#the-open-profile): documents of a
real ledger whose validator set changes by stake (verifiers_agree_open), each changed in
many ways, and the open geneses of docs/spec/vectors/open.json. Every verifier MUST accept
the valid ones and give the same verdict on every change."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import test_verifiers_agree as tva
import verifiers_agree_lib as lib
import verifiers_agree_open

from tianfu.codec import CodecError

OPEN_VECTORS = Path(__file__).resolve().parents[2] / "docs" / "spec" / "vectors" / "open.json"


def vector_documents() -> list[dict[str, Any]]:
    """The valid documents of open.json (an open SpecChain of each suite)."""
    v = json.loads(OPEN_VECTORS.read_text(encoding="utf-8"))
    return [{**c, "genesis": bytes.fromhex(v["geneses"][c["genesis"]]), "corner": True}
            for c in v["cases"] if "document" in c]  # fmt: skip


def test_every_verifier_accepts_the_documents_of_an_open_chain() -> None:
    """Before the open profile was specified, the spec verifier and the console refused
    every document of an open chain (its genesis has nine fields)."""
    docs = verifiers_agree_open.open_documents()
    assert {d["kind"] for d in docs} == {
        "state",
        "validators",
        "history",
        "tx",
        "orgs",
        "contracts",
    }
    lib.load_app_kinds()
    bases = [*docs, *vector_documents()]
    for base in bases:
        case = lib.Case(base["name"], lib.dumps(base["document"]), base["now_ms"])
        assert lib.verdict_sdk(case, base["genesis"], base["kind"]) == (True, ""), base["name"]
        assert lib.verdict_spec(case, base["genesis"], base["kind"]) == (True, ""), base["name"]
    if lib.NODE is None:
        return
    js = [b for b in bases if b["kind"] in lib.JS_KINDS]
    assert len(js) >= 10
    cases = [(lib.Case(b["name"], lib.dumps(b["document"]), b["now_ms"]), b["genesis"], b["kind"]) for b in js]  # fmt: skip
    for b, verdict in zip(js, lib.verdicts_js(cases), strict=True):
        assert verdict == (True, ""), (b["name"], verdict)


@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_the_three_verifiers_agree_on_changes_of_open_chain_documents(suite: str) -> None:
    docs = [*verifiers_agree_open.open_documents(), *vector_documents()]
    problems, count = tva.disagreements(3, (suite,), chains=False, corners=False, extra=tuple(docs))
    assert count > 40
    assert not problems, "\n".join(problems[:40])


@pytest.mark.slow
@pytest.mark.timeout(3600)  # about 2,000 cases a suite, each verified three times
@pytest.mark.parametrize("suite", ["standard", "sm2"])
def test_the_three_verifiers_agree_on_many_changes_of_open_chain_documents(suite: str) -> None:
    docs = [*verifiers_agree_open.open_documents(), *vector_documents()]
    problems, count = tva.disagreements(30, (suite,), chains=False, corners=False,
                                        extra=tuple({**d, "corner": False} for d in docs))  # fmt: skip
    assert count > 1000
    assert not problems, "\n".join(problems[:40])


def test_the_three_verifiers_agree_on_every_open_genesis_vector() -> None:
    """blocks.md#the-open-profile: each rule of the ninth field is checked by every
    verifier before it trusts the genesis."""
    v = json.loads(OPEN_VECTORS.read_text(encoding="utf-8"))
    cases = [(s["genesis"], True, s["suite"]) for s in v["suites"]]
    # the valid variants too: the eight-field open profiles (possession_height) among them
    cases += [(c["genesis"], True, c["name"]) for s in v["suites"] for c in s["valid_geneses"]]
    cases += [(c["genesis"], False, c["name"]) for s in v["suites"] for c in s["invalid_geneses"]]
    assert len(cases) > 20
    for hexed, valid, name in cases:
        try:
            lib.decode_genesis(bytes.fromhex(hexed))
            sdk = True
        except (CodecError, ValueError):
            sdk = False
        try:
            lib.specwire.parse_genesis(bytes.fromhex(hexed))
            spec = True
        except lib.specwire.Invalid:
            spec = False
        assert (sdk, spec) == (valid, valid), name
    if lib.NODE is None:
        return
    out = subprocess.run([lib.NODE, str(tva.GENESIS_RUNNER)], input=json.dumps([c[0] for c in cases]),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    for (hexed, valid, name), r in zip(cases, json.loads(out.stdout), strict=True):
        assert r["ok"] is valid, (name, r["reason"])
        if valid:  # the same genesis hash as the SDK's
            assert r["hash"] == lib.decode_genesis(bytes.fromhex(hexed)).hash.hex(), name
