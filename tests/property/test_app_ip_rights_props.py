"""Property: the ip_rights contract grants exactly the licences a reference model allows,
and no exclusive licence ever overlaps another active licence of the same scope; disputes
open, freeze and close the work exactly as a reference model says."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianfu.apps.ip_rights.demo import cast, deploy_both
from tianfu.apps.ip_rights.sdk import IpRights
from tianfu.testing.appchain import AppChain

_counter = itertools.count()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    chain = AppChain(tmp_path_factory.mktemp("ipprops"))
    people = cast(chain, "-p")
    deploy_both(chain, chain.client(people["creator"]))
    yield chain, people
    chain.close()


DAYS = [f"2025-0{m}-{d:02d}" for m in range(1, 4) for d in (1, 10, 20, 28)]
grant = st.tuples(
    st.just("grant"),
    st.booleans(),
    st.sampled_from(["film", "music"]),
    st.integers(0, len(DAYS) - 1),
    st.integers(0, 5),
    st.integers(0, 1),
)
surrender = st.tuples(st.just("surrender"), st.integers(0, 20))


def _clash(a: dict, b: dict) -> bool:
    return (
        a["scope"] == b["scope"]
        and a["start"] <= b["end"]
        and b["start"] <= a["end"]
        and (a["exclusive"] or b["exclusive"])
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(st.one_of(grant, grant, surrender), min_size=1, max_size=8))
def test_licences_follow_the_model(env, ops):
    chain, p = env
    owner = IpRights(chain.client(p["creator"]))
    holders = [p["licensee"], p["licensee2"]]
    wid = owner.register_work(
        hashlib.sha256(f"prop-work-{next(_counter)}".encode()).hexdigest(), "W", ["A"], "other"
    )
    model: list[dict] = []  # granted licences, in order
    for op in ops:
        if op[0] == "grant":
            _, exclusive, scope, i, span, who = op
            new = {
                "scope": scope,
                "start": DAYS[i],
                "end": DAYS[min(i + span, len(DAYS) - 1)],
                "exclusive": exclusive,
            }
            allowed = not any(_clash(new, m) for m in model if m["status"] == "active")
            h = holders[who].info
            r = owner.client.invoke(
                "ip_rights",
                "grant_licence",
                wid,
                h.address,
                exclusive,
                scope,
                new["start"],
                new["end"],
                0,
                check=False,
            )
            assert r.ok == allowed, (new, model, r.error)
            if allowed:
                model.append({**new, "status": "active", "id": r.result, "who": who})
            else:
                assert "overlap" in r.error
        else:
            active = [m for m in model if m["status"] == "active"]
            if not active:
                continue
            m = active[op[1] % len(active)]
            IpRights(chain.client(holders[m["who"]])).surrender_licence(m["id"])
            m["status"] = "surrendered"
    chain_lics = owner.licences(wid)
    assert [x["id"] for x in chain_lics] == [m["id"] for m in model]
    assert [x["status"] for x in chain_lics] == [m["status"] for m in model]
    active = [x for x in chain_lics if x["status"] == "active"]
    for a, b in itertools.combinations(active, 2):
        assert not _clash(a, b)


CLAIMANTS = ("licensee", "licensee2", "buyer")
dispute_op = st.one_of(
    st.tuples(st.just("open"), st.integers(0, 2), st.sampled_from(["ownership", "infringement"])),
    st.tuples(st.just("withdraw"), st.integers(0, 5), st.just("")),
    st.tuples(st.just("resolve"), st.integers(0, 5), st.sampled_from(["upheld", "dismissed"])),
    st.tuples(st.just("transfer"), st.integers(0, 3), st.just("")),
    st.tuples(st.just("grant"), st.integers(0, 1), st.just("")),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(dispute_op, min_size=1, max_size=10))
def test_disputes_freeze_the_work_as_the_model_says(env, ops):
    """One open dispute per organisation and work; any open dispute freezes transfers, an
    open ownership dispute freezes new licences; an upheld ownership claim moves the work."""
    chain, p = env
    ip = {k: IpRights(chain.client(p[k])) for k in p}
    owner = "creator"
    wid = ip[owner].register_work(
        hashlib.sha256(f"prop-dispute-{next(_counter)}".encode()).hexdigest(), "D", ["A"], "other"
    )
    opened: list[dict] = []  # open disputes: id, claimant key, kind
    for n, (op, i, arg) in enumerate(ops):
        if op == "open":
            who = CLAIMANTS[i]
            org = p[who].info.org
            allowed = not (arg == "ownership" and who == owner) and all(
                p[d["who"]].info.org != org for d in opened
            )
            r = ip[who].client.invoke("ip_rights", "open_dispute", wid, arg, "c", [], check=False)
            assert r.ok == allowed, (op, who, arg, opened, r.error)
            if allowed:
                opened.append({"id": r.result, "who": who, "kind": arg})
        elif op in ("withdraw", "resolve") and opened:
            d = opened[i % len(opened)]
            if op == "withdraw":
                r = ip[d["who"]].client.invoke(
                    "ip_rights", "withdraw_dispute", d["id"], "w", check=False
                )
            else:  # by an arbitrator of neither party's organisation only
                sides = (p[d["who"]].info.org, p[owner].info.org)
                r = ip["arbitrator"].client.invoke(
                    "ip_rights", "resolve_dispute", d["id"], arg, "r", check=False
                )
                if p["arbitrator"].info.org in sides:
                    assert not r.ok and "organisation, cannot resolve" in r.error, r.error
                    continue
                if r.ok and d["kind"] == "ownership" and arg == "upheld":
                    owner = d["who"]
            assert r.ok, r.error
            opened.remove(d)
        elif op == "transfer":
            to = [k for k in ("creator", "buyer", "licensee", "licensee2") if k != owner][i % 3]
            allowed = not opened
            r = ip[owner].client.invoke(
                "ip_rights", "transfer_work", wid, p[to].info.address, 0, check=False
            )
            assert r.ok == allowed, (op, opened, r.error)
            if allowed:
                owner = to
        elif op == "grant":
            to = [k for k in ("licensee", "licensee2", "buyer") if k != owner][i]
            allowed = not any(d["kind"] == "ownership" for d in opened)
            day = f"2030-01-{n + 1:02d}"
            r = ip[owner].client.invoke(
                "ip_rights", "grant_licence", wid, p[to].info.address, False, "s", day, day, 0,
                check=False,
            )  # fmt: skip
            assert r.ok == allowed, (op, opened, r.error)
    work = ip["creator"].work(wid)
    assert work["owner"] == p[owner].info.address
    assert work["open_disputes"] == [d["id"] for d in opened]
    for d in opened:
        assert ip["creator"].dispute(d["id"])["status"] == "open"
