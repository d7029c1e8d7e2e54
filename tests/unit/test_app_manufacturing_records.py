"""Manufacturing: an order's milestones and inspections are read at a bounded cost however
many were recorded. Its supplier adds milestones, and every independent inspector
inspections, without bound; `milestones` and `inspections` read them all in one call,
whatever their number, and nothing read a part of them (past a query's gas, none answered).

The contract runs with MAX_RECORDS lowered, so that a few records cross the bound the real
constant puts at 100 (100 notes of 500 Chinese characters are about 160 KB, within the
256 KiB a view may return)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, Ctx, Local

from tianfu.apps.manufacturing import source
from tianfu.apps.manufacturing.sdk import Manufacturing
from tianfu.client import Client
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

SMALL = source().replace("MAX_RECORDS = 100", "MAX_RECORDS = 3")
SMALL = SMALL.replace("MAX_ALERTS = 75", "MAX_ALERTS = 3")
ORDER = "org1/PO-1"


def _order_with_records(n: int) -> Local:
    roles = {ALICE: ["buyer"], BOB: ["supplier"], CAROL: ["inspector"]}
    ctx = Ctx("manufacturing", roles)
    ctx.governance["cert/" + BOB] = {"org": "org2", "serial": "2", "fingerprint": "f2"}
    ctx.governance["org/org2"] = {"status": "active"}
    ctx.emit = lambda *event, **data: None  # type: ignore[method-assign]  # an event's `name=`
    app = Local(compile_contract(SMALL), ctx)
    items = [{"part": "gear", "qty": 10, "unit_price_fen": 100}]
    app.call(ALICE, "place_order", ORDER, BOB, items, ctx.time_ms + 10**9, True)
    app.call(BOB, "accept_order", ORDER, org="org2")
    for k in range(1, n + 1):
        app.call(BOB, "report_milestone", ORDER, f"step-{k}", "", org="org2")
        app.call(CAROL, "record_inspection", ORDER, "pass", f"{k:064x}", "", org="org3")
    return app


@pytest.mark.parametrize("kind", ["milestones", "inspections"])
def test_a_whole_list_is_refused_past_its_bound_and_read_a_page_at_a_time(kind: str) -> None:
    app = _order_with_records(3)
    assert [r["n"] for r in app.call(ALICE, kind, ORDER)] == [1, 2, 3]  # within the bound
    app = _order_with_records(5)
    with pytest.raises(ContractError, match=f"has 5 {kind}, more than 3: .*{kind}_page"):
        app.call(ALICE, kind, ORDER)
    seen, start = [], 1
    while start is not None:
        page = app.call(ALICE, kind + "_page", ORDER, start, 2)
        assert page["count"] == 5 and page["order"] == ORDER and len(page[kind]) <= 2
        seen += [r["n"] for r in page[kind]]
        start = page["next"]
    assert seen == [1, 2, 3, 4, 5]
    with pytest.raises(ContractError, match="limit 1..3"):
        app.call(ALICE, kind + "_page", ORDER, 1, 4)
    with pytest.raises(ContractError, match="unknown order"):
        app.call(ALICE, kind + "_page", "org1/none", 1, 2)


def test_a_trees_alerts_are_refused_whole_past_the_bound_and_read_a_page_at_a_time() -> None:
    """Every rejected delivery is an alert with its reason (up to 500 characters), without
    bound: `alerts` returned up to 500 and a page up to 200 of them, more than one view
    returns (256 KiB) once the reasons are long."""
    app = _order_with_records(0)
    for k in range(5):  # delivered and rejected, five times
        app.call(BOB, "deliver", ORDER, f"{k + 1:064x}", org="org2")
        app.call(ALICE, "reject_delivery", ORDER, f"scratched {k}")
    with pytest.raises(ContractError, match="has 5 alerts, more than 3: .*alerts_page"):
        app.call(ALICE, "alerts", ORDER)
    with pytest.raises(ContractError, match="limit 1..3"):
        app.call(ALICE, "alerts_page", ORDER, 1, 4)
    page = app.call(ALICE, "alerts_page", ORDER, 4, 3)
    assert [a["detail"] for a in page["alerts"]] == ["scratched 3", "scratched 4"]
    assert page["count"] == 5 and page["next"] is None


def test_the_largest_alerts_are_read_at_the_sdks_and_the_clis_page_size() -> None:
    """An alert names its order and three organisations (61 characters each, chosen when
    they were admitted) beside a rejection's reason of 500 characters: four bytes each at
    the most, 100 of them (the page size of the SDK and the CLI) exceed 256 KiB."""
    app = Local(compile_contract(source()), Ctx("manufacturing"))
    org = "\U00020000" * 61
    root = org + "/" + "P" * 64
    app.ctx.state["order:" + root] = {"id": root, "root": root, "alerts": 120}
    for n in range(1, 121):
        app.ctx.state[f"alert:{root}:{n}"] = {
            "n": n,
            "order": root,
            "kind": "rejected",
            "detail": "\U00020000" * 500,
            "buyer_org": org,
            "supplier_org": org,
            "due_ms": 2**62,
            "by_org": org,
            "height": 2**62,
            "time_ms": 2**62,
        }

    class _Node:  # the SDK's client: a view runs on the in-process contract
        def query(self, contract: str, method: str, *args: Any) -> Any:
            return app.call(ALICE, method, *args)

    sdk = Manufacturing(cast(Client, _Node()))
    seen, start = [], 1
    while start is not None:
        page = sdk.alerts_page(root, start=start)
        seen += [a["n"] for a in page["alerts"]]
        start = page["next"]
    assert seen == list(range(1, 121))
    app.ctx.state["order:" + root]["alerts"] = 75
    assert len(app.call(ALICE, "alerts", root)) == 75
    with pytest.raises(ContractError, match=r"limit 1\.\.75"):
        app.call(ALICE, "alerts_page", root, 1, 76)


def _tree(n: int, org: str) -> tuple[Local, str]:
    """A tree of `n` orders (a root and its sub-orders) named by the longest ids."""
    app = Local(compile_contract(source()), Ctx("manufacturing"))
    ids = [org + "/" + f"P{k:063d}" for k in range(n)]
    root = ids[0]
    app.ctx.state["nt:" + root] = n
    for k, order_id in enumerate(ids):
        app.ctx.state[f"t:{root}:{k + 1}"] = order_id
        app.ctx.state["order:" + order_id] = {
            "id": order_id,
            "parent": None if k == 0 else root,
            "root": root,
            "depth": 0 if k == 0 else 1,
            "buyer_org": org,
            "supplier_org": org,
            "status": "placed",
            "total": 10**15,
            "settled": 10**15,
            "due_ms": 2**62,
            "delivered_ms": 2**62,
            "late": False,
            "children": ids[1:] if k == 0 else [],
        }
    return app, root


def test_a_tree_of_long_ids_is_refused_whole_naming_the_page_view() -> None:
    """Every party of a tree adds sub-orders named by ids of up to 64 characters: 500 of
    them (what `tree` read) passed 256 KiB and `tree` failed with 'return value larger than
    262144 bytes' instead of naming `tree_page`; a page of 200 of the largest rows (four-byte
    organisation names) failed too."""
    app, root = _tree(500, "o" * 61)
    with pytest.raises(ContractError, match="the tree is more than one view returns: .*tree_page"):
        app.call(ALICE, "tree", root)
    app, root = _tree(160, "\U00020000" * 61)
    assert len(app.call(ALICE, "tree_page", root, 1, 150)["orders"]) == 150
    with pytest.raises(ContractError, match=r"limit 1\.\.150"):
        app.call(ALICE, "tree_page", root, 1, 151)
