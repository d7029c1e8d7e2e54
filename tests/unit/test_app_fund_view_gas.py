"""Every fund supervision view answers within half of a view's gas at its largest, on the
chain's own context (state reads and writes charged by the byte: `Local.chain_gas`), or is
refused naming the view that reads a page; every page at its default limit is readable.

An account record listed its sub-accounts under "children" and `report`, `report_page`,
`accounts` and `accounts_page` read that list with every record: 200 accounts of 350
sub-accounts each passed a view's 1,000,000 gas. Sub-accounts are now an indexed set
("ch:<id>", `children_page`) and a record keeps its size; the lists that records of a
deployment before hold are still read, within an estimate of the gas they cost."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.app_local import ALICE, BOB, DAVE, Ctx, Local
from tests.unit.test_app_fund_refusal_log import _largest_refusal

from tianfu.apps import fund_supervision
from tianfu.apps.fund_supervision.sdk import FundSupervision
from tianfu.execution.contract_api import ContractError
from tianfu.execution.meter import Meter
from tianfu.execution.sandbox import compile_contract
from tianfu.execution.walk import copy_value

HALF = 500_000  # half of a view's 1,000,000 gas
WIDE = "\U00020000"  # four bytes in UTF-8
CONTRACT = compile_contract(fund_supervision.source())


def _aid(k: int) -> str:
    return str(k).zfill(64)


def _world(n: int, name: str, refusals: int, children: Any = 0) -> Local:
    """Fund f1 and `n` accounts of 64-character ids named `name`, registered and given money
    in order, idle since the period ended; `refusals` of the largest refusals; account k's
    record (as a deployment before stored it) lists `children(k)` sub-accounts."""
    app = Local(CONTRACT, Ctx("fund_supervision", {ALICE: ["fund_authority"]}))
    now = app.ctx.time_ms
    app.call(ALICE, "create_fund", "f1", "relief", 10**9, now - 1, now + 10**12)
    many = children if callable(children) else (lambda k: children)
    state = app.ctx.state
    for k in range(1, n + 1):
        aid = _aid(k)
        state["acct:" + aid] = {
            "id": aid,
            "name": name,
            "level": "province",
            "parent": "",
            "manager": BOB,
            "children": [f"c{k}-{j}".zfill(64) for j in range(many(k))],
            "beneficiaries": 0,
            "registered_by": ALICE,
            "height": 1,
        }
        state[f"acl:{k}"] = aid
        state[f"fac:f1:{k}"] = aid
        books = {"received": 10**15, "allocated_out": 10**14, "disbursed": 10**14}
        state[f"fa:f1:{aid}"] = books | {"balance": 8 * 10**14, "last_move_ms": 1}
    state["acn"] = n
    state["top"] = [_aid(k) for k in range(1, n + 1)]
    state["fund:f1"] = state["fund:f1"] | {"naccounts": n}
    for k in range(1, refusals + 1):
        state[f"rf:{k}"] = _largest_refusal(k)
        state[f"rfi:f1:{k}"] = k
    state["rfn:f1"] = refusals
    app.ctx.time_ms += 10**13  # the period has ended: every balance is idle
    return app


def _within_half(app: Local, method: str, *args: Any, paged: str) -> Any:
    """The view's answer, having spent at most half of a view's gas; None when it is
    refused (within that gas too) naming the view `paged` that reads a page."""
    try:
        out, gas = app.chain_gas(DAVE, method, *args, limit=HALF)
    except ContractError as exc:
        assert paged in str(exc), str(exc)
        return None
    assert gas <= HALF, (method, gas)
    return out


def _pages(app: Local, method: str, *args: Any, key: str) -> list[Any]:
    """Every entry of the pages of `method` at its default limit 200, each page read within
    half a view's gas and holding at least one entry."""
    out: list[Any] = []
    start: int | None = 1
    while start is not None:
        page, gas = app.chain_gas(DAVE, method, *args, start, 200, limit=HALF)
        assert gas <= HALF and page[key], (method, start, gas)
        out += page[key]
        assert page["next"] is None or page["next"] == start + len(page[key])
        start = page["next"]
    return out


@pytest.mark.parametrize("name", ["x" * 100, WIDE * 100], ids=["ascii", "wide"])
@pytest.mark.parametrize("refusals", [0, 40, 80])
@pytest.mark.parametrize("children", [0, 200, 350])
def test_the_report_and_its_pages_at_their_largest(name: str, refusals: int, children: int) -> None:
    """200 accounts (the most `report` reads) of 64-character ids, names of 100 characters,
    the largest refusals and records of a deployment before listing 200 or 350 sub-accounts
    each (700,000 gas and out of gas before): `report` answers within half a view's gas or
    is refused naming report_page, and `report_page` at its default limit ends each page
    within it, every account in exactly one page."""
    app = _world(200, name, refusals, children)
    rep = _within_half(app, "report", "f1", None, paged="report_page")
    if rep is not None:
        assert len(rep["accounts"]) == 200 and len(rep["refusals"]) == refusals
    rows = _pages(app, "report_page", "f1", None, key="accounts")
    assert [r["account"] for r in rows] == [_aid(k) for k in range(1, 201)]


def test_a_report_page_ends_before_the_largest_record_of_a_deployment_before() -> None:
    """A record of a deployment before at its largest (near the 262,144 bytes a value holds:
    3,700 sub-accounts of 64 characters) after 199 others read at the estimate's bound: the
    page stops before it (read once, within the gas), and the next page holds it alone."""
    app = _world(200, WIDE * 100, 0, lambda k: 3700 if k in (150, 200) else 60)
    rows = _pages(app, "report_page", "f1", None, key="accounts")
    assert len(rows) == 200
    assert _within_half(app, "report", "f1", None, paged="report_page") is None


@pytest.mark.parametrize("name", ["x" * 20, "x" * 100, WIDE * 100], ids=["short", "ascii", "wide"])
@pytest.mark.parametrize("children", [0, 4, 350])
def test_the_accounts_and_their_pages_at_their_largest(name: str, children: int) -> None:
    """500 accounts (the most `accounts` reads): `accounts` answers within half a view's gas
    or is refused naming accounts_page; `accounts_page` at its default limit reads them all
    a page at a time, each within it. Records are answered without the lists of sub-accounts
    a deployment before kept in them (`children_page` reads those)."""
    app = _world(500, name, 0, children)
    out = _within_half(app, "accounts", paged="accounts_page")
    if out is not None:
        assert [a["id"] for a in out] == [_aid(k) for k in range(1, 501)]
    rows = _pages(app, "accounts_page", key="accounts")
    assert [a["id"] for a in rows] == [_aid(k) for k in range(1, 501)]
    assert all("children" not in a for a in rows)


def test_usual_accounts_are_answered_whole() -> None:
    """500 accounts of 64-character ids named in Chinese are answered by `accounts`."""
    app = _world(500, "成都市锦江区财政所", 0)
    out = _within_half(app, "accounts", paged="accounts_page")
    assert out is not None and len(out) == 500


def _registry() -> Local:
    roles = {ALICE: ["fund_authority"], BOB: ["fund_officer"]}
    app = Local(CONTRACT, Ctx("fund_supervision", roles))
    app.call(ALICE, "register_account", "p1", "p1", "province", "", BOB)
    return app


def test_sub_accounts_leave_their_parents_record_its_size() -> None:
    """Each sub-account registered grew its parent's record by its id ("children"), which
    every account view and the report read with the record. The record now keeps its size;
    the sub-accounts are paged by `children_page`, in the order registered."""
    app = _registry()
    before = dict(app.ctx.state["acct:p1"])
    ids = [f"c{k:03}".ljust(64, "x") for k in range(450)]
    for cid in ids:
        app.call(BOB, "register_account", cid, "c", "city", "p1", BOB)
    assert app.ctx.state["acct:p1"] == before
    assert app.call(DAVE, "account", "p1")["children_count"] == 450
    assert _pages(app, "children_page", "p1", key="children") == ids
    page = app.call(DAVE, "children_page", "p1", 201, 200)
    assert page["count"] == 450 and page["children"] == ids[200:400] and page["next"] == 401
    assert app.call(DAVE, "children_page", ids[0], 1, 200)["children"] == []
    with pytest.raises(ContractError, match="limit 1..200"):
        app.call(DAVE, "children_page", "p1", 1, 201)


def test_a_record_of_a_deployment_before_keeps_its_list_and_children_page_reads_both() -> None:
    """A record of a deployment before lists its first sub-accounts; those registered now
    go to its set (the list is not grown), and `children_page` reads the list then the set,
    its largest page within half a view's gas."""
    app = _registry()
    old = [f"o{k}".zfill(64) for k in range(3700)]
    app.ctx.state["acct:p1"]["children"] = list(old)
    new = [f"n{k:03}" for k in range(250)]
    for cid in new:
        app.call(BOB, "register_account", cid, "c", "city", "p1", BOB)
    assert app.ctx.state["acct:p1"]["children"] == old
    assert "children" not in app.ctx.state["acct:" + new[0]]
    assert _pages(app, "children_page", "p1", key="children") == old + new
    page = app.call(DAVE, "children_page", "p1", 3601, 200)
    assert page["children"] == old[3600:] + new[:100] and page["next"] == 3801
    page = app.call(DAVE, "children_page", "p1", 3501, 200)  # the list's last 200 exactly
    assert page["children"] == old[3500:] and page["next"] == 3701
    assert app.call(DAVE, "children_page", "p1", 3701, 1)["children"] == new[:1]
    account = _within_half(app, "account", "p1", paged="-")
    assert account["children_count"] == 3950 and "children" not in account


def test_accounts_registered_before_the_log_are_walked_within_the_gas_or_refused() -> None:
    """A deployment whose accounts were registered before the "acn" log is read breadth
    first from the top level: `accounts_page` from 4,801 of 5,000 accounts (its
    MAX_ACCOUNT_WALK) walked every record before and ran out of gas. The walk now estimates
    what it reads and is refused, naming children_page, before it passes half a view's gas."""
    app = Local(CONTRACT, Ctx("fund_supervision", {}))
    state = app.ctx.state
    tops = [f"p{i}".zfill(16) for i in range(10)]
    state["top"] = tops
    for p in tops:
        kids = [f"{p}-{j}".zfill(16) for j in range(499)]
        state["acct:" + p] = {"id": p, "name": "x" * 20, "level": "province", "parent": ""}
        state["acct:" + p] |= {"manager": BOB, "children": kids, "beneficiaries": 0}
        state["acct:" + p] |= {"registered_by": ALICE, "height": 1}
        for kid in kids:
            state["acct:" + kid] = state["acct:" + p] | {"id": kid, "parent": p, "children": []}
    page = _within_half(app, "accounts_page", 1, 200, paged="-")
    first = [f"{tops[0]}-{j}".zfill(16) for j in range(190)]
    assert [a["id"] for a in page["accounts"]] == tops + first
    assert len(_within_half(app, "accounts_page", 601, 200, paged="-")["accounts"]) == 200
    for start in (1001, 4801):
        assert _within_half(app, "accounts_page", start, 200, paged="children_page") is None
    assert _within_half(app, "accounts", paged="accounts_page") is None
    kids = _pages(app, "children_page", tops[3], key="children")
    assert kids == [f"{tops[3]}-{j}".zfill(16) for j in range(499)]


def test_the_sdk_reads_every_sub_account_and_stops_on_a_page_that_does_not_advance() -> None:
    """`all_children` reads `children_page` to its end; a node answering a page whose next
    does not advance is an error, not a loop."""
    app = _registry()
    ids = [f"c{k:03}" for k in range(7)]
    for cid in ids:
        app.call(BOB, "register_account", cid, "c", "city", "p1", BOB)
    sdk = FundSupervision.__new__(FundSupervision)
    sdk._query = lambda method, *args: app.call(DAVE, method, *args)  # type: ignore[method-assign]
    assert sdk.all_children("p1", limit=3) == ids
    stuck = {"account": "p1", "count": 9, "start": 1, "children": ["x"], "next": 1}
    sdk._query = lambda method, *args: stuck  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="does not advance"):
        sdk.all_children("p1")


@pytest.mark.parametrize("name", ["x", "x" * 100, WIDE * 100, "成都市锦江区财政所"])
def test_what_the_account_views_count_is_what_they_return(name: str) -> None:
    """The account views count each record from its texts (a shortcut for its
    `_fields_size_bound`, which cost twice the gas): the count is at least the bytes the
    view returns, record by record."""
    app = _world(3, name, 0)
    app.ctx.state["acct:" + _aid(3)]["extra"] = ["a" * 500]  # a record of another shape
    for a in app.call(DAVE, "accounts"):
        size = copy_value(Meter(10**12), a, "value")[1]
        shortcut = (
            101
            + 5 * 6
            + 9 * 2
            + sum(
                len(a[k]) if a[k].isascii() else 4 * len(a[k])
                for k in ("id", "name", "level", "parent", "manager", "registered_by")
            )
        )
        assert size <= shortcut or "extra" in a


def test_a_trace_at_its_largest_reads_each_account_of_the_path_once() -> None:
    """`trace` read the path of accounts again for each payment: 24 planned instalments
    paid at a village whose four ancestors' records list 3,700 sub-accounts each (as a
    deployment before grew them) ran out of a view's gas. The path is read once per paying
    account, within half a view's gas."""
    roles = {ALICE: ["fund_authority"], BOB: ["fund_officer"]}
    app = Local(CONTRACT, Ctx("fund_supervision", roles))
    app.ctx.governance["cert/" + BOB] = {"org": "org1"}
    now = app.ctx.time_ms
    app.call(ALICE, "create_fund", "f1", "relief", 10**9, now - 1, now + 10**12)
    ids = ["a" * 63 + str(i) for i in range(5)]
    parent = ""
    for i, level in enumerate(("province", "city", "county", "township", "village")):
        app.call(ALICE, "register_account", ids[i], "n", level, parent, BOB)
        app.call(ALICE if i == 0 else BOB, "allocate", "f1", parent, ids[i], 10**8 - i, "")
        parent = ids[i]
    h = "ab" * 32
    app.call(BOB, "register_beneficiary", ids[4], h, ["relief"], org="org1")
    app.call(BOB, "plan_instalments", "f1", ids[4], h, [1] * 24, org="org1")
    for _ in range(24):
        app.call(BOB, "disburse", "f1", ids[4], h, 1, "relief", "cd" * 32, org="org1")
    for aid in ids[:4]:
        app.ctx.state["acct:" + aid]["children"] = [f"o{k}".zfill(64) for k in range(3700)]
    out = _within_half(app, "trace", "f1", h, "org1", paged="-")
    assert out["total"] == 24 and len(out["payments"]) == 24
    assert [hop["account"] for hop in out["payments"][23]["path"]] == ids


def test_movements_and_allocations_into_at_their_largest_end_early() -> None:
    """200 movements of the largest shape (a 200-character memo and an organisation of
    four-byte characters, 64-character ids: about 1.6 KB each) made `movements` and
    `allocations_into` at their limit of 200 fail with "return value larger than 262144
    bytes". They now return the movements that fit (within half a view's gas), and reading
    on from the position after the last returns the rest."""
    app = Local(CONTRACT, Ctx("fund_supervision", {ALICE: ["fund_authority"]}))
    now = app.ctx.time_ms
    fid, to = "f" * 64, "b" * 64
    app.call(ALICE, "create_fund", fid, "p" * 64, 10**9, now - 1, now + 10**12)
    state = app.ctx.state
    for k in range(1, 201):
        state[f"mv:{fid}:{k}"] = {
            "seq": k,
            "kind": "allocate",
            "fund": fid,
            "from": "a" * 64,
            "to": to,
            "amount": 10**18,
            "purpose": "p" * 64,
            "doc_hash": None,
            "memo": WIDE * 200,
            "by": "b" * 40,
            "org": WIDE * 61,
            "height": 10**12,
            "time_ms": 10**15,
            "tx": "ab" * 32,
            "to_org": WIDE * 61,
        }
        state[f"ai:{fid}:{to}:{k}"] = k
    state[f"ain:{fid}:{to}"] = 200
    state["acct:" + to] = {"id": to}
    state["fund:" + fid] = state["fund:" + fid] | {"moves": 200}
    for method, args in (("movements", (fid,)), ("allocations_into", (fid, to))):
        seqs: list[int] = []
        while len(seqs) < 200:
            page = _within_half(app, method, *args, len(seqs) + 1, 200, paged="-")
            assert page and copy_value(Meter(10**12), page, "value")[1] <= 262144
            seqs += [m["seq"] for m in page]
        assert seqs == list(range(1, 201))


def test_the_refusal_views_at_their_largest() -> None:
    """80 of the largest refusals (what `refusals` and `refusal_page` return at most)."""
    app = _world(0, "x", 80)
    assert len(_within_half(app, "refusals", "f1", paged="-")) == 80
    assert len(_within_half(app, "refusal_page", "f1", 1, 80, paged="-")) == 80
