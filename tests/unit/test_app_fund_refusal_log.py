"""Fund supervision's refusal log stays readable by the fund's supervisors: what a refusal
keeps of a caller's text is cut to a bound, the views return at most as many refusals as fit
at their largest, and a member with no role on the fund adds nothing to its log."""

from __future__ import annotations

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, DAVE, Ctx, Local

from tianfu.apps import fund_supervision
from tianfu.apps.fund_supervision.sdk import REFUSAL_PAGE
from tianfu.execution.contract_api import ContractError
from tianfu.execution.meter import Meter
from tianfu.execution.sandbox import compile_contract
from tianfu.execution.walk import copy_value

WIDE = "\U00020000"  # four bytes in UTF-8
ORG = WIDE * 61  # the longest organisation name, of four-byte characters
SHOWN = 80  # the contract's MAX_REFUSALS_SHOWN and MAX_REFUSAL_PAGE


def _funds(roles: dict[str, list[str]]) -> Local:
    app = Local(compile_contract(fund_supervision.source()), Ctx("fund_supervision", roles))
    now = app.ctx.time_ms
    app.call(ALICE, "create_fund", "f1", "relief", 10**9, now - 1, now + 10**12)
    return app


def _size(value: object) -> int:
    return copy_value(Meter(10**12), value, "value")[1]


def _readable(app: Local, who: str) -> None:
    """Every view of the fund's refusals answers, at the SDK's default page size."""
    n = app.call(who, "refusal_count", "f1")
    assert len(app.call(who, "refusals", "f1")) == min(n, SHOWN)
    assert len(app.call(who, "refusal_page", "f1", 1, REFUSAL_PAGE)) == min(n, REFUSAL_PAGE)
    assert app.call(who, "report", "f1", None)["refusal_count"] == n


def test_an_officers_long_ids_do_not_make_the_funds_refusals_unreadable() -> None:
    """A refusal stored the caller's id uncut in its reason: forty attempts with a
    2,000-character id of four-byte characters made `refusals` and `refusal_page` fail with
    "return value larger than 262144 bytes". The reason now keeps the first 64 characters
    and says the text was cut and how long it was."""
    app = _funds({ALICE: ["fund_authority"], BOB: ["fund_officer"]})
    big = WIDE * 2000
    for k in range(40):
        out = app.call(BOB, "attempt_allocate", "f1", big + str(k), "x", 1, "", org=ORG)
        assert out["code"] == "unregistered_account"
    _readable(app, DAVE)
    reason = out["reason"]
    assert reason.startswith("unknown source account " + WIDE * 64 + "... (2002 characters, cut")
    assert len(reason) < 200
    record = app.call(DAVE, "refusal_page", "f1", 40, 1)[0]
    assert record["reason"] == reason and record["from"] == WIDE * 64


@pytest.mark.parametrize(
    "method, args",
    [
        ("attempt_allocate", ("f1", "", "nowhere", 5, "")),
        ("attempt_allocate", ("no-fund", "", "x", 5, "")),
        ("attempt_disburse", ("f1", "acct", "ab" * 32, 5, "relief", "cd" * 32)),
    ],
)
def test_a_member_with_no_role_on_the_fund_adds_nothing_to_its_refusals(
    method: str, args: tuple[object, ...]
) -> None:
    """Any member's refused attempt was recorded in the fund's log (the fund's parties and
    supervisors read it); one with no role now is refused, and nothing is written."""
    app = _funds({ALICE: ["fund_authority"], CAROL: ["fund_officer"]})
    log = "" if args[0] == "no-fund" else args[0]  # attempts naming no known fund: ""
    before = dict(app.ctx.state)
    with pytest.raises(ContractError, match="not recorded: only the fund's authority"):
        app.call(BOB, method, *args, org="org9")
    assert app.ctx.state == before
    assert app.call(DAVE, "refusal_count", log) == 0
    # the fund's authority and a fund officer still have theirs recorded
    assert app.call(ALICE, method, *args)["ok"] is False
    assert app.call(CAROL, method, *args, org="org2")["ok"] is False
    assert app.call(DAVE, "refusal_count", log) == 2


def _largest_refusal(seq: int) -> dict[str, object]:
    """A refusal with every stored field at its largest at once: a reason of the longest
    template (a 61-character organisation and three ids, about 550 bytes) taken as 200
    four-byte characters, the caller's texts cut to 64 four-byte characters."""
    return {
        "seq": seq,
        "kind": "disburse",
        "code": "unregistered_recipient",
        "reason": WIDE * 200,
        "fund": "f" * 64,
        "from": WIDE * 64,
        "to": WIDE * 64,
        "amount": -(10**18),
        "purpose": WIDE * 64,
        "by": "b" * 40,
        "org": ORG,
        "height": 10**15,
        "time_ms": 10**15,
        "tx": "ab" * 32,
    }


def test_the_largest_refusals_fit_in_every_view_at_its_default() -> None:
    """`refusals` and `report` showed the newest 200 and `refusal_page` returned up to 200
    (the SDK's default): 200 of the largest refusals are past what a view returns. Both are
    now 80; 80 of the largest records fit with a third to spare."""
    app = _funds({ALICE: ["fund_authority"], BOB: ["fund_officer"]})
    big = WIDE * 3000
    real = []
    for args in (
        ("attempt_disburse", "f1", big, big, 10**18, big, big),
        ("attempt_allocate", "f1", big, big, -(10**18), big),
        ("attempt_allocate", big, big, big, 10**18, big),
    ):
        out = app.call(BOB, *args, org=ORG)
        real.append(_size(app.ctx.state["rf:" + str(out["refusal"])]))
    assert max(real) < _size(_largest_refusal(1))
    n = 300
    state = app.ctx.state
    for k in range(1, n + 1):
        state["rf:" + str(1000 + k)] = _largest_refusal(1000 + k)
        state["rfi:f1:" + str(k)] = 1000 + k
    state["rfn:f1"] = n
    _readable(app, DAVE)
    assert _size(app.call(DAVE, "refusals", "f1")) * 4 < 262144 * 3
    assert _size(app.call(DAVE, "refusal_page", "f1", 200, REFUSAL_PAGE)) * 4 < 262144 * 3
    with pytest.raises(ContractError, match=f"limit must be 1..{SHOWN}"):
        app.call(DAVE, "refusal_page", "f1", 1, REFUSAL_PAGE + 1)


def _fund_of(
    app: Local, n: int, name: str, refusals: list[dict[str, object]], width: int = 64
) -> None:
    """Fund f1 with `n` accounts named `name` (ids and parents of `width` characters), each
    holding money it has not moved since the period ended, and `refusals`."""
    state = app.ctx.state
    for k in range(1, n + 1):
        aid = str(k).zfill(width)
        state["acct:" + aid] = {
            "id": aid,
            "name": name,
            "level": "township",
            "parent": "p" * width,
            "manager": BOB,
            "children": [],
            "beneficiaries": 0,
            "registered_by": ALICE,
            "height": 1,
        }
        state[f"fac:f1:{k}"] = aid
        books = {"received": 10**15, "allocated_out": 10**14, "disbursed": 10**14}
        state[f"fa:f1:{aid}"] = books | {"balance": 8 * 10**14, "last_move_ms": 1}
    fund = state["fund:f1"]
    state["fund:f1"] = fund | {"naccounts": n}
    for k, refusal in enumerate(refusals, 1):
        state[f"rf:{k}"] = refusal
        state[f"rfi:f1:{k}"] = k
    state["rfn:f1"] = len(refusals)
    app.ctx.time_ms += 10**13  # the period has ended: every balance is idle


@pytest.mark.parametrize(
    ("accounts", "refusals"), [(0, 80), (30, 80), (100, 80), (200, 0), (300, 0), (500, 0)]
)
def test_the_report_answers_within_what_a_view_returns_or_names_report_page(
    accounts: int, refusals: int
) -> None:
    """`report` accepted up to 500 accounts and showed the newest 80 refusals, but with
    accounts of 100 four-byte characters (and 64-character ids) it failed with "return
    value larger than 262144 bytes" from 250 accounts, or 100 with 80 of the largest
    refusals (300 accounts: 280 KB). It now counts what it returns and past `_SIZED_BUDGET`
    (240,000 bytes) it is refused naming
    `report_page`; what it answers fits."""
    app = _funds({ALICE: ["fund_authority"]})
    _fund_of(app, accounts, WIDE * 100, [_largest_refusal(k) for k in range(1, refusals + 1)])
    try:
        rep = app.call(DAVE, "report", "f1", None)
    except ContractError as exc:
        assert "read it a page at a time with report_page" in str(exc)
        assert accounts * 1000 + refusals * 2300 > 240000  # refused only when it may not fit
        assert len(app.call(DAVE, "report_page", "f1", None, 1, 200)["accounts"]) == min(
            accounts, 200
        )
    else:
        assert _size(rep) <= 262144
        assert len(rep["accounts"]) == accounts and len(rep["refusals"]) == refusals
    if (accounts, refusals) in ((0, 80), (30, 80), (200, 0)):
        assert len(rep["accounts"]) == accounts  # these fit, and are answered
    if (accounts, refusals) in ((100, 80), (300, 0), (500, 0)):
        with pytest.raises(ContractError, match="read it a page at a time with report_page"):
            app.call(DAVE, "report", "f1", None)


def test_a_report_of_200_accounts_of_usual_names_still_answers() -> None:
    """Counting what the report returns does not refuse one that fits: 200 idle accounts
    named in Chinese with 80 refusals answer, within half a view's gas (500 did, at 77 % of
    it, until `report` was bounded to 200 accounts: the 201st is refused naming
    report_page)."""
    app = _funds({ALICE: ["fund_authority"]})
    small = _largest_refusal(1) | {"reason": "r", "from": "a", "to": "b", "purpose": "p"}
    _fund_of(app, 200, "成都市锦江区财政所", [small | {"org": "org1"}] * 80, 8)
    rep, gas = app.gas(DAVE, "report", "f1", None)
    assert len(rep["accounts"]) == 200 and len(rep["idle"]) == 201  # and the pool
    assert _size(rep) <= 262144 and gas < 500_000
    _fund_of(app, 201, "成都市锦江区财政所", [small | {"org": "org1"}] * 80, 8)
    with pytest.raises(ContractError, match="201 accounts .* more than 200: read it a page"):
        app.call(DAVE, "report", "f1", None)


@pytest.mark.parametrize("width", [8, 16, 40])
@pytest.mark.parametrize("refusals", [0, 80])
def test_the_report_at_its_largest_spends_at_most_half_a_views_gas(
    width: int, refusals: int
) -> None:
    """`report` read up to 500 accounts: 500 with 16-character ids, 20-character names and
    80 refusals spent 787,088 of the 1,000,000 gas a view may spend (a little larger data and
    it would run out of gas instead of answering or naming report_page). It now reads at most
    200 accounts (past that it is refused naming report_page, before reading any); whatever
    it answers spends at most half of a view's gas."""
    small = _largest_refusal(1) | {"reason": "r", "from": "a", "to": "b", "purpose": "p"}
    answered = 0
    for n in (200, 201, 300, 500):
        app = _funds({ALICE: ["fund_authority"]})
        _fund_of(app, n, "x" * 20, [small | {"org": "org1"}] * refusals, width)
        try:
            rep, gas = app.gas(DAVE, "report", "f1", None)
        except ContractError as exc:
            assert "report_page" in str(exc)
            continue
        answered = max(answered, len(rep["accounts"]))
        assert gas <= 500_000, (n, gas)
    assert answered == 200
