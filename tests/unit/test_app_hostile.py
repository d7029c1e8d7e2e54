"""Hostile calls against the applications: no account makes another account's later calls
fail or dearer by writing into state those calls read, no account claims what belongs to
another organisation, and every read entry point is bounded (a page at a time past a bound)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, DAVE, Ctx, Local

from tianfu.apps import (
    city_governance,
    evidence,
    fund_supervision,
    health,
    ip_rights,
    manufacturing,
    photo_sharing,
    supply_finance,
)
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


def test_an_invoice_an_account_claimed_before_is_found_for_its_whole_organisation() -> None:
    """A deployment before kept claims per issuer address ("doc:<address>:<hash>"): another
    account of the same organisation looked up only its own address and the organisation's
    key, so it backed (and could have financed) the same invoice again. The claims of the
    receivables issued before are filed by organisation (`index_claims`, or `issue` itself
    while at most MAX_LAZY_CLAIMS are left), and `issue` never runs before they all are."""
    app = _finance()
    app.ctx.roles[BOB] = ["core_enterprise"]  # a second issuing account of org1
    app.ctx.governance["cert/" + ALICE] = {"org": "org1"}
    due = app.ctx.time_ms + 10**9
    invoice = "cd" * 32
    state = app.ctx.state  # RCV-1 as the per-address source kept it: no issuer_org
    state["seq"] = 1
    state["doc:" + ALICE + ":" + invoice] = "RCV-1"
    old = {"id": "RCV-1", "parent": None, "issuer": ALICE, "doc_hash": invoice}
    state["r:RCV-1"] = old | {"status": "active", "holder": CAROL}
    assert app.call(BOB, "claims_indexed") == {"indexed": 0, "issued": 1}
    assert app.call(DAVE, "index_claims", 50, org="org2") == {
        "indexed": 1,
        "filed": 1,
        "next": None,
    }
    assert app.call(BOB, "invoice_claim", "org1", invoice) == "RCV-1"
    assert app.call(BOB, "invoice_claim", "org2", invoice) is None
    with pytest.raises(ContractError, match="already backs receivable RCV-1"):
        app.call(BOB, "issue", CAROL, 100, due, invoice, org="org1")
    rid = app.call(DAVE, "issue", CAROL, 100, due, invoice, org="org2")  # another debtor
    assert rid == "RCV-2" and app.call(BOB, "claims_indexed") == {"indexed": 2, "issued": 2}
    for bad in (0, 201, True, "5"):
        with pytest.raises(ContractError, match="limit must be 1..200"):
            app.call(BOB, "index_claims", bad)


def _legacy_receivables(app: Local, count: int, invoice: str) -> None:
    """`count` receivables of ALICE (org1) as the per-address source kept them: no
    issuer_org, each claim under "doc:<address>:<hash>"; the last one backs `invoice`."""
    app.ctx.governance["cert/" + ALICE] = {"org": "org1"}
    state = app.ctx.state
    state["seq"] = count
    for n in range(1, count + 1):
        h = invoice if n == count else f"{n:064x}"
        rid = f"RCV-{n}"
        state["doc:" + ALICE + ":" + h] = rid
        old = {"id": rid, "parent": None, "issuer": ALICE, "doc_hash": h}
        state["r:" + rid] = old | {"status": "active", "holder": CAROL}


def test_issue_after_an_upgrade_files_the_few_claims_left_itself() -> None:
    """After an upgrade from the per-address claims, `issue` was refused until someone ran
    `index_claims`, which no operator knew to do. With at most MAX_LAZY_CLAIMS receivables
    unfiled, `issue` files them itself (bounded work) before it looks the invoice up."""
    app = _finance()
    app.ctx.roles[BOB] = ["core_enterprise"]
    due = app.ctx.time_ms + 10**9
    invoice = "cd" * 32
    _legacy_receivables(app, 50, invoice)
    with pytest.raises(ContractError, match="already backs receivable RCV-50"):
        app.call(BOB, "issue", CAROL, 100, due, invoice, org="org1")  # not financed twice
    rid = app.call(BOB, "issue", CAROL, 100, due, "ee" * 32, org="org1")
    assert rid == "RCV-51"
    assert app.call(BOB, "claims_indexed") == {"indexed": 51, "issued": 51}
    assert app.call(BOB, "invoice_claim", "org1", invoice) == "RCV-50"


def test_issue_with_many_claims_unfiled_says_what_to_run() -> None:
    """Past MAX_LAZY_CLAIMS unfiled receivables `issue` is refused with a message naming
    the command to run (and nothing is issued); after `index_claims` it works."""
    app = _finance()
    app.ctx.roles[BOB] = ["core_enterprise"]
    due = app.ctx.time_ms + 10**9
    invoice = "cd" * 32
    _legacy_receivables(app, 51, invoice)
    with pytest.raises(
        ContractError, match=r"51 receivables .*tianfu app supply_finance index-claims"
    ):
        app.call(BOB, "issue", CAROL, 100, due, "ee" * 32, org="org1")
    assert app.call(BOB, "claims_indexed") == {"indexed": 0, "issued": 51}
    assert app.call(DAVE, "index_claims", 1, org="org2")["next"] == 2
    with pytest.raises(ContractError, match="already backs receivable RCV-51"):
        app.call(BOB, "issue", CAROL, 100, due, invoice, org="org1")  # 50 left: filed by issue


def test_the_open_receivables_are_read_a_page_at_a_time_past_a_bound() -> None:
    """Any core enterprise opens receivables: `open_receivables` and `overdue` read every
    open one, so past MAX_OPEN they are refused and the pages read them instead."""
    app = _finance()
    now = app.ctx.time_ms
    rids = [app.call(ALICE, "issue", CAROL, 1, now + 10**7, f"{n:064x}") for n in range(1, 1002)]
    app.call(CAROL, "accept", rids[-1])
    app.ctx.time_ms += 10**8  # every one is past maturity; only the accepted one is active
    with pytest.raises(ContractError, match="more than 1000: read them a page at a time"):
        app.call(BOB, "open_receivables")
    with pytest.raises(ContractError, match="with overdue_page"):
        app.call(BOB, "overdue")
    assert app.call(BOB, "open_count") == 1001
    tail_ids = app.call(BOB, "open_page", 1001, 200)
    assert tail_ids["ids"] == [rids[-1]] and tail_ids["open"] == 1001 and tail_ids["next"] is None
    last = app.call(BOB, "overdue_page", 801, 200)
    assert last["open"] == 1001 and last["next"] == 1001
    assert last["overdue"] == []
    tail = app.call(BOB, "overdue_page", 1001, 200)
    assert tail["next"] is None and [x["id"] for x in tail["overdue"]] == [rids[-1]]
    for bad in ((0, 5), (1, 0), (1, 201), (True, 5)):
        with pytest.raises(ContractError, match="start must be|limit must be"):
            app.call(BOB, "overdue_page", *bad)


def test_moving_a_part_back_and_forth_does_not_grow_its_record_or_its_trees_calls() -> None:
    """Every transfer and every closed pledge was appended to the part's record, which every
    later call of its tree reads (repay, audit, overdue): two holders passing a part back and
    forth made the issuer's repayment dearer without bound. The record keeps the newest ten;
    `transfers_page` / `pledges_page` read them all."""
    app = _finance()
    app.ctx.roles[DAVE] = ["bank"]
    app.ctx.governance["roles/" + DAVE] = ["bank"]
    due = app.ctx.time_ms + 10**9
    rid = app.call(ALICE, "issue", CAROL, 100, due, "12" * 32)
    app.call(CAROL, "accept", rid)
    gas = []
    for k in range(30):
        holder, to = (CAROL, BOB) if k % 2 == 0 else (BOB, CAROL)
        gas.append(app.gas(holder, "transfer", rid, to)[1])
        app.call(to, "apply_pledge", rid, DAVE)
        app.call(to, "cancel_pledge", rid)
    record = app.call(BOB, "get", rid)
    assert len(record["transfers"]) == 10 and record["transfer_count"] == 30
    assert len(record["pledges"]) == 10 and record["pledge_count"] == 30
    # the record stops growing at ten of each: only the log numbers' digits cost more
    assert gas[-1] - gas[11] <= 8, gas
    page = app.call(BOB, "transfers_page", rid, 1, 200)
    assert page["count"] == 30 and page["next"] is None
    assert [t["to"] for t in page["transfers"]] == [BOB, CAROL] * 15
    assert page["transfers"][-10:] == record["transfers"]
    pledges = app.call(BOB, "pledges_page", rid, 21, 5)
    assert [p["outcome"] for p in pledges["pledges"]] == ["cancelled"] * 5
    assert pledges["next"] == 26
    row = app.call(BOB, "tree_page", rid, 1, 10)["nodes"][0]
    assert row["transfer_count"] == 30 and len(row["transfers"]) == 10


def test_a_part_transferred_before_the_log_keeps_its_history() -> None:
    """A record made before the logs holds every transfer in its list: its next transfer
    moves them to the log, and the pages read them in order."""
    app = _finance()
    due = app.ctx.time_ms + 10**9
    rid = app.call(ALICE, "issue", CAROL, 100, due, "34" * 32)
    app.call(CAROL, "accept", rid)
    old = [{"from": CAROL, "to": BOB, "height": h, "time_ms": h} for h in range(12)]
    app.ctx.state["r:" + rid]["transfers"] = list(old)  # as the earlier source kept it
    assert app.call(BOB, "transfers_page", rid, 11, 5)["transfers"] == old[10:]
    app.call(CAROL, "transfer", rid, BOB)
    page = app.call(BOB, "transfers_page", rid, 1, 200)
    assert page["count"] == 13 and page["transfers"][:12] == old
    assert len(app.call(BOB, "get", rid)["transfers"]) == 10


# -- fund_supervision ----------------------------------------------------------------------------
def _fund_with_two_provinces() -> Local:
    roles = {ALICE: ["fund_authority"], BOB: ["fund_officer"], CAROL: ["fund_officer"]}
    app = Local(compile_contract(fund_supervision.source()), Ctx("fund_supervision", roles))
    now = app.ctx.time_ms
    app.call(ALICE, "create_fund", "f1", "relief", 10**9, now - 1, now + 10**12)
    for acct, manager in (("p1", BOB), ("p2", CAROL)):
        app.call(ALICE, "register_account", acct, acct, "province", "", manager)
    return app


def test_a_trace_reads_what_it_shows_not_every_movement_of_the_fund() -> None:
    """Others' allocations and payments in the fund do not make a beneficiary's trace dearer;
    a hop shows the newest 20 allocations before the payment and counts them all."""
    app = _fund_with_two_provinces()
    h = "ab" * 32
    app.call(BOB, "register_beneficiary", "p1", h, ["relief"])
    for _ in range(30):
        app.call(ALICE, "allocate", "f1", "", "p1", 1_000, "")
    app.call(BOB, "disburse", "f1", "p1", h, 500, "relief", "cd" * 32)
    first_trace, first = app.gas(CAROL, "trace", "f1", h, "org1")
    for _ in range(300):  # the fund moves on, into p1 and elsewhere
        app.call(ALICE, "allocate", "f1", "", "p1", 1, "")
        app.call(ALICE, "allocate", "f1", "", "p2", 1, "")
    later_trace, later = app.gas(CAROL, "trace", "f1", h, "org1")
    assert later_trace == first_trace
    assert later - first <= 200, (first, later)  # a few more bisection steps, not 600 moves
    hop = later_trace["payments"][0]["path"][0]
    assert hop["allocations_in_count"] == 30
    assert [a["seq"] for a in hop["allocations_in"]] == list(range(11, 31))
    page = app.call(CAROL, "allocations_into", "f1", "p1", 31, 200)
    assert len(page) == 200 and page[0]["seq"] == 32 and page[0]["to"] == "p1"
    with pytest.raises(ContractError, match="id_hash must be"):
        app.call(CAROL, "trace", "f1", "not-a-hash", "org1")


def test_a_fund_created_before_the_allocation_log_is_traced_from_its_movements() -> None:
    app = _fund_with_two_provinces()
    h = "ab" * 32
    app.call(BOB, "register_beneficiary", "p1", h, ["relief"])
    app.call(ALICE, "allocate", "f1", "", "p1", 1_000, "")
    app.call(BOB, "disburse", "f1", "p1", h, 500, "relief", "cd" * 32)
    fund = app.ctx.state["fund:f1"]
    del fund["alloc_log"]  # as the earlier source recorded it, without the log
    for key in [k for k in app.ctx.state if k.startswith(("ai:", "ain:"))]:
        del app.ctx.state[key]
    hop = app.call(CAROL, "trace", "f1", h, "org1")["payments"][0]["path"][0]
    assert hop["allocations_in_count"] == 1 and hop["allocations_in"][0]["seq"] == 1
    fund["moves"] = 2001
    with pytest.raises(ContractError, match="more than 2000, and was created before"):
        app.call(CAROL, "trace", "f1", h, "org1")


def test_accounts_registered_before_the_log_stay_listed_after_a_new_one() -> None:
    """On a deployment whose accounts were registered before the "acn" log, the first
    account registered after it started the log at 1, and `accounts_page` then read only
    the log: every earlier account vanished from the pages (and the SDK's `all_accounts`)."""
    app = _fund_with_two_provinces()
    for key in [k for k in app.ctx.state if k == "acn" or k.startswith("acl:")]:
        del app.ctx.state[key]  # as a deployment before the log left them
    app.call(ALICE, "register_account", "p3", "p3", "province", "", BOB)
    app.call(BOB, "register_account", "c1", "c1", "city", "p1", BOB)
    page = app.call(BOB, "accounts_page", 1, 200)
    assert [a["id"] for a in page["accounts"]] == ["p1", "p2", "p3", "c1"]
    assert page["count"] is None and page["next"] is None
    assert [a["id"] for a in app.call(BOB, "accounts")] == ["p1", "p2", "p3", "c1"]
    fresh = _fund_with_two_provinces()  # a deployment with the log reads the log
    fresh.call(ALICE, "register_account", "p3", "p3", "province", "", BOB)
    page = fresh.call(BOB, "accounts_page", 2, 5)
    assert [a["id"] for a in page["accounts"]] == ["p2", "p3"] and page["count"] == 3


def _one_household_two_offices() -> tuple[Local, str]:
    """f1 allocated to p1 (BOB, org1) and p2 (CAROL, org2), each office having registered
    the same household hash (one salt across the consortium) at its own account."""
    app = _fund_with_two_provinces()
    h = "ab" * 32
    for acct, who, org in (("p1", BOB, "org1"), ("p2", CAROL, "org2")):
        app.call(ALICE, "allocate", "f1", "", acct, 1_000, "")
        app.call(who, "register_beneficiary", acct, h, ["relief"], org=org)
    return app, h


def test_a_household_is_not_paid_twice_from_one_fund_by_two_organisations() -> None:
    """Beneficiaries are registered per organisation (so no member blocks another's
    registration), and the once-per-fund rule was checked per organisation and hash: two
    offices of two organisations each paid the same household from the same fund. The
    first organisation to pay a household from a fund now holds it (`payee`); another's
    payment or plan is refused, and `attempt_disburse` records the refusal."""
    app, h = _one_household_two_offices()
    app.call(BOB, "disburse", "f1", "p1", h, 300, "relief", "cd" * 32, org="org1")
    assert app.call(DAVE, "payee", "f1", h) == {"org": "org1", "account": "p1", "move": 3}
    with pytest.raises(ContractError, match="already paid from fund f1 by org1 at p1"):
        app.call(CAROL, "disburse", "f1", "p2", h, 300, "relief", "cd" * 32, org="org2")
    with pytest.raises(ContractError, match="paid from fund f1 by another organisation"):
        app.call(CAROL, "plan_instalments", "f1", "p2", h, [100, 200], org="org2")
    got = app.call(CAROL, "attempt_disburse", "f1", "p2", h, 300, "relief", "cd" * 32, org="org2")
    assert got["ok"] is False and got["code"] == "already_paid"
    assert app.call(DAVE, "refusals", "f1")[0]["code"] == "already_paid"
    assert app.call(DAVE, "fund", "f1")["disbursed"] == 300
    assert app.call(DAVE, "payments", "f1", h, "org2")["paid"] == []
    assert app.call(DAVE, "payee", "f1", "cd" * 32) is None


def test_a_fund_before_the_payee_records_finds_another_organisations_payment() -> None:
    """A fund created before the payee records: a payment one organisation made then (no
    payee record) is found through the member organisations' payment records."""
    app, h = _one_household_two_offices()
    app.ctx.governance["orgs"] = ["org1", "org2", "org3"]
    app.call(BOB, "disburse", "f1", "p1", h, 300, "relief", "cd" * 32, org="org1")
    del app.ctx.state["payee:f1:" + h]  # as the source before the payee records left it
    del app.ctx.state["fund:f1"]["payees"]
    with pytest.raises(ContractError, match="already paid from fund f1 by org1"):
        app.call(CAROL, "disburse", "f1", "p2", h, 300, "relief", "cd" * 32, org="org2")
    app.call(BOB, "register_beneficiary", "p1", "ee" * 32, ["relief"], org="org1")
    app.call(BOB, "disburse", "f1", "p1", "ee" * 32, 5, "relief", "cd" * 32, org="org1")


# -- health --------------------------------------------------------------------------------------
def test_an_insurers_claims_are_read_a_page_at_a_time_past_40() -> None:
    """Any patient of a dispensed prescription shares it with any insurer: `claimable` reads
    every outstanding claim, so past 40 (what one view returns of the largest prescriptions)
    it is refused and `claimable_page` reads a page."""
    app = Local(compile_contract(health.source()), Ctx("health"))
    state = app.ctx.state
    for k in range(1, 42):  # the indexed set of 41 outstanding claims, as share_claim keeps it
        rx = f"RX{k:06d}"
        state[f"claims:org4#i:{k}"], state[f"claims:org4#k:{rx}"] = rx, k
        state["rx:" + rx] = {"id": rx, "status": "dispensed", "reimbursed": None}
    state["claims:org4#n"] = 41
    with pytest.raises(ContractError, match="more than 40: read them a page at a time"):
        app.call(BOB, "claimable", "org4")
    assert app.call(BOB, "claim_count", "org4") == 41
    tail = app.call(BOB, "claimable_page", "org4", 40, 40)
    assert [r["id"] for r in tail["claimable"]] == ["RX000040", "RX000041"]
    assert tail["claims"] == 41 and tail["next"] is None
    with pytest.raises(ContractError, match=r"limit 1\.\.40"):
        app.call(BOB, "claimable_page", "org4", 1, 41)


# -- the shared page check -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("app", "view", "args", "most"),
    [
        (evidence, "by_hash_page", ["ab" * 32], 200),
        (photo_sharing, "reports_page", ["PH000001"], 25),
        (city_governance, "cases", [], 200),
        (health, "claimable_page", ["org4"], 40),
        (health, "access_log_page", ["REC000001"], 150),
        (health, "records_of_page", ["a" * 40], 40),
        (evidence, "attestations_page", ["EV000001"], 45),
    ],
)
def test_every_page_is_refused_for_a_boolean_or_out_of_range_bound(
    app: Any, view: str, args: list[Any], most: int
) -> None:
    local = Local(compile_contract(app.source()), Ctx(app.NAME))
    for start, limit in ((True, 5), (1, True), (0, 5), (1, 0), (1, most + 1)):
        with pytest.raises(ContractError, match=rf"start >= 1, limit 1\.\.{most}\Z"):
            local.call(BOB, view, *args, start, limit)
    local.call(BOB, view, *args, 1, most)


# -- manufacturing -------------------------------------------------------------------------------
def test_the_alerts_of_a_tree_are_read_a_page_at_a_time_past_75() -> None:
    """Every subcontractor of a tree (and anyone flagging its orders overdue) adds alerts to
    it: past 75 (what one view returns of 500-character reasons naming three organisations)
    `alerts` is refused and `alerts_page` reads them, at most 75 a page."""
    app = Local(compile_contract(manufacturing.source()), Ctx(manufacturing.NAME))
    root = "org1/PO-1"
    app.ctx.state["order:" + root] = {"id": root, "root": root, "alerts": 501}
    for n in range(1, 502):
        app.ctx.state[f"alert:{root}:{n}"] = {"n": n, "order": root, "kind": "overdue"}
    with pytest.raises(ContractError, match="501 alerts, more than 75"):
        app.call(BOB, "alerts", root)
    page = app.call(BOB, "alerts_page", root, 401, 75)
    assert page["count"] == 501 and page["next"] == 476
    assert [a["n"] for a in page["alerts"]] == list(range(401, 476))
    last = app.call(BOB, "alerts_page", root, 451, 75)
    assert [a["n"] for a in last["alerts"]] == list(range(451, 502)) and last["next"] is None
    assert app.call(BOB, "alerts_page", root, 1, 75)["next"] == 76
    with pytest.raises(ContractError, match=r"limit 1\.\.75"):
        app.call(BOB, "alerts_page", root, 1, 76)


# -- ip_rights -----------------------------------------------------------------------------------
def test_opening_and_withdrawing_disputes_does_not_use_up_a_works_disputes() -> None:
    """A work lists at most 200 disputes: one member opening and withdrawing its dispute over
    and over filled that list, and then no other member could dispute the work."""
    app = Local(compile_contract(ip_rights.source()), Ctx("ip_rights", {ALICE: ["creator"]}))
    wid = app.call(ALICE, "register_work", "ab" * 32, "Song", ["A"], "music")
    for _ in range(201):
        d = app.call(BOB, "open_dispute", wid, "licence", "ours", [], org="org2")
        app.call(BOB, "withdraw_dispute", d, "never mind", org="org2")
    real = app.call(CAROL, "open_dispute", wid, "ownership", "we wrote it", [], org="org3")
    assert app.ctx.state["work:" + wid]["disputes"] == [real]
    assert app.call(CAROL, "dispute", d)["status"] == "withdrawn"


def test_anyones_disputes_do_not_make_a_works_ownership_history_unreadable() -> None:
    """Any member's disputes add to a work's history: `history` reads a page past 80
    entries, and `ownership_history` reads the ownership log, not the whole history."""
    app = Local(compile_contract(ip_rights.source()), Ctx("ip_rights", {ALICE: ["creator"]}))
    app.ctx.governance["cert/" + CAROL] = {"org": "org3", "serial": "1", "fingerprint": "f"}
    app.ctx.governance["org/org3"] = {"status": "active"}
    wid = app.call(ALICE, "register_work", "ab" * 32, "Song", ["A"], "music")
    app.call(ALICE, "transfer_work", wid, CAROL, 0)
    _, first = app.gas(DAVE, "ownership_history", wid)
    for _ in range(500):
        d = app.call(BOB, "open_dispute", wid, "licence", "ours", [], org="org2")
        app.call(BOB, "withdraw_dispute", d, "never mind", org="org2")
    owners, later = app.gas(DAVE, "ownership_history", wid)
    assert later == first
    assert [h["event"] for h in owners] == ["registered", "transferred"]
    with pytest.raises(ContractError, match="1002 history entries, more than 80"):
        app.call(DAVE, "history", wid)
    page = app.call(DAVE, "history_page", wid, 1001, 80)
    assert [h["n"] for h in page] == [1001, 1002]


class _LocalClient:
    """An SDK client whose transactions and views run on a `Local` contract as `who`."""

    def __init__(self, app: Local, who: str) -> None:
        self.app, self.who, self.calls = app, who, []  # type: ignore[var-annotated]

    def invoke(self, contract: str, method: str, *args: Any) -> Any:
        self.calls.append(method)
        return type("Receipt", (), {"result": self.app.call(self.who, method, *args)})()

    def query(self, contract: str, method: str, *args: Any) -> Any:
        self.calls.append(method)
        return self.app.call(self.who, method, *args)


def test_the_sdks_issue_files_many_unfiled_claims_first() -> None:
    """Past the 50 unfiled claims `issue` files itself, the SDK's `issue` runs
    `index_claims` until every one is filed, once, then issues (no one has to know)."""
    from tianfu.apps.supply_finance.sdk import SupplyFinance

    app = _finance()
    app.ctx.roles[BOB] = ["core_enterprise"]
    _legacy_receivables(app, 250, "cd" * 32)
    client = _LocalClient(app, BOB)
    sdk = SupplyFinance(client)  # type: ignore[arg-type]
    due = app.ctx.time_ms + 10**9
    assert sdk.issue(CAROL, 100, due, "ee" * 32) == "RCV-251"
    assert client.calls.count("index_claims") == 2
    assert sdk.issue(CAROL, 100, due, "ef" * 32) == "RCV-252"
    assert client.calls.count("claims_indexed") == 4  # once, then 3 in the walk, never again
