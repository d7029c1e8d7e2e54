"""Tamper sweep, the independent verifier (tests/spec_verifier, written from docs/spec only):
it accepts every proof document of test_tamper_sweep.py (made after validator-set changes)
and refuses every flipped byte and every changed, renamed, deleted or added readable field.
A file of its own, so that pytest-xdist runs it beside the project verifier's sweep."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import test_tamper_sweep as documents

from tianfu.codec import encode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spec_verifier"))
import specverify  # noqa: E402
import specwire  # noqa: E402

KINDS = documents.KINDS
mutations = documents.mutations
issued = documents.issued  # the module fixture: the documents, made once for this file


def independent(doc: Any, genesis: Any, kind: str) -> bool:
    """Whether the verifier written only from the specification accepts the document."""
    try:
        specverify.verify_document(doc, encode(genesis), None, kind)
    except specwire.Invalid:
        return False
    return True


@pytest.mark.parametrize("kind", KINDS)
def test_the_independent_verifier_accepts_every_document(issued, kind):
    genesis, docs = issued
    assert independent(docs[kind], genesis, kind)
    assert independent(json.dumps(docs[kind], indent=3), genesis, kind)


def independent_sweep(issued: Any, kind: str, stride: int) -> None:
    genesis, docs = issued
    doc = docs[kind]
    raw = bytes.fromhex(doc["raw"])
    accepted = [i for i in range(0, len(raw), stride) if independent(
        {**doc, "raw": (raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1 :]).hex()}, genesis, kind
    )]  # fmt: skip
    changes = list(mutations(doc))
    accepted_fields = [what for what, mutated in changes if independent(mutated, genesis, kind)]
    print(f"{kind}: {len(raw)} bytes flipped, {len(changes)} readable changes; accepted "
          f"{len(accepted)} and {len(accepted_fields)}")  # fmt: skip
    assert not accepted, f"{kind}: flips at {accepted[:10]} were accepted"
    assert not accepted_fields, f"{kind}: accepted {accepted_fields[:5]}"


@pytest.mark.parametrize("kind", KINDS)
def test_the_independent_verifier_refuses_tampered_bytes_and_fields(issued, kind):
    """Every byte of the evidence certificate, every fourth byte of the other kinds (the
    slow test below flips every byte of every kind), and every readable change."""
    independent_sweep(issued, kind, 1 if kind == "evidence" else 4)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_the_independent_verifier_refuses_every_tampered_byte(issued, kind):
    independent_sweep(issued, kind, 1)
