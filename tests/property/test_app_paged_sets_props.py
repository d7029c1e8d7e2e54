"""The applications' pages over indexed sets, walked while others change the set: supply
finance's `holdings_page` (transfers and splits move parts in and out of a holder's set),
`open_page` and `overdue_page` (issues, rejections and repayments), health's
`claimable_page` and `records_of_page` and city governance's `overdue_in`. Against a model: a member present from
the first page to the last is in exactly one page, and a member is in at most one page for
each time it entered the set (one that leaves and comes back may be in two)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.property.test_app_indexed_set_props import LIB
from tests.unit.app_local import ALICE, BOB, CAROL, Ctx, Local

from tianfu.apps import city_governance, health, supply_finance
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

SUPPLY = compile_contract(supply_finance.source())
HEALTH = compile_contract(health.source())
CITY = compile_contract(city_governance.source())


class Walk:
    """A walk over pages: what is present throughout, how often each member entered, and
    what the pages showed."""

    def __init__(self, members: set[str]) -> None:
        self.present = set(members)
        self.entered = dict.fromkeys(members, 1)
        self.seen: dict[str, int] = {}
        self.start: int | None = 1

    def changed(self, before: set[str], after: set[str]) -> None:
        self.present -= before - after
        for m in after - before:
            self.entered[m] = self.entered.get(m, 0) + 1

    def page(self, ids: list[str], nxt: int | None) -> None:
        for m in ids:
            self.seen[m] = self.seen.get(m, 0) + 1
        assert nxt is None or self.start is None or nxt > self.start
        self.start = nxt

    def check(self) -> None:
        for m in self.present:
            assert self.seen.get(m) == 1, (m, self.seen)
        for m, times in self.seen.items():
            assert times <= self.entered.get(m, 0), (m, self.seen, self.entered)


# -- supply finance: a holder's holdings and the open receivables ------------------------------
def _finance() -> Local:
    app = Local(SUPPLY, Ctx("supply_finance", {ALICE: ["core_enterprise"]}))
    for who in (ALICE, BOB, CAROL):
        app.call(who, "enrol", who[:1])
    return app


def _held(app: Local, who: str) -> set[str]:
    return {r["id"] for r in app.call(BOB, "holdings_page", who, 1, 200)["holdings"]}


def _open(app: Local) -> set[str]:
    return set(app.call(BOB, "open_page", 1, 200)["ids"])


finance_op = st.tuples(
    st.sampled_from(["issue", "give", "take", "split", "reject", "repay", "page", "page"]),
    st.integers(0, 30),
    st.integers(1, 3),
)


def _finance_step(app: Local, kind: str, pick: int, docs: list[int]) -> None:
    """One change by CAROL, BOB or ALICE (a refused one changes nothing)."""
    due = app.ctx.time_ms + 10**9
    carol, bob = sorted(_held(app, CAROL)), sorted(_held(app, BOB))
    try:
        if kind == "issue":
            docs.append(len(docs) + 1)
            rid = app.call(ALICE, "issue", CAROL, 100, due, f"{docs[-1]:064x}")
            if pick % 3:
                app.call(CAROL, "accept", rid)
        elif kind == "give" and carol:
            app.call(CAROL, "transfer", carol[pick % len(carol)], BOB)
        elif kind == "take" and bob:
            app.call(BOB, "transfer", bob[pick % len(bob)], CAROL)
        elif kind == "split" and carol:
            app.call(CAROL, "split", carol[pick % len(carol)], [50, 50])
        elif kind == "reject" and carol:
            app.call(CAROL, "reject", carol[pick % len(carol)], "no")
        elif kind == "repay":
            opened = sorted(_open(app))
            if opened:
                app.call(ALICE, "repay", opened[pick % len(opened)], "ref")
    except ContractError:
        pass


@settings(max_examples=40, deadline=None)
@given(
    setup=st.lists(finance_op, min_size=3, max_size=12),
    walk=st.lists(finance_op, max_size=25),
)
def test_supply_finance_pages_skip_and_repeat_nothing_while_parts_move(
    setup: list[tuple[str, int, int]], walk: list[tuple[str, int, int]]
) -> None:
    app = _finance()
    docs: list[int] = []
    for kind, pick, _ in setup:
        _finance_step(app, kind, pick, docs)
    app.ctx.time_ms += 2 * 10**9  # every receivable is past maturity: overdue reads them all
    walks = {"held": Walk(_held(app, CAROL)), "open": Walk(_open(app)), "due": Walk(_open(app))}
    ops = list(walk)
    while any(w.start is not None for w in walks.values()):
        kind, pick, limit = ops.pop(0) if ops else ("page", 0, 2)
        if kind != "page":
            held, opened = _held(app, CAROL), _open(app)
            _finance_step(app, kind, pick, docs)
            walks["held"].changed(held, _held(app, CAROL))
            walks["open"].changed(opened, _open(app))
            walks["due"].changed(opened, _open(app))
            continue
        w = walks["held"]
        if w.start is not None:
            page = app.call(BOB, "holdings_page", CAROL, w.start, limit)
            w.page([r["id"] for r in page["holdings"]], page["next"])
        w = walks["open"]
        if w.start is not None:
            page = app.call(BOB, "open_page", w.start, limit)
            w.page(page["ids"], page["next"])
        w = walks["due"]
        if w.start is not None:
            page = app.call(BOB, "overdue_page", w.start, limit)
            w.page(sorted({row["root"] for row in page["overdue"]}), page["next"])
    for w in (walks["held"], walks["open"]):
        w.check()
    # an open receivable shows in the overdue pages while an active part of it is unpaid
    due = walks["due"]
    for rid, times in due.seen.items():
        assert times <= due.entered.get(rid, 0)


# -- health's claims and city governance's open cases: the sets the contracts keep ------------
set_op = st.tuples(st.sampled_from(["add", "remove", "page", "page"]), st.integers(0, 15))


def _walk_set(
    app: Local, name: str, ids: list[str], read: Any, setup: list[Any], walk: list[Any]
) -> None:
    """Members `ids[k]` added to and removed from the set `name` in the contract's state
    with the library the contract runs, pages read with `read(start)` -> (ids, next)."""
    members: set[str] = set()

    def change(kind: str, k: int) -> None:
        m = ids[k]
        if kind == "add" and m not in members:
            LIB["_set_add"](app.ctx, name, m)
            members.add(m)
        elif kind == "remove" and m in members:
            LIB["_set_remove"](app.ctx, name, m)
            members.discard(m)

    for kind, k in setup:
        if kind != "page":
            change(kind, k)
    w = Walk(members)
    ops = list(walk)
    while w.start is not None:
        kind, k = ops.pop(0) if ops else ("page", 0)
        if kind == "page":
            w.page(*read(w.start))
        else:
            before = set(members)
            change(kind, k)
            w.changed(before, members)
    w.check()


@settings(max_examples=60, deadline=None)
@given(setup=st.lists(set_op, max_size=20), walk=st.lists(set_op, max_size=40))
def test_health_claimable_pages_skip_and_repeat_nothing(setup: Any, walk: Any) -> None:
    app = Local(HEALTH, Ctx("health"))
    ids = [f"RX{k:06d}" for k in range(16)]
    for rx in ids:
        app.ctx.state["rx:" + rx] = {"id": rx, "status": "dispensed", "reimbursed": None}

    def read(start: int) -> tuple[list[str], int | None]:
        page = app.call(BOB, "claimable_page", "org4", start, 3)
        return [r["id"] for r in page["claimable"]], page["next"]

    _walk_set(app, "claims:org4", ids, read, setup, walk)


@settings(max_examples=60, deadline=None)
@given(setup=st.lists(set_op, max_size=20), walk=st.lists(set_op, max_size=40))
def test_health_patient_list_pages_skip_and_repeat_nothing(setup: Any, walk: Any) -> None:
    """A patient's records (written, purged) and prescriptions (issued, dismissed)."""
    app = Local(HEALTH, Ctx("health"))
    ids = [f"REC{k:06d}" for k in range(16)]
    for rec in ids:
        app.ctx.state["rec:" + rec] = {"id": rec, "patient": ALICE}

    def read(start: int) -> tuple[list[str], int | None]:
        page = app.call(BOB, "records_of_page", ALICE, start, 3)
        assert page["count"] == len(LIB["_set_all"](app.ctx, "recs:" + ALICE))
        return [r["id"] for r in page["records"]], page["next"]

    _walk_set(app, "recs:" + ALICE, ids, read, setup, walk)


@settings(max_examples=60, deadline=None)
@given(setup=st.lists(set_op, max_size=20), walk=st.lists(set_op, max_size=40))
def test_city_overdue_in_pages_skip_and_repeat_nothing(setup: Any, walk: Any) -> None:
    ctx = Ctx("city_governance", {ALICE: ["city_admin"]})
    ctx.governance["org/org1"] = {"status": "active"}
    app = Local(CITY, ctx)
    app.call(ALICE, "register_department", "d1", "Dept", "org1", 1000)
    ids = [f"c{k}" for k in range(16)]
    for cid in ids:  # past its deadline and not handled: every open case is overdue
        ctx.state["case:" + cid] = {
            "id": cid,
            "status": "dispatched",
            "due_ms": 0,
            "priority": "normal",
        }

    def read(start: int) -> tuple[list[str], int | None]:
        page = app.call(BOB, "overdue_in", "d1", start, 3)
        return [r["id"] for r in page["overdue"]], page["next"]

    _walk_set(app, "open:d1", ids, read, setup, walk)
