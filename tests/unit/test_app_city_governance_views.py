"""City governance views over open cases: bounded whatever the number of cases open.

The contract is deployed with MAX_WALK and MAX_PAGE lowered, so that a few cases cross the
bounds the real constants put at 1000 and 200 open cases."""

from __future__ import annotations

import time

import pytest

from tianfu.apps.city_governance import NAME, source
from tianfu.apps.city_governance.demo import members
from tianfu.apps.common.scenario import Member, cast
from tianfu.testing.appchain import AppChain

TAG = "-v"
SMALL = (
    source().replace("MAX_WALK = 1000", "MAX_WALK = 3").replace("MAX_PAGE = 200", "MAX_PAGE = 2")
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    assert SMALL != source()
    chain = AppChain(tmp_path_factory.mktemp("cityviews"))
    night = Member("night", 1, "cg-night" + TAG, ("dept:fast" + TAG,))
    people = cast(chain, (*members(TAG), night))
    chain.deploy(NAME, SMALL)
    org = people["night"].info.org
    for d in ("fast" + TAG, "slow" + TAG):
        r = chain.call(people["dispatcher"], NAME, "register_department", d, d, org, 1000)
        assert r.ok, r.error
    yield chain, people
    chain.close()


def _open(chain, people, dept, n):
    ids = []
    for _ in range(n):
        cid = f"V{dept}{len(ids)}"
        args = (cid, "lighting", "normal", "grid B", "lamp out", "", "", "")
        assert chain.call(people["centre"], NAME, "file_case", *args).ok
        assert chain.call(people["dispatcher"], NAME, "dispatch", cid, dept).ok
        ids.append(cid)
    return ids


def test_overdue_views_are_bounded_and_paged(world):
    chain, people = world
    fast, slow = "fast" + TAG, "slow" + TAG
    two = _open(chain, people, slow, 2)
    assert isinstance(chain.query(NAME, "overdue"), list)  # 2 open: within MAX_WALK
    five = _open(chain, people, fast, 5)
    # Past MAX_WALK open cases the whole-list view is refused with a clear error, not run
    # until the query's gas runs out.
    with pytest.raises(Exception, match="7 cases are open, more than 3: .*overdue_in"):
        chain.query(NAME, "overdue")
    # The statistics still answer: overdue_now is counted while the walk stays in budget.
    rows = {r["dept"]: r for r in chain.query(NAME, "stats")}
    assert rows[fast]["open"] == 5 and rows[fast]["overdue_now"] is None
    assert rows[slow]["open"] == 2 and isinstance(rows[slow]["overdue_now"], int)
    # Every case falls due (1 s service level) as block time passes: a refused call
    # commits a block, moving the block time on.
    deadline = time.monotonic() + 30
    while not chain.query(NAME, "overdue_in", fast, 5, 2)["overdue"]:
        assert time.monotonic() < deadline, "block time did not pass the last deadline"
        assert not chain.call(people["supervisor"], NAME, "flag_overdue", "nothing").ok
    seen, start, pages = [], 1, 0
    while start is not None:
        page = chain.query(NAME, "overdue_in", fast, start, 2)
        assert page["dept"] == fast and page["open"] == 5 and len(page["overdue"]) <= 2
        seen += [x["id"] for x in page["overdue"]]
        start, pages = page["next"], pages + 1
    assert pages == 3 and sorted(seen) == sorted(five)
    with pytest.raises(Exception, match="limit 1..2"):
        chain.query(NAME, "overdue_in", fast, 1, 3)
    with pytest.raises(Exception, match="unknown department|department"):
        chain.query(NAME, "overdue_in", "nowhere", 1, 2)
    assert sorted(x["id"] for x in chain.query(NAME, "overdue_in", slow, 1, 2)["overdue"]) == two
    rows = {r["dept"]: r for r in chain.query(NAME, "stats")}
    assert rows[slow]["overdue_now"] == 2 and rows[fast]["overdue_now"] is None
