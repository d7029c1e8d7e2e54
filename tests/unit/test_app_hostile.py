"""Hostile calls against the applications: no account makes another account's later calls
fail or dearer by writing into state those calls read, no account claims what belongs to
another organisation, and every read entry point is bounded (a page at a time past a bound)."""

from __future__ import annotations

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, DAVE, Ctx, Local

from tianfu.apps import supply_finance
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract


# -- supply_finance ------------------------------------------------------------------------------
def _finance() -> Local:
    roles = {ALICE: ["core_enterprise"], DAVE: ["core_enterprise"]}
    app = Local(compile_contract(supply_finance.source()), Ctx("supply_finance", roles))
    for who in (ALICE, BOB, CAROL, DAVE):
        app.call(who, "enrol", who[:1], org="org1" if who != DAVE else "org2")
    return app


def test_one_invoice_is_not_financed_twice_through_two_accounts_of_one_organisation() -> None:
    app = _finance()
    due = app.ctx.time_ms + 10**9
    invoice = "ab" * 32
    app.ctx.roles[BOB] = ["core_enterprise"]  # a second issuing account of org1
    first = app.call(ALICE, "issue", CAROL, 100, due, invoice, org="org1")
    with pytest.raises(ContractError, match=f"already backs receivable {first}"):
        app.call(BOB, "issue", CAROL, 100, due, invoice, org="org1")
    # another organisation (another debtor) is not blocked by org1's claim
    app.call(DAVE, "issue", CAROL, 100, due, invoice, org="org2")
    # a rejection frees the organisation's claim
    app.call(CAROL, "reject", first, "wrong amount")
    app.call(BOB, "issue", CAROL, 90, due, invoice, org="org1")


def test_an_invoice_claimed_by_an_issuer_address_before_still_counts() -> None:
    """Claims a deployment before kept per issuer address (or for everyone) still refuse."""
    app = _finance()
    due = app.ctx.time_ms + 10**9
    app.ctx.state["doc:" + ALICE + ":" + "cd" * 32] = "RCV-9"
    app.ctx.state["doc:" + "ef" * 32] = "RCV-8"
    with pytest.raises(ContractError, match="already backs receivable RCV-9"):
        app.call(ALICE, "issue", CAROL, 100, due, "cd" * 32, org="org1")
    with pytest.raises(ContractError, match="already backs receivable RCV-8"):
        app.call(DAVE, "issue", CAROL, 100, due, "ef" * 32, org="org2")
