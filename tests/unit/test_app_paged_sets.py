"""Pages over the applications' indexed sets do not skip a member that stays while another
leaves between two pages (a removal moved the set's last member into the emptied place,
behind a walk that had passed it)."""

from __future__ import annotations

from tests.property.test_app_indexed_set_props import LIB
from tests.unit.app_local import ALICE, BOB, CAROL, Ctx, Local

from tianfu.apps import health, supply_finance
from tianfu.execution.sandbox import compile_contract


def test_a_holding_is_not_skipped_when_an_earlier_one_is_transferred_between_pages() -> None:
    app = Local(
        compile_contract(supply_finance.source()),
        Ctx("supply_finance", {ALICE: ["core_enterprise"]}),
    )
    for who in (ALICE, BOB, CAROL):
        app.call(who, "enrol", who[:1])
    due = app.ctx.time_ms + 10**9
    rids = []
    for n in range(1, 5):
        rids.append(app.call(ALICE, "issue", CAROL, 100, due, f"{n:064x}"))
        app.call(CAROL, "accept", rids[-1])
    first = app.call(BOB, "holdings_page", CAROL, 1, 2)
    opened = app.call(BOB, "open_page", 1, 2)
    app.call(CAROL, "transfer", rids[0], BOB)
    app.call(ALICE, "repay", rids[1], "paid")  # RCV-2 leaves the open set
    second = app.call(BOB, "holdings_page", CAROL, first["next"], 2)
    assert [r["id"] for r in first["holdings"] + second["holdings"]] == rids[:2] + rids[2:]
    assert second["held"] == 3 and second["next"] is None
    rest = app.call(BOB, "open_page", opened["next"], 2)
    assert opened["ids"] + rest["ids"] == rids and rest["open"] == 3


def test_a_claim_is_not_skipped_when_an_earlier_one_is_reimbursed_between_pages() -> None:
    app = Local(compile_contract(health.source()), Ctx("health"))
    state = app.ctx.state
    ids = [f"RX{k:06d}" for k in range(1, 5)]
    for k, rx in enumerate(
        ids, 1
    ):  # the indexed set of outstanding claims, as share_claim keeps it
        state[f"claims:org4#i:{k}"], state[f"claims:org4#k:{rx}"] = rx, k
        state["rx:" + rx] = {"id": rx, "status": "dispensed", "reimbursed": None}
    state["claims:org4#n"] = 4
    first = app.call(BOB, "claimable_page", "org4", 1, 2)
    # RX000001 is reimbursed: `reimburse` removes it from every insurer's set
    state["rx:RX000001"]["reimbursed"] = {"by": BOB}
    LIB["_set_remove"](app.ctx, "claims:org4", "RX000001")
    second = app.call(BOB, "claimable_page", "org4", first["next"], 2)
    shown = [r["id"] for r in first["claimable"] + second["claimable"]]
    assert shown == ids and second["next"] is None and second["claims"] == 3
