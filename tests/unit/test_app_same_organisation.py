"""One organisation against another: a notary or a court does not vouch for a deposit of its
own organisation, and a colleague of a work's owner does not dispute its ownership.

Evidence refused only the depositor's own address: a notary or a court of the depositor's
organisation (which issues its own members' certificates) attested and verified its deposit.
IP rights refused only the owner's own address: a colleague in the owner's organisation
opened an ownership dispute, which froze the work (no transfer, no new licence)."""

from __future__ import annotations

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, DAVE, Ctx, Local

from tianfu.apps import evidence, ip_rights
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

HASH = "ab" * 32


def _deposit() -> Local:
    roles = {ALICE: ["depositor"], BOB: ["notary", "court"], CAROL: ["notary", "court"]}
    app = Local(compile_contract(evidence.source()), Ctx(evidence.NAME, roles))
    assert app.call(ALICE, "deposit", HASH, "contract.pdf", {}, org="org1") == "EV000001"
    return app


def test_a_notary_of_the_depositors_organisation_cannot_attest_its_deposit() -> None:
    app = _deposit()
    with pytest.raises(ContractError, match="a notary of org1, the depositor's organisation"):
        app.call(BOB, "attest", "EV000001", "seen it", org="org1")
    assert app.call(DAVE, "attestations", "EV000001") == []
    assert app.call(CAROL, "attest", "EV000001", "seen it", org="org2") == 1
    assert [a["org"] for a in app.call(DAVE, "attestations", "EV000001")] == ["org2"]


def test_a_court_of_the_depositors_organisation_cannot_verify_its_deposit() -> None:
    app = _deposit()
    with pytest.raises(ContractError, match="a court of org1, the depositor's organisation"):
        app.call(BOB, "record_verification", "EV000001", "c-1", "verified", "", org="org1")
    assert app.call(DAVE, "verifications", "EV000001") == []
    assert app.call(CAROL, "record_verification", "EV000001", "c-1", "verified", "", org="org2")
    assert [v["org"] for v in app.call(DAVE, "verifications", "EV000001")] == ["org2"]


def test_a_colleague_of_the_owner_cannot_open_an_ownership_dispute() -> None:
    app = Local(compile_contract(ip_rights.source()), Ctx(ip_rights.NAME, {BOB: ["creator"]}))
    wid = app.call(BOB, "register_work", HASH, "Song", ["A"], "music", org="org1")
    with pytest.raises(ContractError, match="a member of org1, the owner's organisation"):
        app.call(CAROL, "open_dispute", wid, "ownership", "ours", [], org="org1")
    w = app.call(DAVE, "work", wid)
    assert w["open_disputes"] == [] and w["disputes"] == []
    # Other kinds of dispute (an infringement the owner's organisation found) stay open to it,
    # and another organisation may still dispute the ownership.
    assert app.call(CAROL, "open_dispute", wid, "infringement", "copied", [], org="org1")
    assert app.call(DAVE, "open_dispute", wid, "ownership", "ours", [], org="org2")
    assert len(app.call(DAVE, "work", wid)["open_disputes"]) == 2
