"""IP rights: a work's history is refused whole before it is too large to return, and a
dispute is resolved by an arbitrator of neither party's organisation.

Any member's disputes (opened, withdrawn) add to a work's history. `history` returned up to
1,000 entries, but 1,000 entries of even the shortest names exceed the 256 KiB a view may
return: past about 900 the view failed with "return value larger than 262144 bytes" (for
the CLI's `history` too) instead of naming the page view, and the CLI could not show it."""

from __future__ import annotations

from typing import Any, cast

import pytest
from tests.unit.app_local import ALICE, BOB, Ctx, Local

from tianfu.apps import ip_rights
from tianfu.apps.ip_rights.sdk import IpRights
from tianfu.client import Client
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

WIDE = "\U00020000"


def _work(n: int, org: str, name: str, event: str = "dispute_withdrawn") -> Local:
    app = Local(compile_contract(ip_rights.source()), Ctx(ip_rights.NAME))
    app.ctx.state["work:W000001"] = {"id": "W000001", "history": n}
    for k in range(1, n + 1):
        app.ctx.state["hist:W000001:" + str(k).zfill(6)] = {
            "n": k,
            "event": event,
            "data": {"dispute": "D999999"},
            "by": "f" * 40,
            "org": org,
            "name": name,
            "height": 2**62,
            "time_ms": 2**62,
            "tx": "f" * 64,
        }
    return app


def test_a_long_history_is_refused_naming_the_page_view_and_read_a_page_at_a_time() -> None:
    app = _work(1000, "org2", "bob")
    with pytest.raises(ContractError, match="1000 history entries, more than 80: .*history_page"):
        app.call(BOB, "history", "W000001")

    class _Node:  # the SDK's client: a view runs on the in-process contract
        def query(self, contract: str, method: str, *args: Any) -> Any:
            return app.call(BOB, method, *args)

    shown = IpRights(cast(Client, _Node())).all_history("W000001")
    assert [h["n"] for h in shown] == list(range(1, 1001))


def test_the_largest_entries_are_returned_up_to_the_bound_a_whole_list_or_a_page() -> None:
    """The largest entry is the owner's linked evidence (a 500-character note)."""
    app = _work(200, WIDE * 61, WIDE * 64, "evidence_linked")
    for k in range(1, 201):
        app.ctx.state["hist:W000001:" + str(k).zfill(6)]["data"] = {
            "deposit": "EV999999",
            "file_hash": "f" * 64,
            "deposited_height": 2**62,
            "note": WIDE * 500,
        }
    assert len(app.call(BOB, "history_page", "W000001", 101, 80)) == 80
    with pytest.raises(ContractError, match=r"limit 1\.\.80"):
        app.call(BOB, "history_page", "W000001", 1, 81)
    app.ctx.state["work:W000001"]["history"] = 80
    assert len(app.call(BOB, "history", "W000001")) == 80


def test_the_owners_of_a_work_before_the_ownership_log_are_read_past_the_shown_bound() -> None:
    app = _work(300, "org2", "bob", "transferred")
    assert len(app.call(BOB, "ownership_history", "W000001")) == 300


def test_an_arbitrator_of_a_partys_organisation_does_not_resolve_its_dispute() -> None:
    """The arbitrator rule checked addresses only: an arbitrator of the claimant's
    organisation upheld its own organisation's ownership claim (the work moved to it), and
    one of the owner's organisation dismissed a claim against it."""
    roles = {BOB: ["creator"], "e" * 40: ["arbitrator"], "f" * 40: ["arbitrator"]}
    app = Local(compile_contract(ip_rights.source()), Ctx(ip_rights.NAME, roles))
    wid = app.call(BOB, "register_work", "ab" * 32, "Song", ["A"], "music", org="org1")
    d = app.call("c" * 40, "open_dispute", wid, "ownership", "ours", [], org="org2")
    for arbitrator, org, side in (("e" * 40, "org2", "claimant"), ("f" * 40, "org1", "owner")):
        with pytest.raises(ContractError, match=f"arbitrator of {org}, the {side}'s organisation"):
            app.call(arbitrator, "resolve_dispute", d, "upheld", "mine", org=org)
    assert app.call(ALICE, "work", wid)["owner_org"] == "org1"
    app.ctx.roles[ALICE] = ["arbitrator"]
    assert app.call(ALICE, "resolve_dispute", d, "dismissed", "no", org="org3")


def _node(app: Local) -> IpRights:
    class _Node:  # the SDK's client: a view runs on the in-process contract
        def query(self, contract: str, method: str, *args: Any) -> Any:
            return app.call(BOB, method, *args)

    return IpRights(cast(Client, _Node()))


def _logged_transfers(n: int) -> Local:
    """A work with the ownership log, transferred `n` times between addresses of an
    organisation whose name (and its signer's) is of the longest, four-byte characters."""
    app = _work(0, "org2", "bob")
    state = app.ctx.state
    state["work:W000001"] = {"id": "W000001", "history": n, "own_log": True}
    for k in range(1, n + 1):
        state["hist:W000001:" + str(k).zfill(6)] = {
            "n": k,
            "event": "transferred",
            "data": {
                "from": "a" * 40,
                "from_org": WIDE * 61,
                "to": "b" * 40,
                "to_org": WIDE * 61,
                "price_fen": 10**15,
            },
            "by": "f" * 40,
            "org": WIDE * 61,
            "name": WIDE * 64,
            "height": 2**62,
            "time_ms": 2**62,
            "tx": "f" * 64,
        }
        state["own:W000001:" + str(k)] = k
    state["nown:W000001"] = n
    return app


def test_an_owner_passing_a_work_back_and_forth_does_not_make_its_owners_unreadable() -> None:
    """`ownership_history` read the whole ownership log, without bound: an owner passing a
    work between its own addresses (400 transfers, names of four-byte characters) made it
    fail with "return value larger than 262144 bytes", naming no page view (and the CLI's
    `history --ownership` with it). It is now refused naming `ownership_page` once what it
    would return passes what a view returns, and the pages read every owner, each page
    within what a view returns and half a view's gas."""
    app = _logged_transfers(400)
    with pytest.raises(ContractError, match="ownership_page"):
        app.call(BOB, "ownership_history", "W000001")
    start: int | None = 1
    seen: list[int] = []
    while start is not None:
        page, gas = app.gas(BOB, "ownership_page", "W000001", start, 200)
        assert gas < 500_000 and page["count"] == 400 and page["start"] == start
        assert len(str(page)) * 4 < 262144
        seen += [h["n"] for h in page["entries"]]
        start = page["next"]
    assert seen == list(range(1, 401))
    assert [h["n"] for h in _node(app).all_ownership("W000001")] == list(range(1, 401))


def test_the_owners_of_an_older_work_are_read_a_page_at_a_time_past_what_fits() -> None:
    """A work recorded before the ownership log: `ownership_history` read up to 1,000
    history entries and 1,000 transfers failed with "return value larger than 262144
    bytes"; it is refused naming `ownership_page`, whose pages walk the history and return
    its transfers."""
    app = _work(1000, "org2", "bob", "transferred")
    for k in range(1, 1001, 50):
        app.ctx.state["hist:W000001:" + str(k).zfill(6)]["event"] = "dispute_withdrawn"
    with pytest.raises(ContractError, match="ownership_page"):
        app.call(BOB, "ownership_history", "W000001")
    owners = _node(app).all_ownership("W000001")
    assert [h["n"] for h in owners] == [k for k in range(1, 1001) if k % 50 != 1]
    page = app.call(BOB, "ownership_page", "W000001", 1, 200)
    assert page["count"] == 1000 and page["next"] is not None
    with pytest.raises(ContractError, match=r"limit 1\.\.200"):
        app.call(BOB, "ownership_page", "W000001", 1, 201)
