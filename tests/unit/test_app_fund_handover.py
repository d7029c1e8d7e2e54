"""Fund supervision: an account is handed to a new manager by those who answer for it.

An account's manager was fixed when it was registered: when her certificate was revoked, or
her organisation left the consortium, nobody could allocate or pay from the account again,
and the money allocated to it stayed there for good. A fund authority (any account), or the
manager of its parent account (a sub-account, which that manager registered), now hands it
to another fund officer who is an active member identity; the handover is recorded (the
`handovers` views, a `ManagerReplaced` event), the account's books do not change, and
everyone else is refused, changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, DAVE, Ctx, Local

from tianfu.apps import fund_supervision
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

EVE, FRANK, GRACE, HUGO = "e" * 40, "f" * 40, "1" * 40, "2" * 40
BEN = "9" * 64
DOC = "8" * 64


class _Events(Ctx):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, name: str, **data: Any) -> None:
        self.events.append((name, data))


def _world() -> Local:
    """ALICE a fund authority; BOB manages the province "p", CAROL its city "c" and HUGO the
    county "k" under it; DAVE and EVE are other fund officers, FRANK a regulator, GRACE a
    member with no role. 1,000 fen of fund "f1" go to "p", 600 of them on to "c"."""
    roles = {
        ALICE: ["fund_authority"],
        BOB: ["fund_officer"],
        CAROL: ["fund_officer"],
        DAVE: ["fund_officer"],
        EVE: ["fund_officer"],
        HUGO: ["fund_officer"],
        FRANK: ["regulator"],
    }
    app = Local(compile_contract(fund_supervision.source()), _Events("fund_supervision", roles))
    for who in (*roles, GRACE):  # every identity registered, in org1
        app.ctx.governance["cert/" + who] = {"org": "org1", "serial": who[:8], "fingerprint": ""}
    now = app.ctx.time_ms
    app.call(ALICE, "create_fund", "f1", "relief", 10**6, now - 1, now + 10**12)
    app.call(ALICE, "register_account", "p", "Province", "province", "", BOB)
    app.call(BOB, "register_account", "c", "City", "city", "p", CAROL)
    app.call(CAROL, "register_account", "k", "County", "county", "c", HUGO)
    app.call(ALICE, "allocate", "f1", "", "p", 1000, "")
    app.call(BOB, "allocate", "f1", "p", "c", 600, "")
    return app


def _books(app: Local) -> dict[str, Any]:
    """Every figure a handover must leave as it is."""
    return {
        "fund": app.call(GRACE, "fund", "f1"),
        "p": app.call(GRACE, "balance", "f1", "p"),
        "c": app.call(GRACE, "balance", "f1", "c"),
        "report": app.call(GRACE, "report", "f1", None)["conserved"],
    }


def test_the_parents_manager_hands_a_revoked_managers_account_to_another_officer() -> None:
    app = _world()
    app.ctx.governance["revoked/" + CAROL] = {"height": 1}  # her certificate: revoked
    before = _books(app)
    entry = app.call(BOB, "replace_manager", "c", DAVE, "Carol's certificate was revoked")
    assert entry["from"] == CAROL and entry["to"] == DAVE and entry["by"] == BOB
    assert app.ctx.events[-1] == (
        "ManagerReplaced",
        {"id": "c", "old": CAROL, "new": DAVE, "by": BOB, "reason": entry["reason"]},
    )
    assert app.call(GRACE, "account", "c")["manager"] == DAVE
    assert _books(app) == before  # nothing created, moved or lost
    assert app.call(GRACE, "handovers", "c") == [entry]
    page = app.call(GRACE, "handover_page", "c", 1, 100)
    assert page["handovers"] == [entry] and page["count"] == 1 and page["next"] is None
    # the money is no longer stuck: the new manager moves it on and pays from it
    app.call(DAVE, "allocate", "f1", "c", "k", 100, "")
    app.call(HUGO, "register_beneficiary", "k", BEN, ["relief"])
    app.call(HUGO, "disburse", "f1", "k", BEN, 40, "relief", DOC)
    with pytest.raises(ContractError, match="only the manager of c"):
        app.call(CAROL, "allocate", "f1", "c", "k", 1, "")
    assert app.call(GRACE, "balance", "f1", "c")["balance"] == 500
    assert app.call(GRACE, "report", "f1", None)["conserved"]


def test_a_fund_authority_hands_over_any_account_and_only_it_a_top_level_one() -> None:
    app = _world()
    before = _books(app)
    with pytest.raises(ContractError, match="only a fund authority may hand p"):
        app.call(BOB, "replace_manager", "p", EVE, "mine")  # its own manager: not alone
    app.call(ALICE, "replace_manager", "p", EVE, "the province office moved")
    app.call(ALICE, "replace_manager", "c", DAVE, "reorganised")
    assert [app.call(GRACE, "account", a)["manager"] for a in ("p", "c")] == [EVE, DAVE]
    assert _books(app) == before
    # the parent's manager is the new one now: the old one hands over nothing
    with pytest.raises(ContractError, match="manager of p may hand c"):
        app.call(BOB, "replace_manager", "c", CAROL, "back")
    app.call(EVE, "replace_manager", "c", CAROL, "back")
    assert [e["to"] for e in app.call(GRACE, "handovers", "c")] == [DAVE, CAROL]


@pytest.mark.parametrize(
    "who, account, manager, reason, refusal",
    [
        (CAROL, "c", DAVE, "r", "only a fund authority or the manager of p may hand c"),
        (DAVE, "c", DAVE, "r", "only a fund authority or the manager of p"),  # the taker
        (EVE, "c", DAVE, "r", "only a fund authority or the manager of p"),
        (FRANK, "c", DAVE, "r", "only a fund authority or the manager of p"),  # a regulator
        (GRACE, "c", DAVE, "r", "only a fund authority or the manager of p"),
        (HUGO, "c", DAVE, "r", "only a fund authority or the manager of p"),  # a child's
        (BOB, "k", DAVE, "r", "only a fund authority or the manager of c"),  # a grandparent's
        (FRANK, "p", DAVE, "r", "only a fund authority may hand p"),
        (BOB, "c", GRACE, "r", "does not hold the on-chain role 'fund_officer'"),
        (BOB, "c", FRANK, "r", "does not hold the on-chain role 'fund_officer'"),
        (BOB, "c", "D" * 40, "r", "manager must be an address"),
        (BOB, "c", CAROL, "r", "manages c already"),
        (BOB, "c", DAVE, " ", "reason must be non-empty text"),
        (BOB, "c", DAVE, "x" * 201, "reason must be non-empty text"),
        (BOB, "c", DAVE, None, "reason must be non-empty text"),
        (ALICE, "nope", DAVE, "r", "unknown account nope"),
        (ALICE, ["c"], DAVE, "r", "unknown account"),
    ],
)
def test_everyone_else_is_refused_and_nothing_changes(
    who: str, account: Any, manager: str, reason: Any, refusal: str
) -> None:
    app = _world()
    state = dict(app.ctx.state)
    with pytest.raises(ContractError, match=refusal):
        app.call(who, "replace_manager", account, manager, reason)
    assert app.ctx.state == state


def test_no_account_goes_to_a_revoked_officer_or_one_of_an_organisation_that_left() -> None:
    app = _world()
    state = dict(app.ctx.state)
    app.ctx.governance["revoked/" + DAVE] = {"height": 1}
    with pytest.raises(ContractError, match=f"the certificate of {DAVE} .* is revoked"):
        app.call(BOB, "replace_manager", "c", DAVE, "r")
    app.ctx.governance["cert/" + EVE] = {"org": "gone", "serial": "e", "fingerprint": ""}
    app.ctx.governance["org/gone"] = {"status": "removed"}
    with pytest.raises(ContractError, match="gone is not a member"):
        app.call(BOB, "replace_manager", "c", EVE, "r")
    assert app.ctx.state == state
