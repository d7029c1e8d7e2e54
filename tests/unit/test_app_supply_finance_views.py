"""Supply finance's holdings view: bounded whatever an address holds.

The contract is deployed with MAX_HOLDINGS lowered, so that a few parts cross the bound
the real constant puts at 200 holdings."""

from __future__ import annotations

import time

import pytest

from tianfu.apps.common.scenario import enrolled
from tianfu.apps.supply_finance import NAME, source
from tianfu.apps.supply_finance.demo import CAST, DAY_MS, Party, invoice_hash
from tianfu.client.errors import ApiError
from tianfu.testing.appchain import AppChain

SMALL = source().replace("MAX_HOLDINGS = 200", "MAX_HOLDINGS = 2")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    assert SMALL != source()
    chain = AppChain(tmp_path_factory.mktemp("sfviews"))
    yield chain, enrolled(chain, CAST, Party, (NAME, lambda: SMALL), "v-")
    chain.close()


def test_holdings_is_refused_past_its_bound_and_holdings_page_reads_them(world):
    chain, p = world
    core, t1 = p["core"], p["tier1"]
    due = int(time.time() * 1000) + 30 * DAY_MS
    rid = core.sf.issue(t1.address, 900, due, invoice_hash("views"))
    t1.sf.accept(rid)
    assert [r["id"] for r in t1.sf.holdings(t1.address)] == [rid]
    parts = t1.sf.split(rid, [300, 300, 300])
    # Past MAX_HOLDINGS the whole-list view is refused with a clear error, not run until the
    # query's gas runs out.
    with pytest.raises(
        ApiError, match="holds 3 receivables and parts, more than 2: .*holdings_page"
    ):
        t1.sf.holdings(t1.address)
    pages = [t1.sf.holdings_page(t1.address, start=s, limit=2) for s in (1, 3)]
    assert sorted(r["id"] for page in pages for r in page) == sorted(parts)
    assert t1.sf.holding_count(t1.address) == 3
