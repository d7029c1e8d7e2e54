"""Tamper sweep: every proof document the project issues, made after validator-set changes
(a power changed, a validator of another organisation added), verifies against the
genesis alone; and every flipped byte of its binary part, and every changed, renamed,
deleted or added readable field, is refused by the project's verifier (0 accepted).

The same documents against the independent verifier: test_tamper_sweep_independent.py (a
file of its own, so that pytest-xdist runs the two sweeps on both workers at once)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tianfu.apps import evidence, traceability
from tianfu.apps.evidence.certificate import verify_certificate
from tianfu.apps.evidence.demo import cast as evidence_cast
from tianfu.apps.evidence.sdk import Evidence
from tianfu.apps.traceability.demo import cast as trace_cast
from tianfu.apps.traceability.sdk import Traceability
from tianfu.crypto import generate_keypair
from tianfu.proofs.documents import canonical_json, verify_document
from tianfu.proofs.errors import VerificationError
from tianfu.testing.appchain import AppChain

KINDS = (
    "evidence",
    "state",
    "tx",
    "absence",
    "history",
    "traceability",
    "validators",
    "orgs",
    "contracts",
)


def _gov(chain: AppChain, method: str, *args: Any) -> None:
    r = chain.call(chain.admin("org1"), "governance", method, *args)
    assert r.ok, r.error
    for org in ("org1", "org2", "org3"):
        v = chain.call(chain.admin(org), "governance", "vote", r.result, True)
        assert v.ok, v.error
    assert v.result["status"] == "activated", v.result


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    chain = AppChain(tmp_path_factory.mktemp("sweep"))
    try:
        chain.deploy(evidence.NAME, evidence.source())
        chain.deploy(traceability.NAME, traceability.source())
        # Two validator-set changes: node0's power, then a validator of org2 (node0 keeps
        # more than 2/3 of the power, so the one-validator test chain still commits).
        _gov(chain, "propose_set_power", "node0", 5)
        key = generate_keypair()
        _gov(chain, "propose_add_validator", "node1", "org2", key.scheme, key.public_key, 1)
        people = {**evidence_cast(chain, "-sweep"), **trace_cast(chain, "-sweep")}
        ev = Evidence(chain.client(people["depositor"]))
        did = ev.deposit(b"sweep evidence", "Sweep", {"case": "S-1"})
        farm = Traceability(chain.client(people["producer"]))
        farm.register_product("sweep-p", "Tea", "tea", "g")
        farm.create_batch("SW-1", "sweep-p", 100, "Anxi")
        farm.record_event("SW-1", "harvest", {"pickers": 2})
        farm.split_batch("SW-1", [("SW-1a", 60), ("SW-1b", 40)])
        anon = chain.client(None)
        record = ev.get(did)
        docs = {
            "evidence": ev.certificate(did),
            "state": anon.prove_state("evidence", "dep:" + did).document,
            "tx": anon.prove_tx(record["tx"]).document,
            "absence": anon.prove_absence(b"\x09" * 32).document,
            "history": anon.prove_history("governance", "validators").document,
            "traceability": Traceability(anon).lookup_document("SW-1a"),
            "validators": anon.prove_validators().document,
            "orgs": anon.prove_orgs().document,
            "contracts": anon.prove_contracts().document,
        }
        # The proven answers are the plain ones.
        assert docs["orgs"]["orgs"] == chain.http.get("/v1/orgs").json()["orgs"]
        assert docs["contracts"]["contracts"] == chain.http.get("/v1/contracts").json()["contracts"]
        assert [c["name"] for c in docs["contracts"]["contracts"]] == ["evidence", "traceability"]
        yield chain.genesis, json.loads(json.dumps(docs))
    finally:
        chain.close()


def verify(kind: str, doc: Any, genesis: Any) -> None:
    """The project's tool for that kind (raises VerificationError when refused)."""
    if kind == "evidence":
        verify_certificate(doc, None, genesis)
    else:
        verify_document(doc, genesis, kind=kind)


def changed(value: Any) -> list[Any]:
    """Other values for a readable field: same type and other JSON types."""
    if isinstance(value, bool):
        return [not value, int(value), None]
    if isinstance(value, int):
        return [value + 1, value - 1, str(value), float(value), None]
    if isinstance(value, str):
        out = [value + "0", value[:-1], None, 0]
        if value.upper() != value:
            out.append(value.upper())  # the same bytes as upper-case hex: still another text
        return out
    if value is None:
        return [0, "", False]
    if isinstance(value, list):
        return [[], [*value, value[-1] if value else 0], value[:-1], None]
    if isinstance(value, dict):
        return [{}, None, []]
    raise AssertionError(f"unexpected JSON value {value!r}")


def mutations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every change, rename, deletion and addition of a readable field of `doc`."""

    def walk(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
        yield path, node
        if isinstance(node, dict):
            for k, v in node.items():
                if path == () and k == "raw":
                    continue
                yield from walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from walk(v, (*path, i))

    def at(root: Any, path: tuple[Any, ...]) -> Any:
        for p in path:
            root = root[p]
        return root

    for path, node in list(walk(doc, ())):
        if isinstance(node, dict):
            added = copy.deepcopy(doc)
            at(added, path)["extra_field"] = 1
            yield f"add {path}", added
        if not path:
            continue
        *parent_path, last = path
        for other in changed(node):
            if canonical_json(other) == canonical_json(node):
                continue  # not a change (e.g. the last character of an empty text dropped)
            mutated = copy.deepcopy(doc)
            at(mutated, tuple(parent_path))[last] = other
            yield f"change {path} to {other!r}", mutated
        if isinstance(last, str):
            renamed = copy.deepcopy(doc)
            parent = at(renamed, tuple(parent_path))
            parent[last + "_"] = parent.pop(last)
            yield f"rename {path}", renamed
            deleted = copy.deepcopy(doc)
            del at(deleted, tuple(parent_path))[last]
            yield f"delete {path}", deleted
        else:
            dropped = copy.deepcopy(doc)
            del at(dropped, tuple(parent_path))[last]
            yield f"delete {path}", dropped


@pytest.mark.parametrize("kind", KINDS)
def test_every_document_verifies_after_validator_changes(issued, kind):
    genesis, docs = issued
    doc = docs[kind]
    assert doc["kind"] == kind
    assert [c["changed_in"] > 0 for c in doc["validator_changes"]] == [False, True, True]
    verify(kind, doc, genesis)
    verify(kind, json.dumps(doc, indent=None, sort_keys=True), genesis)  # any JSON layout


@pytest.mark.parametrize("kind", KINDS)
def test_every_flipped_byte_is_refused(issued, kind):
    genesis, docs = issued
    doc = docs[kind]
    raw = bytes.fromhex(doc["raw"])
    accepted = []
    for i in range(len(raw)):
        flipped = bytearray(raw)
        flipped[i] ^= 0xFF
        try:
            verify(kind, {**doc, "raw": flipped.hex()}, genesis)
        except VerificationError:
            continue
        accepted.append(i)
    print(f"{kind}: {len(raw)} bytes flipped, {len(accepted)} accepted")
    assert not accepted, f"{kind}: flips at {accepted[:10]} were accepted"


@pytest.mark.parametrize("kind", KINDS)
def test_every_readable_change_is_refused(issued, kind):
    genesis, docs = issued
    doc = docs[kind]
    accepted = []
    count = 0
    for what, mutated in mutations(doc):
        count += 1
        try:
            verify(kind, mutated, genesis)
        except VerificationError:
            continue
        accepted.append(what)
    print(f"{kind}: {count} readable changes, {len(accepted)} accepted")
    assert count > 50
    assert not accepted, f"{kind}: accepted {accepted[:5]}"
