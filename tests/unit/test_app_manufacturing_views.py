"""Manufacturing's tree views: bounded whatever the size of a tree of orders.

The contract is deployed with MAX_TREE and MAX_PAGE lowered, so that a few orders cross
the bounds the real constants put at 500 and 200 orders."""

from __future__ import annotations

import time

import pytest

from tianfu.apps.common.scenario import cast, handles
from tianfu.apps.manufacturing import NAME, source
from tianfu.apps.manufacturing.demo import DAY_MS, MEMBERS
from tianfu.apps.manufacturing.sdk import Manufacturing, bom
from tianfu.client.errors import ApiError
from tianfu.testing.appchain import AppChain

SMALL = source().replace("MAX_TREE = 500", "MAX_TREE = 3").replace("MAX_PAGE = 150", "MAX_PAGE = 2")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    assert SMALL != source()
    chain = AppChain(tmp_path_factory.mktemp("mfviews"))
    people = cast(chain, MEMBERS, suffix="-v")
    chain.deploy(NAME, SMALL)
    yield chain, people, handles(chain, people, Manufacturing)
    chain.close()


def test_a_large_tree_is_read_a_page_at_a_time(world):
    chain, p, m = world
    root = f"{p['oem'].info.org}/BIG"
    due = int(time.time() * 1000) + 10 * DAY_MS
    m["oem"].place_order(root, p["tier1"].info.address, bom(("disc", 10, 100)), due, False)
    m["tier1"].accept_order(root)
    castings = p["castings"].info.address
    subs = [f"{p['tier1'].info.org}/BIG-{n}" for n in range(1, 5)]
    for sub in subs:
        m["tier1"].subcontract(root, sub, castings, bom(("disc", 1, 80)), due)
    # Past MAX_TREE orders the whole-tree view is refused with a clear error, not run until
    # the query's gas runs out.
    with pytest.raises(ApiError, match="more than 3 orders: .*tree_page"):
        m["oem"].tree(root)
    seen, start, pages = [], 1, 0
    while start is not None:
        page = m["castings"].tree_page(subs[-1], start=start, limit=2)
        assert page["root"] == root and page["count"] == 5 and len(page["orders"]) <= 2
        seen += [o["id"] for o in page["orders"]]
        start, pages = page["next"], pages + 1
    assert pages == 3 and seen == [root, *subs]
    first = m["oem"].tree_page(root, start=1, limit=1)["orders"][0]
    assert (first["parent"], first["depth"], first["status"], first["total"]) == (
        None,
        0,
        "in_production",
        1000,
    )
    with pytest.raises(ApiError, match="limit 1..2"):
        m["oem"].tree_page(root, start=1, limit=3)
    small = f"{p['oem'].info.org}/SMALL"
    m["oem"].place_order(small, p["tier1"].info.address, bom(("disc", 1, 1)), due, False)
    assert [o["id"] for o in m["oem"].tree(small)] == [small]
