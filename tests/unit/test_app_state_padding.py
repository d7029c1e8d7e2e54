"""No account can make another account's later calls slower or fail by writing into state
those calls read: each application's lists that other parties add to stay out of the paths of
the victim's calls (the gas of the victim's call is the same before and after the padding)."""

from __future__ import annotations

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, DAVE, Ctx, Local

from tianfu.apps import city_governance, evidence, fund_supervision, ip_rights, supply_finance
from tianfu.apps.fund_supervision.sdk import paged_report
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract


# -- fund_supervision: the refusal log -----------------------------------------------------------
def _funds() -> Local:
    # BOB and CAROL: fund officers (other offices) with no account in the fund
    return _funds_with({ALICE: ["fund_authority"], BOB: ["fund_officer"], CAROL: ["fund_officer"]})


def _funds_with(roles: dict[str, list[str]]) -> Local:
    app = Local(compile_contract(fund_supervision.source()), Ctx("fund_supervision", roles))
    now = app.ctx.time_ms
    app.call(ALICE, "create_fund", "f1", "relief", 1_000, now - 1, now + 10**9)
    return app


def test_a_strangers_refused_attempts_do_not_slow_another_partys_attempts() -> None:
    app = _funds()
    _, first = app.gas(ALICE, "attempt_allocate", "f1", "", "nowhere", 5, "")
    _, first_unknown = app.gas(CAROL, "attempt_allocate", "no-fund", "", "x", 5, "")
    for _ in range(300):  # a stranger's refused attempts, on the fund and on no fund
        app.call(BOB, "attempt_allocate", "f1", "", "nowhere", 5, "")
        app.call(BOB, "attempt_allocate", "no-fund", "", "x", 5, "")
    _, later = app.gas(ALICE, "attempt_allocate", "f1", "", "nowhere", 5, "")
    _, later_unknown = app.gas(CAROL, "attempt_allocate", "no-fund", "", "x", 5, "")
    assert (later, later_unknown) == (first, first_unknown)
    assert app.call(BOB, "refusal_count", "f1") == 302
    shown = app.call(BOB, "refusals", "f1")
    assert len(shown) == 80 and shown[-1]["by"] == ALICE and shown[0]["seq"] < shown[-1]["seq"]
    page = app.call(BOB, "refusal_page", "f1", 1, 3)
    assert [r["by"] for r in page] == [ALICE, BOB, BOB]
    report = app.call(BOB, "report", "f1", None)
    assert report["refusal_count"] == 302 and report["refusals"] == shown


def test_refusals_listed_before_the_numbered_log_are_still_shown_first() -> None:
    """A chain upgraded from the list-per-fund source keeps showing its earlier refusals."""
    app = _funds()
    app.call(BOB, "attempt_allocate", "f1", "", "nowhere", 5, "")
    app.ctx.state["rf_fund:f1"] = [7, 8]  # what the earlier source kept
    app.ctx.state["rf:7"], app.ctx.state["rf:8"] = {"seq": 7}, {"seq": 8}
    assert app.call(BOB, "refusal_count", "f1") == 3
    assert [r["seq"] for r in app.call(BOB, "refusals", "f1")] == [7, 8, 1]
    assert [r["seq"] for r in app.call(BOB, "refusal_page", "f1", 2, 5)] == [8, 1]


# -- supply_finance: holdings and the open receivables -------------------------------------------
def test_receivables_pushed_on_an_account_do_not_slow_its_calls_or_other_issuers() -> None:
    roles = {ALICE: ["core_enterprise"], DAVE: ["core_enterprise"]}
    app = Local(compile_contract(supply_finance.source()), Ctx("supply_finance", roles))
    for who in (ALICE, BOB, CAROL, DAVE):
        app.call(who, "enrol", who[:1])
    due = app.ctx.time_ms + 10**9
    docs = iter(f"{n:064x}" for n in range(1, 10_000))

    def issue_and_move() -> tuple[int, int]:
        """Gas of DAVE issuing to CAROL, and of CAROL accepting and transferring it."""
        rid, issued = app.gas(DAVE, "issue", CAROL, 100, due, next(docs))
        app.call(CAROL, "accept", rid)
        return issued, app.gas(CAROL, "transfer", rid, BOB)[1]

    first = issue_and_move()
    for _ in range(300):  # another core enterprise pushes receivables on CAROL
        app.call(ALICE, "issue", CAROL, 1, due, next(docs))
    later = issue_and_move()
    # only the index numbers' digits cost more (a list read and rewritten cost hundreds more);
    # the first calls also made the first key of a set's bucket (a few gas the later ones,
    # in buckets others' receivables opened, do not spend)
    assert all(-30 <= b - a <= 8 for a, b in zip(first, later, strict=True)), (first, later)
    assert app.call(BOB, "holding_count", CAROL) == 300
    assert len(app.call(BOB, "holdings_page", CAROL, 101, 200)["holdings"]) == 200
    assert len(app.call(BOB, "open_receivables")) == 302


def test_holdings_listed_before_the_indexed_sets_are_kept_and_leave_when_moved() -> None:
    """A chain upgraded from the one-list source keeps its lists; a member moved away is
    replaced by None there (the list keeps its length, so a walk's pages keep their places)."""
    roles = {ALICE: ["core_enterprise"]}
    app = Local(compile_contract(supply_finance.source()), Ctx("supply_finance", roles))
    for who in (ALICE, BOB, CAROL):
        app.call(who, "enrol", who[:1])
    due = app.ctx.time_ms + 10**9
    old = app.call(ALICE, "issue", CAROL, 5, due, "1" * 64)
    app.call(CAROL, "accept", old)
    for key in ("held:" + CAROL, "open"):  # as the earlier source kept them
        for suffix in ("#n", "#i:1", "#k:" + old):
            del app.ctx.state[key + suffix]
        app.ctx.state[key] = [old]
    new = app.call(ALICE, "issue", CAROL, 7, due, "2" * 64)
    assert [r["id"] for r in app.call(BOB, "holdings", CAROL)] == [old, new]
    assert app.call(BOB, "open_receivables") == [old, new]
    app.call(CAROL, "transfer", old, BOB)
    assert app.ctx.state["held:" + CAROL] == [None]
    page = app.call(BOB, "holdings_page", CAROL, 1, 1)
    assert page["holdings"] == [] and page["next"] == 2
    assert [r["id"] for r in app.call(BOB, "holdings_page", CAROL, 2, 5)["holdings"]] == [new]
    assert [r["id"] for r in app.call(BOB, "holdings", CAROL)] == [new]
    assert [r["id"] for r in app.call(BOB, "holdings", BOB)] == [old]


# -- ip_rights: open disputes of a work ---------------------------------------------------------
def test_a_work_has_at_most_ten_open_disputes_and_one_per_organisation() -> None:
    app = Local(compile_contract(ip_rights.source()), Ctx("ip_rights", {ALICE: ["creator"]}))
    wid = app.call(ALICE, "register_work", "ab" * 32, "Song", ["A"], "music")
    claims = [
        app.call(f"{n:040x}", "open_dispute", wid, "licence", "ours", [], org=f"org{n}")
        for n in range(2, 12)
    ]
    with pytest.raises(ContractError, match="already has open dispute"):
        app.call("f" * 40, "open_dispute", wid, "licence", "ours too", [], org="org2")
    with pytest.raises(ContractError, match="has 10 open disputes"):
        app.call("f" * 40, "open_dispute", wid, "licence", "ours too", [], org="org12")
    app.call(f"{2:040x}", "withdraw_dispute", claims[0], "settled", org="org2")
    app.call("f" * 40, "open_dispute", wid, "licence", "ours too", [], org="org12")
    assert len(app.ctx.state["work:" + wid]["open_disputes"]) == 10


# -- city_governance: the cases open with a department -----------------------------------------
def test_cases_pushed_on_a_department_do_not_slow_its_calls() -> None:
    roles = {
        ALICE: ["city_admin", "dispatcher", "service_centre"],
        BOB: ["dept:d1"],
        CAROL: ["dept:d2"],
    }
    ctx = Ctx("city_governance", roles)
    ctx.governance["org/org1"] = {"status": "active"}
    app = Local(compile_contract(city_governance.source()), ctx)
    for d in ("d1", "d2"):
        app.call(ALICE, "register_department", d, "Dept " + d, "org1", 3_600_000)
    ids = iter(range(1, 10_000))

    def dispatched(dept: str) -> tuple[str, int]:
        cid = f"c{next(ids)}"
        app.call(ALICE, "file_case", cid, "noise", "normal", "Rd 5", "noise", "", "", "")
        return cid, app.gas(ALICE, "dispatch", cid, dept)[1]

    def moves() -> tuple[int, int]:
        """Gas of dispatching a case to d1 and of d1's staff handing it to d2."""
        cid, dispatch_gas = dispatched("d1")
        return dispatch_gas, app.gas(BOB, "transfer", cid, "d2", "not ours")[1]

    def push() -> None:
        for _ in range(300):  # another department hands its cases to d1
            cid, _ = dispatched("d2")
            app.call(CAROL, "transfer", cid, "d1", "yours")

    first = moves()
    push()
    later = moves()
    push()
    latest = moves()
    # only the index numbers' digits cost more (a list read and rewritten cost hundreds more);
    # a case added after the set's last slots were emptied links past them once (d2's
    # transfer: about twenty gas), however many were emptied
    assert all(0 <= b - a <= 8 for a, b in zip(later, latest, strict=True)), (later, latest)
    assert 0 <= later[0] - first[0] <= 8 and 0 <= later[1] - first[1] <= 8 + 30, (first, later)
    stats = {row["dept"]: row["open"] for row in app.call(ALICE, "stats")}
    assert stats == {"d1": 600, "d2": 3}


# -- evidence: deposits of one file hash ---------------------------------------------------------
def test_nobody_can_use_up_the_deposits_of_a_file_hash() -> None:
    """A pirate who deposits the hash of a file a hundred times neither stops its owner
    depositing it as evidence nor makes that deposit dearer."""
    roles = {ALICE: ["depositor"], BOB: ["depositor"]}
    app = Local(compile_contract(evidence.source()), Ctx("evidence", roles))
    h = "ab" * 32
    _, first = app.gas(BOB, "deposit", "cd" * 32, "my file", {})
    for _ in range(150):
        app.call(ALICE, "deposit", h, "junk", {})
    dep, later = app.gas(BOB, "deposit", h, "pirated copy of my file", {})
    assert later - first <= 8
    assert app.call(BOB, "hash_count", h) == 151
    assert app.call(BOB, "by_hash", h)[:2] == ["EV000002", "EV000003"]
    assert len(app.call(BOB, "by_hash", h)) == 100
    assert app.call(BOB, "by_hash_page", h, 151, 5) == [dep]


def test_accounts_funded_by_one_manager_do_not_slow_another_managers_allocations() -> None:
    """Every allocation and payment reads and writes its fund's record: the accounts a fund
    reached are a numbered list beside it, not a list in it that any manager could grow."""
    roles = {ALICE: ["fund_authority"], BOB: ["fund_officer"], CAROL: ["fund_officer"]}
    app = _funds_with(roles)
    for acct, manager in (("p1", BOB), ("p2", CAROL)):
        app.call(ALICE, "register_account", acct, acct, "province", "", manager)
        app.call(ALICE, "allocate", "f1", "", acct, 400, "")
    app.call(CAROL, "register_account", "c2", "c2", "city", "p2", CAROL)
    _, first = app.gas(CAROL, "allocate", "f1", "p2", "c2", 1, "")
    for n in range(300):  # BOB spreads p1's money over many cities
        app.call(BOB, "register_account", f"b{n}", "b", "city", "p1", BOB)
        app.call(BOB, "allocate", "f1", "p1", f"b{n}", 1, "")
    _, later = app.gas(CAROL, "allocate", "f1", "p2", "c2", 1, "")
    assert later - first <= 8, (first, later)
    # `report` reads at most 200 accounts; past that the SDK reads it a page at a time
    with pytest.raises(ContractError, match="303 accounts received from fund f1, more than 200"):
        app.call(ALICE, "report", "f1", None)
    report = paged_report(lambda *a: app.call(ALICE, *a), "f1", None)
    assert report["conserved"] and len(report["accounts"]) == 303
