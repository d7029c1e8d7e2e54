"""City governance, as an attacker member: the check of a department's case is the
supervising office's, never the department's own organisation's (it granted a member of its
own `supervisor`, who does not hold the department's role, and passed or sent back its own
cases); a case's history, which grows with every case sent back, is read a page at a time."""

from __future__ import annotations

import pytest
from tests.unit.app_local import ALICE, BOB, CAROL, DAVE, Ctx, Local

from tianfu.apps.city_governance import source
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

ERIN = "e" * 40  # org2's own `supervisor`, not staff of the department
ROLES = {
    ALICE: ["city_admin", "dispatcher", "service_centre"],
    BOB: ["dept:water"],  # staff of `water`, of org2
    CAROL: ["supervisor"],  # the supervising office, org4
    ERIN: ["supervisor"],
    DAVE: ["dept:roads"],
}


def _handled(case_id: str) -> Local:
    ctx = Ctx("city_governance", ROLES)
    for org in ("org1", "org2", "org3", "org4"):
        ctx.governance["org/" + org] = {"status": "active"}
    app = Local(compile_contract(source()), ctx)
    app.call(ALICE, "register_department", "water", "Water", "org2", 86_400_000)
    app.call(ALICE, "file_case", case_id, "water", "normal", "grid A", "pipe burst", "", "", "")
    app.call(ALICE, "dispatch", case_id, "water")
    app.call(BOB, "handle", case_id, "fixed", "ab" * 32, org="org2")
    return app


@pytest.mark.parametrize("passed", [True, False])
def test_the_departments_own_organisation_does_not_check_its_case(passed: bool) -> None:
    app = _handled("C1")
    before = dict(app.ctx.state)
    with pytest.raises(ContractError, match="a supervisor of org2 cannot check a case of water"):
        app.call(ERIN, "check", "C1", passed, "looks fine", org="org2")
    assert app.ctx.state == before
    case = app.call(CAROL, "check", "C1", passed, "checked on site", org="org4")
    assert case["status"] == ("closed" if passed else "reopened")


def test_the_departments_own_organisation_does_not_reopen_its_case() -> None:
    app = _handled("C2")
    app.call(CAROL, "check", "C2", True, "ok", org="org4")
    with pytest.raises(ContractError, match="a supervisor of org2 cannot check a case of water"):
        app.call(ERIN, "reopen", "C2", "came back", org="org2")
    assert app.call(CAROL, "reopen", "C2", "came back", org="org4")["status"] == "reopened"


SMALL = source().replace("MAX_HISTORY = 100", "MAX_HISTORY = 3")


def test_a_long_history_is_refused_whole_and_read_a_page_at_a_time() -> None:
    """Every check that sends a case back adds to its history without bound, and `history`
    returned it whole: past what one view returns, no part of it could be read."""
    ctx = Ctx("city_governance", ROLES)
    for org in ("org1", "org2", "org4"):
        ctx.governance["org/" + org] = {"status": "active"}
    app = Local(compile_contract(SMALL), ctx)
    app.call(ALICE, "register_department", "water", "Water", "org2", 86_400_000)
    app.call(ALICE, "file_case", "C3", "water", "normal", "grid A", "pipe burst", "", "", "")
    assert len(app.call(CAROL, "history", "C3")) == 1
    app.call(ALICE, "dispatch", "C3", "water")
    for _ in range(2):  # handled, sent back, twice
        app.call(BOB, "handle", "C3", "fixed", "ab" * 32, org="org2")
        app.call(CAROL, "check", "C3", False, "still leaking", org="org4")
    with pytest.raises(ContractError, match="has 6 history entries, more than 3: .*history_page"):
        app.call(CAROL, "history", "C3")
    seen, start = [], 1
    while start is not None:
        page = app.call(CAROL, "history_page", "C3", start, 2)
        assert page["count"] == 6 and len(page["history"]) <= 2
        seen += [e["action"] for e in page["history"]]
        start = page["next"]
    assert seen == ["Filed", "Dispatched", "Handled", "Reopened", "Handled", "Reopened"]
    with pytest.raises(ContractError, match="limit 1..3"):
        app.call(CAROL, "history_page", "C3", 1, 4)


def test_a_case_bounced_ten_times_is_moved_on_by_the_supervising_office() -> None:
    """After 10 transfers "the supervising office decides", but nothing let it: a dispatcher
    (an ordinary role any organisation grants its own members) bouncing a case ten times
    between departments left it with a department that is not the right one, for good: its
    staff could only handle it, the office could only send it back to the same department.
    The supervising office (a supervisor outside the holding department and its
    organisation) now transfers it, whatever the count; nobody else past 10."""
    app = _handled("C9")
    app.call(ALICE, "register_department", "roads", "Roads", "org3", 86_400_000)
    app.call(ALICE, "file_case", "C10", "water", "normal", "grid B", "leak", "", "", "")
    app.call(ALICE, "dispatch", "C10", "water")
    for k in range(10):
        app.call(ALICE, "transfer", "C10", "roads" if k % 2 == 0 else "water", "bounce")
    assert app.call(DAVE, "case", "C10")["dept"] == "water"
    before = dict(app.ctx.state)
    with pytest.raises(ContractError, match="transferred 10 times"):
        app.call(ALICE, "transfer", "C10", "roads", "again")
    with pytest.raises(ContractError, match="transferred 10 times"):
        app.call(BOB, "transfer", "C10", "roads", "not ours", org="org2")
    with pytest.raises(ContractError, match="a supervisor of org2 cannot"):
        app.call(ERIN, "transfer", "C10", "roads", "ours decides", org="org2")
    assert app.ctx.state == before
    case = app.call(CAROL, "transfer", "C10", "roads", "the office decides: roads", org="org4")
    assert case["dept"] == "roads" and case["transfers"] == 11
    assert app.call(DAVE, "history", "C10")[-1]["by_org"] == "org4"
    app.call(DAVE, "handle", "C10", "fixed", "cd" * 32, org="org3")


def _stat(app: Local, dept: str) -> dict:
    return next(r for r in app.call(DAVE, "stats") if r["dept"] == dept)


def test_a_department_does_not_pass_its_late_case_on_to_another_to_be_counted_late() -> None:
    """A transfer does not move the deadline, and lateness was counted only when a case was
    handled, against the department handling it: a department holding a case past its
    deadline handed it to another organisation's department, which then handled it late and
    was counted late in the public statistics, while the department that let it lapse was
    not. Lateness is now counted once per deadline, against the department that held the
    case when the deadline passed: a transfer after it counts it against the sender."""
    app = _handled("C11")
    app.call(ALICE, "register_department", "roads", "Roads", "org3", 86_400_000)
    app.call(ALICE, "file_case", "C12", "water", "normal", "grid C", "leak", "", "", "")
    app.call(ALICE, "dispatch", "C12", "water")
    app.ctx.time_ms += 2 * 86_400_000  # the deadline passes while water holds it
    app.call(BOB, "transfer", "C12", "roads", "not ours after all", org="org2")
    assert app.call(DAVE, "history", "C12")[-1]["late_charged_to"] == "water"
    case = app.call(DAVE, "handle", "C12", "fixed", "cd" * 32, org="org3")
    assert case["late"]  # handled after the deadline
    assert (_stat(app, "water")["late"], _stat(app, "roads")["late"]) == (1, 0)
    # sent back, it has a new deadline: missed again with roads, it counts against roads
    app.call(CAROL, "check", "C12", False, "still leaking", org="org4")
    app.ctx.time_ms += 2 * 86_400_000
    app.call(DAVE, "handle", "C12", "fixed again", "ef" * 32, org="org3")
    assert (_stat(app, "water")["late"], _stat(app, "roads")["late"]) == (1, 1)
    # on time with water, passed on in time: nothing is counted late
    app.call(ALICE, "file_case", "C13", "water", "normal", "grid D", "leak", "", "", "")
    app.call(ALICE, "dispatch", "C13", "water")
    app.call(BOB, "transfer", "C13", "roads", "roads' pipe", org="org2")
    app.call(DAVE, "handle", "C13", "fixed", "cd" * 32, org="org3")
    assert (_stat(app, "water")["late"], _stat(app, "roads")["late"]) == (1, 1)
