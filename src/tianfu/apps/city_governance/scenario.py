"""End-to-end city governance flow: cases filed by a service centre and a sensor, dispatched,
transferred, handled, checked, closed and reopened, a deadline missed; every forbidden
action tried and refused with no state change.

Runs on `AppChain` in the tests and on a real 4-validator network (`tianfu up`).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from tianfu.apps.city_governance import NAME, source
from tianfu.apps.city_governance.demo import departments, members
from tianfu.apps.city_governance.sdk import CityGovernance, details_hash, reporter_hash
from tianfu.apps.common.scenario import Member, Scenario, handles, once_due
from tianfu.apps.env import AppEnv

STATUSES = ("filed", "dispatched", "handled", "closed", "reopened")


def run_scenario(env: AppEnv) -> None:
    tag = "-" + secrets.token_hex(3)
    urban, water, fast = "urban" + tag, "water" + tag, "fast" + tag
    chief = Member("chief", 1, "cg-urban-chief" + tag, ("supervisor", "dept:" + urban))
    night = Member("night", 1, "cg-night-works" + tag, ("dept:" + fast,))
    run = Scenario(env, [(NAME, source)], (*members(tag), chief, night))
    p, check, refused = run.people, run.check, run.refused
    g = handles(env, p, CityGovernance)
    desk, centre, sensor, supervisor = g["dispatcher"], g["centre"], g["sensor"], g["supervisor"]
    org = {k: who.info.org for k, who in p.items()}

    # Departments: only a city administrator, only of member organisations.
    run.watch(lambda: (desk.departments(), _stable(*desk.stats())))
    refused(lambda: centre.register_department(urban, "Urban", org["urban"], 1000), "city_admin")
    refused(lambda: desk.register_department(urban, "Urban", "org-nowhere", 1000), "not a member")
    refused(lambda: desk.register_department(urban, "Urban", org["urban"], 10), "sla_ms")
    registering = time.monotonic()
    depts = departments(env, tag)
    for dept_id, name, dept_org, sla in depts:
        desk.register_department(dept_id, name, dept_org, sla)
    per_tx = (time.monotonic() - registering) / len(depts)
    # An urgent case of this department is due a quarter of its service level after its
    # dispatch, and must not be due yet when the flag below is tried (a transaction and a
    # few reads later): at least 4 s, and eight times what a registration took here on a
    # slow network.
    urgent_ms = max(4_000, int(8_000 * per_tx))
    desk.register_department(fast, "Night Works Unit", org["urban"], 4 * urgent_ms)
    refused(lambda: desk.register_department(urban, "Again", org["urban"], 1000), "already exists")

    # Filing: a service centre or a sensor, personal data only as salted hashes.
    c1, s1 = "C" + tag, "S" + tag
    where = "Jinjiang Rd / Hongxing Rd, grid JJ-07"
    citizen = reporter_hash("13800138000", "centre-salt" + tag)
    run.watch(lambda: desk.cases())
    refused(
        lambda: desk.file_case(c1, "road", where, "Pooling water"), "service centre or a sensor"
    )
    refused(
        lambda: centre.file_case(c1, "road", where, "Call 13800138000 back"), "7 or more digits"
    )
    refused(lambda: centre.file_case(c1, "road", where, "x", reporter="Zhang San"), "salted hash")
    refused(lambda: centre.file_case(c1, "weather", where, "Rain"), "category")
    refused(
        lambda: centre.file_case(c1, "road", where, "x", sensor_ref="A-1"), "no sensor reference"
    )
    refused(lambda: sensor.file_case(s1, "road", where, "x", reporter=citizen), "no citizen")
    complaint = details_hash("Caller (on file) reports water pooling after rain " + tag)
    centre.file_case(
        c1, "road", where, "Water pooling after rain", details=complaint, reporter=citizen
    )
    refused(lambda: centre.file_case(c1, "road", where, "Again"), "already exists")
    alarm = "MH-TILT" + tag
    sensor.file_case(
        s1, "road", "Renmin Rd S., grid WH-11", "Manhole cover tilted", sensor_ref=alarm
    )
    refused(
        lambda: sensor.file_case("S2" + tag, "road", where, "Tilt", sensor_ref=alarm),
        "already open as case",
    )

    # Dispatch and transfers, each with its reason, only by the holder or a dispatcher.
    run.watch(lambda: (_stable(desk.case(c1)), desk.history(c1), _stable(*desk.stats())))
    refused(lambda: centre.dispatch(c1, urban), "dispatcher")
    refused(lambda: desk.dispatch(c1, "nowhere" + tag), "unknown department")
    refused(lambda: g["urban"].handle(c1, "done", complaint), "filed: it cannot be handled")
    desk.dispatch(c1, urban)
    due = desk.case(c1)["due_ms"]
    refused(lambda: desk.dispatch(c1, water), "dispatched: it cannot be dispatched")
    refused(lambda: g["water"].transfer(c1, urban, "not ours"), "or a dispatcher")
    refused(lambda: g["urban"].transfer(c1, urban, "loop"), "already")
    refused(lambda: g["urban"].transfer(c1, water, ""), "reason")
    refused(lambda: g["water"].handle(c1, "done", complaint), "only staff of")
    g["urban"].transfer(c1, water, "blocked storm drain: a water authority asset")
    check(desk.case(c1)["due_ms"] == due, "a transfer does not move the deadline")
    refused(lambda: g["urban"].handle(c1, "done", complaint), "only staff of")

    # Handling, then the supervising office's check: independent of the department.
    evidence = details_hash("work order W" + tag)
    refused(lambda: supervisor.check(c1, True, "ok"), "dispatched: it cannot be checked")
    g["water"].handle(c1, "drain cleared", evidence)
    refused(lambda: g["water"].check(c1, True, "fine"), "supervisor")
    refused(lambda: supervisor.reopen(c1, "again"), "handled: it cannot be reopened")
    supervisor.check(c1, False, "still pooling at the kerb")
    check(desk.case(c1)["status"] == "reopened", "a failed check sends the case back")
    g["water"].handle(c1, "kerb drain relined", evidence)
    supervisor.check(c1, True, "site visit: dry after rain")
    supervisor.reopen(c1, "the citizen reports pooling again")
    g["water"].handle(c1, "second drain cleared", evidence)
    supervisor.check(c1, True, "dry")
    actions = [h["action"] for h in desk.history(c1)]
    check(
        actions
        == ["Filed", "Dispatched", "Transferred", "Handled", "Reopened", "Handled", "Closed"]
        + ["Reopened", "Handled", "Closed"],
        f"history: {actions}",
    )
    reasons = [h.get("reason") for h in desk.history(c1) if h["action"] == "Transferred"]
    check(reasons == ["blocked storm drain: a water authority asset"], "the reason is recorded")

    # Independence: a supervisor who is also staff of the department cannot check its case.
    desk.dispatch(s1, urban)
    g["urban"].handle(s1, "cover reseated", evidence)
    refused(lambda: g["chief"].check(s1, True, "mine"), "own department")
    supervisor.check(s1, True, "ok")
    sensor.file_case("S3" + tag, "road", where, "Tilt again", sensor_ref=alarm)  # closed: refiled

    # A deadline missed, counted in block time: overdue while open, late once handled.
    c2 = "C2" + tag
    centre.file_case(
        c2, "lighting", "Wangjiang Rd, grid WJ-03", "Street lights out", priority="urgent"
    )
    desk.dispatch(c2, fast)
    run.watch(lambda: (_stable(desk.case(c2)), desk.history(c2)))
    refused(lambda: desk.flag_overdue(c2), "not overdue")
    once_due(desk.case(c2)["due_ms"], lambda: desk.flag_overdue(c2), "not overdue")
    refused(lambda: desk.flag_overdue(c2), "flagged overdue already")
    late = [x for x in desk.overdue() if x["id"] == c2]
    check(len(late) == 1 and late[0]["overdue_ms"] > 0 and late[0]["dept"] == fast, f"{late}")
    row = _stat(desk, fast)
    check(row["overdue_now"] == 1 and row["overdue_flagged"] == 1, f"stats: {row}")
    g["night"].handle(c2, "lamps replaced", evidence)
    check(desk.case(c2)["late"], "handled after its deadline: late")
    check(not [x for x in desk.overdue() if x["id"] == c2], "handled: no longer overdue")

    # Every case is in exactly one state; the statistics hold counts and no personal data.
    for case_id in desk.cases():
        check(desk.case(case_id)["status"] in STATUSES, f"{case_id} has a known status")
    rows = desk.stats()
    check(_stat(desk, water)["closed"] == 2 and _stat(desk, urban)["transferred_out"] == 1, "stats")
    public = json.dumps(rows)
    check(citizen not in public and "pooling" not in public.lower(), "no personal data in stats")


def _stable(*records: dict[str, Any]) -> list[dict[str, Any]]:
    """Records without the fields computed at the current block time (they move with it)."""
    moving = ("overdue_ms", "overdue_now")
    return [{k: v for k, v in r.items() if k not in moving} for r in records]


def _stat(desk: CityGovernance, dept: str) -> dict[str, Any]:
    return next(r for r in desk.stats() if r["dept"] == dept)
