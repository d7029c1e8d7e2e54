"""Evidence: each organisation has its own slots on a deposit, and every attestation and
verification record stays readable however many there are.

A deposit took at most 100 attestations and 100 verification records in all, first come
first served: one court (or one organisation that appointed 100 notaries) used them up and no
other organisation could record its own. Each organisation now records at most MAX_PER_ORG of
each; the logs grow with the member organisations, so the whole-list views are bounded by the
bytes of their largest entries and the page views read the rest."""

from __future__ import annotations

from typing import Any, cast

import pytest
from tests.unit.app_local import ALICE, BOB, Ctx, Local

from tianfu.apps import evidence
from tianfu.apps.evidence.sdk import Evidence
from tianfu.client import Client
from tianfu.execution.contract_api import ContractError
from tianfu.execution.limits import MAX_RESULT_BYTES
from tianfu.execution.sandbox import compile_contract

HASH = "ab" * 32
COURTS = [f"{k:040x}" for k in range(1, 121)]  # 120 court (or notary) identities of org2


def _deposited() -> Local:
    roles = {ALICE: ["depositor"], BOB: ["court", "notary"]}
    roles.update({c: ["court", "notary"] for c in COURTS})
    app = Local(compile_contract(evidence.source()), Ctx(evidence.NAME, roles))
    assert app.call(ALICE, "deposit", HASH, "contract.pdf", {}) == "EV000001"
    return app


def _fill(app: Local, method: str, *args: Any) -> int:
    """Record as many entries as org2's identities are let record; how many were."""
    done = 0
    for court in COURTS:
        try:
            app.call(court, method, "EV000001", *args, org="org2")
        except ContractError as exc:
            assert "org2 has recorded 10" in str(exc) and "at most 10" in str(exc)
            continue
        done += 1
    return done


def test_one_court_cannot_use_up_the_verification_slots_of_the_others() -> None:
    app = _deposited()
    assert _fill(app, "record_verification", "(2026) 1", "verified", "") == 10
    assert (
        app.call(BOB, "record_verification", "EV000001", "(2026) 9", "verified", "", org="org3")
        == 11
    )
    assert [v["org"] for v in app.call(BOB, "verifications", "EV000001")] == ["org2"] * 10 + [
        "org3"
    ]


def test_one_organisation_of_many_notaries_cannot_use_up_the_attestations() -> None:
    app = _deposited()
    assert _fill(app, "attest", "seen") == 10
    assert app.call(BOB, "attest", "EV000001", "seen too", org="org3") == 11
    with pytest.raises(ContractError, match="this notary already attested EV000001"):
        app.call(BOB, "attest", "EV000001", "again", org="org3")


def test_entries_of_a_deployment_before_count_for_their_organisation_and_notary() -> None:
    app = _deposited()
    state = app.ctx.state
    for n in range(1, 10):  # nine attestations and verification records by org2 before
        who = COURTS[n]
        state[f"att:EV000001:{n}"] = {"by": who, "org": "org2", "statement": "s"}
        state[f"cv:EV000001:{n}"] = {"by": who, "org": "org2", "result": "verified"}
    state["natt:EV000001"] = state["ncv:EV000001"] = 9
    with pytest.raises(ContractError, match="this notary already attested"):
        app.call(COURTS[3], "attest", "EV000001", "again", org="org2")
    assert app.call(COURTS[0], "attest", "EV000001", "tenth", org="org2") == 10
    with pytest.raises(ContractError, match="org2 has recorded 10 attestations"):
        app.call(COURTS[11], "attest", "EV000001", "eleventh", org="org2")
    app.call(COURTS[0], "record_verification", "EV000001", "c", "verified", "", org="org2")
    with pytest.raises(ContractError, match="org2 has recorded 10 verification records"):
        app.call(COURTS[0], "record_verification", "EV000001", "c", "verified", "", org="org2")
    assert app.call(BOB, "attest", "EV000001", "another org", org="org3") == 11


def _largest(app: Local, n: int) -> None:
    """`n` attestations and verification records of the largest size the contract accepts:
    1,000-character texts of 4-byte characters, 64-character names and organisations."""
    text = "\U00020000" * 1000
    stamp = {
        "by": "f" * 40,
        "name": "\U00020000" * 64,
        "org": "\U00020000" * 61,
        "height": 2**62,
        "time_ms": 2**62,
        "tx": "f" * 64,
    }
    for k in range(1, n + 1):
        app.ctx.state[f"att:EV000001:{k}"] = {**stamp, "statement": text}
        app.ctx.state[f"cv:EV000001:{k}"] = {**stamp, "case": "\U00020000" * 100}
        app.ctx.state[f"cv:EV000001:{k}"].update(result="rejected", note=text)
    app.ctx.state["natt:EV000001"] = app.ctx.state["ncv:EV000001"] = n


def test_the_largest_entries_are_read_whole_up_to_the_bound_and_a_page_at_a_time() -> None:
    app = _deposited()
    _largest(app, 45)
    assert len(app.call(BOB, "attestations", "EV000001")) == 45  # within MAX_RESULT_BYTES
    assert len(app.call(BOB, "verifications", "EV000001")) == 45
    _largest(app, 46)
    for view, page_view in (
        ("attestations", "attestations_page"),
        ("verifications", "verifications_page"),
    ):
        with pytest.raises(ContractError, match=f"46 .*more than 45: .*{page_view}"):
            app.call(BOB, view, "EV000001")
        page = app.call(BOB, page_view, "EV000001", 1, 45)
        assert page["count"] == 46 and page["next"] == 46 and len(page[view]) == 45
        last = app.call(BOB, page_view, "EV000001", 46, 45)
        assert len(last[view]) == 1 and last["next"] is None
        with pytest.raises(ContractError, match=r"limit 1\.\.45"):
            app.call(BOB, page_view, "EV000001", 1, 46)
    # the bound has a margin, not much more: 51 of the largest verification records (and
    # the 100 a deposit could hold before) are not returned at all
    _largest(app, 100)
    wide = compile_contract(evidence.source().replace("MAX_SHOWN = 45", "MAX_SHOWN = 100"))
    with pytest.raises(ContractError, match=f"larger than {MAX_RESULT_BYTES} bytes"):
        Local(wide, app.ctx).call(BOB, "verifications_page", "EV000001", 1, 51)
    with pytest.raises(ContractError, match=f"larger than {MAX_RESULT_BYTES} bytes"):
        Local(wide, app.ctx).call(BOB, "attestations", "EV000001")


def test_the_sdk_reads_every_entry_a_page_at_a_time() -> None:
    app = _deposited()
    _largest(app, 51)

    class _Node:  # the SDK's client: a view runs on the in-process contract
        def query(self, contract: str, method: str, *args: Any) -> Any:
            return app.call(ALICE, method, *args)

    sdk = Evidence(cast(Client, _Node()))
    assert len(sdk.all_attestations("EV000001")) == 51
    assert len(sdk.all_verifications("EV000001")) == 51


def test_a_depositor_holding_the_court_role_cannot_verify_its_own_deposit() -> None:
    """`attest` refused a notary attesting its own deposit; its twin `record_verification`
    let a court record a verification of its own."""
    app = _deposited()
    app.ctx.governance["roles/" + ALICE] = ["depositor", "court", "notary"]
    app.ctx.roles[ALICE] = ["depositor", "court", "notary"]
    with pytest.raises(ContractError, match="a depositor cannot verify its own deposit"):
        app.call(ALICE, "record_verification", "EV000001", "c-1", "verified", "")
    with pytest.raises(ContractError, match="a depositor cannot attest its own deposit"):
        app.call(ALICE, "attest", "EV000001", "mine")
    assert app.call(BOB, "record_verification", "EV000001", "c-1", "verified", "", org="org2") == 1
