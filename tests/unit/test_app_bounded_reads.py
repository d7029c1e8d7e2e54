"""The traceability, supply_finance and fund_supervision reads that any member's writes
grow are bounded and paged, a traceability recall finishes in bounded work whatever the
holders do meanwhile, and a beneficiary hash is registered per organisation."""

from __future__ import annotations

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, DAVE, Ctx, Local

from tianfu.apps import fund_supervision, supply_finance, traceability
from tianfu.apps.fund_supervision.sdk import _combined, paged_report
from tianfu.apps.supply_finance.sdk import paged_totals
from tianfu.apps.traceability.sdk import walk_descendants
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract


# -- traceability --------------------------------------------------------------------------------
def _trace() -> Local:
    roles = {ALICE: ["producer"], BOB: ["regulator"], CAROL: ["inspector"]}
    app = Local(compile_contract(traceability.source()), Ctx(traceability.NAME, roles))
    app.call(ALICE, "register_product", "apple", "Apples", "fruit", "kg")
    return app


def _split(app: Local, code: str, n: int, each: int) -> list[str]:
    parts = [{"code": f"{code}.{i}", "quantity": each} for i in range(1, n + 1)]
    return list(app.call(ALICE, "split_batch", code, parts))


def test_a_recall_cannot_be_outrun_by_splitting_the_batches_it_has_not_reached() -> None:
    """While a recall runs, no batch of its root's line splits or merges: what the recall
    must reach is fixed when it starts, so it finishes in a bounded number of calls."""
    app = _trace()
    app.call(ALICE, "create_batch", "A", "apple", 1_000_000, "farm")
    parts = _split(app, "A", 100, 10_000)
    for code in parts[:3]:
        _split(app, code, 100, 100)
    app.call(ALICE, "create_batch", "Z", "apple", 100, "farm")
    reached = app.call(BOB, "recall", "A", "listeria")
    assert not app.call(BOB, "recall_progress", "A")["done"]
    ahead = "A.50"  # queued, not reached yet
    assert ahead not in reached
    with pytest.raises(ContractError, match="while a recall of its line A is running"):
        _split(app, ahead, 2, 5_000)
    with pytest.raises(ContractError, match="while a recall of its line A is running"):
        app.call(ALICE, "merge_batches", "M", ["A.60", "Z"], "apple")
    _split(app, "Z", 2, 50)  # another line is not frozen
    calls = 1
    while not app.call(BOB, "recall_progress", "A")["done"]:
        reached += app.call(BOB, "continue_recall", "A")
        calls += 1
    assert len(set(reached)) == 1 + 100 + 300 and calls <= 3
    assert "rcl:A" not in app.ctx.state  # the line thaws when the recall is done


def test_descendants_are_refused_past_their_bound_and_read_a_page_at_a_time() -> None:
    """Any holder below a batch splits without bound: `descendants` walked every batch made
    from it (each looked up in a growing list), so one holder's splits made it fail for
    everyone. Past MAX_DESCENDANTS it is refused; `descendants_page` pages them in the order
    recorded, so a batch split between two pages neither moves nor hides another."""
    app = _trace()
    app.call(ALICE, "create_batch", "A", "apple", 10**8, "farm")
    parts = _split(app, "A", 100, 10**6)
    for code in parts[:10]:
        _split(app, code, 100, 10**4)
    with pytest.raises(ContractError, match="more than 1000 descendants: .*descendants_page"):
        app.call(BOB, "descendants", "A")
    shown: list[str] = []
    start: int | None = 1
    while start is not None:
        page, gas = app.gas(BOB, "descendants_page", "A", start, 200)
        assert gas < 1_000_000  # a view runs under one transaction's gas
        shown += page["descendants"]
        start = page["next"]
        if start == 201:  # a holder splits a batch the walk passed already, and one ahead
            _split(app, parts[0] + ".1", 2, 5_000)
            _split(app, parts[99], 2, 500_000)
    assert shown[0] == "A" and len(shown) == len(set(shown)) == 1 + 100 + 1000 + 4
    assert shown[-4:] == [parts[0] + ".1.1", parts[0] + ".1.2", parts[99] + ".1", parts[99] + ".2"]
    assert app.call(BOB, "descendants", parts[0]) == [parts[0]] + _children(parts[0], 100) + [
        parts[0] + ".1.1",
        parts[0] + ".1.2",
    ]


def test_any_number_of_descendants_is_walked_a_page_of_batches_at_a_time() -> None:
    """`descendants_page` walked every descendant to sort them, so past 2000 it was refused
    for every caller: one holder's splits hid the tree from everyone. `children_of` reads
    only the batches it is asked for, so the SDK's walk lists any number of descendants,
    each page under a bound that does not grow with the tree, each batch once (one reached
    through two merged inputs too), and a batch split during the walk with its new parts."""
    app = _trace()
    app.call(ALICE, "create_batch", "A", "apple", 10**8, "farm")
    parts = _split(app, "A", 100, 10**6)
    for code in parts[:25]:
        _split(app, code, 100, 10**4)
    app.call(ALICE, "merge_batches", "M", [parts[89], parts[90]], "apple")  # both below A
    _split(app, "M", 2, 10**6)
    with pytest.raises(ContractError, match="more than 2000 descendants.*children_of"):
        app.call(BOB, "descendants_page", "A", 1, 200)
    gas: list[int] = []

    def query(method: str, *args: object) -> object:
        if len(gas) == 3:  # a holder splits a batch the walk has queued but not read yet
            _split(app, parts[24] + ".100", 2, 5_000)
        answer, used = app.gas(BOB, method, *args)
        gas.append(used)
        return answer

    shown = walk_descendants(query, "A")
    expected = {"A", "M", "M.1", "M.2", parts[24] + ".100.1", parts[24] + ".100.2", *parts}
    expected |= {f"{c}.{i}" for c in parts[:25] for i in range(1, 101)}
    assert len(shown) == len(set(shown)) == len(expected) == 1 + 100 + 2500 + 3 + 2
    assert set(shown) == expected and shown[0] == "A"
    # pages of 1, 100, then at most 200 queued batches: each reads only its batches (a page
    # of 200 costs about 25,000 gas), however large the tree below
    assert len(gas) == 16 and max(gas) < 100_000
    small = walk_descendants(lambda m, *a: app.gas(BOB, m, *a)[0], parts[30])
    assert small == [parts[30]]
    with pytest.raises(ContractError, match="codes must be a list of 1..200 batch codes"):
        app.call(BOB, "children_of", ["A"] * 201)
    with pytest.raises(ContractError, match="unknown batch nope"):
        app.call(BOB, "children_of", ["A", "nope"])


def _children(code: str, n: int) -> list[str]:
    return [f"{code}.{i}" for i in range(1, n + 1)]


def test_a_merged_batch_carries_its_inputs_lines_and_a_recall_freezes_them() -> None:
    app = _trace()
    app.call(ALICE, "create_batch", "A", "apple", 100, "farm")
    app.call(ALICE, "create_batch", "B", "apple", 100, "farm")
    merged = app.call(ALICE, "merge_batches", "M", ["A", "B"], "apple")
    assert merged["lines"] == ["A", "B"]
    assert _split(app, "M", 2, 100) == ["M.1", "M.2"]
    assert app.ctx.state["batch:M.1"]["lines"] == ["A", "B"]
    app.ctx.state["rcl:B"] = 1  # a recall of line B is running
    with pytest.raises(ContractError, match="recall of its line B"):
        _split(app, "M.1", 2, 50)


def test_the_events_of_a_batch_are_read_a_page_at_a_time_past_500() -> None:
    """Any member holding an event's role adds events to any active batch."""
    app = _trace()
    app.call(ALICE, "create_batch", "A", "apple", 100, "farm")
    batch = app.ctx.state["batch:A"]
    batch["events"] = 501
    for n in range(2, 502):
        app.ctx.state[f"ev:A:{n:08d}"] = {"seq": n, "type": "storage", "data": {}}
    with pytest.raises(ContractError, match="501 events, more than 500"):
        app.call(CAROL, "events", "A")
    with pytest.raises(ContractError, match="501 events, more than 500"):
        app.call(CAROL, "provenance", "A")
    page = app.call(CAROL, "events_page", "A", 401, 200)
    assert page["count"] == 501 and page["next"] is None
    assert [e["seq"] for e in page["events"]] == list(range(401, 502))
    first = app.call(CAROL, "events_page", "A", 1, 200)
    assert first["next"] == 201 and first["events"][0]["type"] == "created"
    with pytest.raises(ContractError, match=r"start >= 1, limit 1\.\.200"):
        app.call(CAROL, "events_page", "A", 1, 201)


def test_a_provenance_of_many_ancestors_is_read_a_page_at_a_time() -> None:
    """A holder merging many batches makes a lineage of any size below it: `provenance`
    is refused past 100 batches and `provenance_page` walks it a page at a time."""
    app = _trace()
    app.call(ALICE, "create_batch", "R", "apple", 200, "farm")
    _split(app, "R", 100, 2)
    for k in range(50):
        app.call(ALICE, "merge_batches", f"S{k}", [f"R.{2 * k + 1}", f"R.{2 * k + 2}"], "apple")
    app.call(ALICE, "merge_batches", "M1", [f"S{k}" for k in range(25)], "apple")
    app.call(ALICE, "merge_batches", "M2", [f"S{k}" for k in range(25, 50)], "apple")
    app.call(ALICE, "merge_batches", "TOP", ["M1", "M2"], "apple")
    with pytest.raises(ContractError, match="more than 100 batches"):
        app.call(CAROL, "provenance", "TOP")
    seen: list[str] = []
    start: int | None = 1
    while start is not None:
        page = app.call(CAROL, "provenance_page", "TOP", start, 50)
        seen += [x["batch"]["code"] for x in page["lineage"]]
        start = page["next"]
    assert len(seen) == len(set(seen)) == 1 + 2 + 50 + 100 + 1
    assert seen[:3] == ["TOP", "M1", "M2"]
    small = app.call(CAROL, "provenance", "S0")
    assert [x["batch"]["code"] for x in small["lineage"]] == ["S0", "R.1", "R.2", "R"]


def test_a_merge_of_batches_from_more_than_64_created_batches_is_refused() -> None:
    app = _trace()
    for k in range(65):
        app.call(ALICE, "create_batch", f"C{k}", "apple", 1, "farm")
    app.call(ALICE, "merge_batches", "M1", [f"C{k}" for k in range(40)], "apple")
    app.call(ALICE, "merge_batches", "M2", [f"C{k}" for k in range(40, 65)], "apple")
    with pytest.raises(ContractError, match="more than 64 created batches"):
        app.call(ALICE, "merge_batches", "TOP", ["M1", "M2"], "apple")


# -- fund_supervision ----------------------------------------------------------------------------
def _funds() -> Local:
    roles = {ALICE: ["fund_authority"], BOB: ["fund_officer"], CAROL: ["fund_officer"]}
    app = Local(compile_contract(fund_supervision.source()), Ctx("fund_supervision", roles))
    app.ctx.governance["cert/" + BOB] = {"org": "org1"}
    app.ctx.governance["cert/" + CAROL] = {"org": "org2"}
    now = app.ctx.time_ms
    app.call(ALICE, "create_fund", "f1", "relief", 10**9, now - 1, now + 10**12)
    app.call(ALICE, "register_account", "p1", "p1", "province", "", BOB)
    app.call(ALICE, "register_account", "p2", "p2", "province", "", CAROL, org="org1")
    return app


def test_a_beneficiary_hash_registered_first_by_another_organisation_blocks_nothing() -> None:
    """CAROL (org2) registers org1's household hash first at its own account and pays it
    from f1: org1's office still registers it and plans and pays it from another fund, each
    traced apart. From f1 the household was paid, so org1 pays it no second time there."""
    app = _funds()
    h = "ab" * 32
    now = app.ctx.time_ms
    app.call(ALICE, "create_fund", "f2", "relief", 10**9, now - 1, now + 10**12)
    app.call(ALICE, "allocate", "f1", "", "p1", 1_000, "")
    app.call(ALICE, "allocate", "f2", "", "p1", 1_000, "")
    app.call(ALICE, "allocate", "f1", "", "p2", 1_000, "")
    app.call(CAROL, "register_beneficiary", "p2", h, ["relief"], org="org2")
    app.call(CAROL, "disburse", "f1", "p2", h, 7, "relief", "cd" * 32, org="org2")
    app.call(BOB, "register_beneficiary", "p1", h, ["relief"], org="org1")
    with pytest.raises(ContractError, match="already paid from fund f1 by org2 at p2"):
        app.call(BOB, "disburse", "f1", "p1", h, 100, "relief", "cd" * 32, org="org1")
    app.call(BOB, "plan_instalments", "f2", "p1", h, [100, 200], org="org1")
    app.call(BOB, "disburse", "f2", "p1", h, 100, "relief", "cd" * 32, org="org1")
    with pytest.raises(ContractError, match="already registered by org1 at p1"):
        app.call(BOB, "register_beneficiary", "p1", h, ["relief"], org="org1")
    assert app.call(DAVE, "beneficiary", h, "org1")["account"] == "p1"
    assert app.call(DAVE, "beneficiary", h, "org2")["account"] == "p2"
    assert app.call(DAVE, "payments", "f2", h, "org1")["paid"] == [100]
    assert app.call(DAVE, "payments", "f1", h, "org1")["paid"] == []
    assert app.call(DAVE, "payments", "f1", h, "org2")["paid"] == [7]
    assert app.call(DAVE, "trace", "f2", h, "org1")["total"] == 100
    assert app.call(DAVE, "trace", "f1", h, "org2")["total"] == 7


def test_a_beneficiary_of_a_deployment_before_is_paid_by_its_accounts_organisation() -> None:
    app = _funds()
    h = "ab" * 32
    app.ctx.state["ben:" + h] = {
        "hash": h,
        "account": "p1",
        "purposes": ["relief"],
        "registered_by": BOB,
        "height": 1,
        "received": 0,
    }
    app.call(ALICE, "allocate", "f1", "", "p1", 1_000, "")
    with pytest.raises(ContractError, match="already registered by org1"):
        app.call(BOB, "register_beneficiary", "p1", h, ["relief"], org="org1")
    app.call(BOB, "disburse", "f1", "p1", h, 100, "relief", "cd" * 32, org="org1")
    assert app.ctx.state["ben:" + h]["received"] == 100
    assert app.ctx.state["pay:f1:" + h]["paid"] == [100]
    assert app.call(DAVE, "trace", "f1", h, "org1")["total"] == 100
    app.call(CAROL, "register_beneficiary", "p2", h, ["relief"], org="org2")


def test_the_accounts_and_the_report_are_read_a_page_at_a_time_past_500() -> None:
    """Each manager registers sub-accounts of its accounts and allocates to them without
    bound: `accounts` is refused past 500, `report` past 200 (so that it spends at most half
    of a view's gas), and their pages read them all."""
    app = _funds()
    app.call(ALICE, "allocate", "f1", "", "p1", 10**6, "")
    for k in range(600):
        app.call(BOB, "register_account", f"c{k}", "c", "city", "p1", BOB, org="org1")
        app.call(BOB, "allocate", "f1", "p1", f"c{k}", 1, "", org="org1")
    with pytest.raises(ContractError, match="more than 500 accounts are registered"):
        app.call(DAVE, "accounts")
    with pytest.raises(ContractError, match="601 accounts received from fund f1, more than 200"):
        app.call(DAVE, "report", "f1", None)
    ids: list[str] = []
    start: int | None = 1
    while start is not None:
        page = app.call(DAVE, "accounts_page", start, 200)
        ids += [a["id"] for a in page["accounts"]]
        start = page["next"]
    assert ids == ["p1", "p2"] + [f"c{k}" for k in range(600)]
    pages = []
    start = 1
    while start is not None:
        pages.append(app.call(DAVE, "report_page", "f1", None, start, 200))
        start = pages[-1]["next"]
    rep = _combined("f1", pages, [], 0)
    assert rep["conserved"] and len(rep["accounts"]) == 601
    assert rep["held_in_accounts"] == 10**6 and rep["pool"] == 10**9 - 10**6
    assert {lv["level"]: lv["accounts"] for lv in rep["levels"]} == {"province": 1, "city": 600}


def test_a_paged_report_is_the_report() -> None:
    app = _funds()
    app.call(ALICE, "allocate", "f1", "", "p1", 1_000, "")
    app.call(ALICE, "allocate", "f1", "", "p2", 500, "")
    app.call(BOB, "register_account", "c1", "c", "city", "p1", BOB, org="org1")
    app.call(BOB, "allocate", "f1", "p1", "c1", 300, "", org="org1")
    app.ctx.time_ms += 40 * 86_400_000
    app.ctx.height -= 1  # the pages below are read at the same block as the report
    rep = app.call(DAVE, "report", "f1", None)
    app.ctx.height -= 1

    def query(method: str, *args: object) -> object:
        app.ctx.height -= 1  # each read at the same block time
        app.ctx.time_ms -= 1000
        return app.call(DAVE, method, *args)

    assert paged_report(query, "f1", None, limit=1) == rep


# -- supply_finance ------------------------------------------------------------------------------
def _finance() -> Local:
    roles = {ALICE: ["core_enterprise"], DAVE: ["regulator"]}
    app = Local(compile_contract(supply_finance.source()), Ctx("supply_finance", roles))
    for who in (ALICE, BOB, CAROL):
        app.call(who, "enrol", who[:1])
    return app


def _grown_tree(app: Local, parts: int) -> str:
    """A receivable its holder BOB split into `parts` + 1 parts."""
    rid = app.call(ALICE, "issue", BOB, 10**9, app.ctx.time_ms + 10**7, "ab" * 32)
    app.call(BOB, "accept", rid)
    _grown_tree_from(app, BOB, rid, parts)
    return rid


def test_a_tree_any_holder_grows_is_audited_and_totalled_a_page_at_a_time() -> None:
    """A holder splits a receivable without bound: `tree_totals` and `audit` are refused
    past 500 parts, `tree_page` / `audit_page` read it a page at a time."""
    app = _finance()
    rid = _grown_tree(app, 600)
    with pytest.raises(ContractError, match="601 parts, more than 500"):
        app.call(CAROL, "tree_totals", rid)
    with pytest.raises(ContractError, match="601 parts, more than 500: read it a page"):
        app.call(DAVE, "audit", rid)
    figures = paged_totals(lambda *a: app.call(CAROL, *a), rid)
    assert figures == {
        "root": rid,
        "amount": 10**9,
        "conserved": True,
        "outstanding": 10**9,
        "paid": 0,
        "parts": 601,
    }
    page = app.call(DAVE, "audit_page", rid, 502, 100)
    assert page["next"] is None and len(page["nodes"]) == 100 and page["conserved"]
    with pytest.raises(ContractError, match=r"limit must be 1\.\.100"):
        app.call(CAROL, "tree_page", rid, 1, 101)
    app.ctx.state["r:" + rid + ".2.2"]["amount"] += 1  # a broken tree is seen on its page
    assert paged_totals(lambda *a: app.call(CAROL, *a), rid)["conserved"] is False


def test_a_page_of_overdue_receivables_reads_a_bounded_number_of_parts() -> None:
    """One holder's split tree made every `overdue_page` holding it read all its parts; a
    tree past 500 parts is now one row, and a page ends before it would read 600 parts."""
    app = _finance()
    big = _grown_tree(app, 600)
    small = []
    for n in range(10):
        rid = app.call(ALICE, "issue", CAROL, 10**6, app.ctx.time_ms + 10**7, f"{n:064x}")
        app.call(CAROL, "accept", rid)
        _grown_tree_from(app, CAROL, rid, 300)
        small.append(rid)
    app.ctx.time_ms += 10**8
    first = app.call(BOB, "overdue_page", 1, 200)
    rows = [r for r in first["overdue"] if r["root"] == big]
    assert rows == [dict(rows[0], parts=601, read_with="tree_page")] and len(rows) == 1
    assert first["next"] == 3  # big (one row) and one tree of 301 parts: the next is too many
    pages = [first]
    while pages[-1]["next"] is not None:
        pages.append(app.call(BOB, "overdue_page", pages[-1]["next"], 200))
    assert len(pages) == 1 + 9
    rows = [r for p in pages for r in p["overdue"]]
    assert {r["root"] for r in rows} == {big, *small}
    assert len(rows) == 1 + 10 * 286  # the parts of each small tree not split (301 - 15)
    with pytest.raises(ContractError, match="more than 600 parts: read them a page"):
        app.call(BOB, "overdue")


def _grown_tree_from(app: Local, holder: str, rid: str, parts: int) -> None:
    """Split `rid` and then its parts (breadth first) into 20 each, `parts` // 20 times."""
    queue = [rid]
    for _ in range(parts // 20):
        cur = queue.pop(0)
        amount = app.ctx.state["r:" + cur]["amount"]
        each = amount // 20
        queue += app.call(holder, "split", cur, [each] * 19 + [amount - 19 * each])
