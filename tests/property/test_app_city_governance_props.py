"""Property tests of city governance invariants: random case operations by random actors,
checked against a reference model — a case is in exactly one state, deadlines and overdue
flags follow the block time, the public statistics count exactly the cases, refusals change
nothing."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianfu.apps.city_governance import NAME, source
from tianfu.apps.city_governance.demo import members
from tianfu.apps.common.scenario import Member, cast
from tianfu.testing.appchain import AppChain

TAG = "-p"
DEPTS = ("urban" + TAG, "water" + TAG, "fast" + TAG)
SLA = {DEPTS[0]: 72 * 3600_000, DEPTS[1]: 48 * 3600_000, DEPTS[2]: 1_000}
STAFF = {DEPTS[0]: "urban", DEPTS[1]: "water", DEPTS[2]: "night"}
ACTORS = ("centre", "sensor", "dispatcher", "urban", "water", "night", "supervisor")
KINDS = ("file", "dispatch", "dispatch", "transfer", "handle", "handle", "check", "check")
KINDS += ("reopen", "flag_overdue")
WITH_DEPT = ("dispatched", "reopened")
OPEN = ("dispatched", "handled", "reopened")
EVIDENCE = "ab" * 32
_ids = iter(range(10**6))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("cityprops"))
    night = Member("night", 1, "cg-night" + TAG, ("dept:" + DEPTS[2],))
    people = cast(chain, (*members(TAG), night))
    chain.deploy(NAME, source())
    orgs = {DEPTS[0]: people["urban"].info.org, DEPTS[1]: people["water"].info.org}
    orgs[DEPTS[2]] = people["night"].info.org
    for d in DEPTS:
        r = chain.call(people["dispatcher"], NAME, "register_department", d, d, orgs[d], SLA[d])
        assert r.ok, r.error
    yield chain, people
    chain.close()


op = st.tuples(
    st.sampled_from(KINDS),
    st.integers(0, 3),  # which case
    st.integers(0, 9),  # actor: 0-2 the right one, else ACTORS[n - 3]
    st.integers(0, 2),  # department
    st.booleans(),  # urgent / check passed
    st.booleans(),  # do the case's natural next step instead of `kind`
)
NEXT = {"filed": "dispatch", "dispatched": "handle", "reopened": "handle", "handled": "check"}
NEXT["closed"] = "reopen"


def _counters() -> dict[str, dict[str, int]]:
    keys = ("received", "transferred_in", "transferred_out", "handled", "late", "closed")
    keys += ("reopened", "overdue_flagged")
    return {d: dict.fromkeys(keys, 0) for d in DEPTS}


def _paged_overdue(chain, cases) -> set[str]:
    """The overdue cases read a page of each department's open cases at a time."""
    out: set[str] = set()
    for d in DEPTS:
        start = 1
        while start is not None:
            page = chain.query(NAME, "overdue_in", d, start, 3)
            assert len(page["overdue"]) <= 3 and page["dept"] == d
            out |= {x["id"] for x in page["overdue"] if x["id"] in cases}
            start = page["next"]
    return out


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    urgent=st.lists(st.booleans(), min_size=4, max_size=4),
    ops=st.lists(op, min_size=10, max_size=30),
)
def test_cases_follow_the_model_and_the_block_time(world, urgent, ops):
    chain, people = world
    run = next(_ids)
    ids = [f"R{run}-{i}" for i in range(4)]
    cases: dict[str, dict] = {}
    before_stats = {r["dept"]: r for r in chain.query(NAME, "stats")}
    count = _counters()
    # Four cases filed first (then "file" ops try again), so the operations have cases to act on.
    ops = [("file", i, 0, 0, flag, False) for i, flag in enumerate(urgent)] + ops
    for kind, case_i, actor_i, dept_i, flag, natural in ops:
        cid = ids[case_i]
        c = cases.get(cid)
        status = c["status"] if c else None
        if natural and status is not None:
            kind = NEXT[status]
            head = chain.ledger.head().time_ms
            if status in WITH_DEPT and head > c["due"] and not c["flagged"]:
                kind = "flag_overdue"
        dept = DEPTS[dept_i]
        here = c["dept"] if c else None
        right = {
            "file": "centre",
            "dispatch": "dispatcher",
            "transfer": STAFF.get(here, "dispatcher"),
            "handle": STAFF.get(here, "urban"),
        }.get(kind, "supervisor")
        actor = right if actor_i < 3 else ACTORS[actor_i - 3]
        if kind == "file":
            args = ("file_case", cid, "road", "urgent" if flag else "normal", "grid A", "pothole")
            args += ("", "", "")
        elif kind in ("dispatch", "transfer"):
            args = (kind, cid, dept) + (("moved on",) if kind == "transfer" else ())
        elif kind == "handle":
            args = ("handle", cid, "fixed", EVIDENCE)
        elif kind == "check":
            args = ("check", cid, flag, "checked")
        else:
            args = (kind, cid) + (("back again",) if kind == "reopen" else ())
        before = chain.contract_state(NAME)
        r = chain.call(people[actor], NAME, *args)
        now = chain.ledger.head().time_ms  # the time of the block that ran the call
        due = c["due"] if c else None
        if kind == "file":
            ok = actor == "centre" and c is None
        elif kind == "dispatch":
            ok = actor == "dispatcher" and status == "filed"
        elif kind == "transfer":
            allowed_actor = actor == "dispatcher" or actor == STAFF.get(here)
            office = actor == "supervisor" and status in WITH_DEPT and c["transfers"] >= 10
            allowed_actor = (allowed_actor and c["transfers"] < 10) or office
            ok = status in WITH_DEPT and allowed_actor and dept != here
        elif kind == "handle":
            ok = status in WITH_DEPT and actor == STAFF[here]
        elif kind == "check":
            ok = actor == "supervisor" and status == "handled"
        elif kind == "reopen":
            ok = actor == "supervisor" and status == "closed"
        else:
            ok = status in WITH_DEPT and now > due and not c["flagged"]
        assert r.ok == ok, (kind, actor, c, now, r.error)
        if not ok:
            assert chain.contract_state(NAME) == before
        elif kind == "file":
            cases[cid] = {"status": "filed", "dept": None, "due": None, "urgent": flag}
            cases[cid].update(transfers=0, flagged=False, late=False, charged=False)
        else:
            sla = SLA[dept if kind == "dispatch" else here] // (4 if c["urgent"] else 1)
            if kind == "dispatch":
                c.update(status="dispatched", dept=dept, due=now + sla)
                count[dept]["received"] += 1
            elif kind == "transfer":
                c.update(dept=dept, transfers=c["transfers"] + 1)
                count[here]["transferred_out"] += 1
                count[dept]["transferred_in"] += 1
                if now > due and not c["charged"]:  # lapsed with the sender: counted to it
                    c["charged"] = True
                    count[here]["late"] += 1
            elif kind == "handle":
                c.update(status="handled", late=c["late"] or now > due)
                count[here]["handled"] += 1
                if now > due and not c["charged"]:  # unless a department before let it lapse
                    c["charged"] = True
                    count[here]["late"] += 1
            elif kind == "check" and flag:
                c["status"] = "closed"
                count[here]["closed"] += 1
            elif kind in ("check", "reopen"):
                c.update(status="reopened", due=now + sla, flagged=False, charged=False)
                count[here]["reopened"] += 1
            else:
                c["flagged"] = True
                count[here]["overdue_flagged"] += 1

        # After every call: the same states, deadlines, overdue flags and statistics.
        for case_id, m in cases.items():
            got = chain.query(NAME, "case", case_id)
            assert (got["status"], got["dept"], got["due_ms"]) == (m["status"], m["dept"], m["due"])
            assert got["late"] == m["late"] and got["overdue_flagged"] == m["flagged"]
            overdue = m["status"] in WITH_DEPT and now > m["due"]
            assert got["overdue_ms"] == (now - m["due"] if overdue else 0)
        listed = {x["id"] for x in chain.query(NAME, "overdue") if x["id"] in cases}
        assert listed == {
            i for i, m in cases.items() if m["status"] in WITH_DEPT and now > m["due"]
        }
        assert _paged_overdue(chain, cases) == listed
        for row in chain.query(NAME, "stats"):
            d = row["dept"]
            if d not in DEPTS:
                continue
            for k, n in count[d].items():
                assert row[k] == before_stats[d][k] + n, (d, k)
            mine = [m for m in cases.values() if m["dept"] == d]
            assert row["open"] == before_stats[d]["open"] + sum(m["status"] in OPEN for m in mine)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    urgent=st.booleans(),
    steps=st.lists(
        st.tuples(st.sampled_from(["wait", "wait", "flag", "handle"]), st.integers(0, 400)),
        min_size=1,
        max_size=6,
    ),
)
def test_overdue_flags_follow_the_block_time(world, urgent, steps):
    """A case at a department with a 1 s service level (urgent: 250 ms): whether it is
    overdue, flaggable and late is decided by the block time alone, whenever it is asked."""
    chain, people = world
    cid = f"SLA{next(_ids)}"
    fast = DEPTS[2]
    args = (cid, "lighting", "urgent" if urgent else "normal", "grid B", "lamp out", "", "", "")
    assert chain.call(people["centre"], NAME, "file_case", *args).ok
    assert chain.call(people["dispatcher"], NAME, "dispatch", cid, fast).ok
    due = chain.ledger.head().time_ms + SLA[fast] // (4 if urgent else 1)
    status, flagged, late = "dispatched", False, False
    for step, ms in steps:
        if step == "wait":
            time.sleep(ms / 1000)  # lets block time pass; nothing below depends on how much
            continue
        if step == "flag":
            r = chain.call(people["supervisor"], NAME, "flag_overdue", cid)
            now = chain.ledger.head().time_ms
            assert r.ok == (status == "dispatched" and now > due and not flagged), r.error
            flagged = flagged or r.ok
        else:
            r = chain.call(people["night"], NAME, "handle", cid, "lamp replaced", EVIDENCE)
            now = chain.ledger.head().time_ms
            assert r.ok == (status == "dispatched"), r.error
            if r.ok:
                status, late = "handled", now > due
        got = chain.query(NAME, "case", cid)
        now = chain.ledger.head().time_ms  # the time the view was computed at
        overdue = status == "dispatched" and now > due
        assert got["due_ms"] == due and got["status"] == status
        assert got["overdue_ms"] == (now - due if overdue else 0)
        assert (got["late"], got["overdue_flagged"]) == (late, flagged)
        assert (cid in {x["id"] for x in chain.query(NAME, "overdue")}) == overdue
