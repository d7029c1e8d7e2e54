"""Supply finance: the holdings view is bounded whatever an address holds; an invoice hash
is claimed per issuer, so no other member squats it.

The contract is deployed with MAX_HOLDINGS lowered, so that a few parts cross the bound
the real constant puts at 200 holdings."""

from __future__ import annotations

import time

import pytest

from tianfu.apps.common.scenario import Member, enrolled
from tianfu.apps.supply_finance import NAME, source
from tianfu.apps.supply_finance.demo import CAST, DAY_MS, Party, invoice_hash
from tianfu.client import TxFailed
from tianfu.client.errors import ApiError
from tianfu.testing.appchain import AppChain

SMALL = source().replace("MAX_HOLDINGS = 200", "MAX_HOLDINGS = 2")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    assert SMALL != source()
    chain = AppChain(tmp_path_factory.mktemp("sfviews"))
    squatter = Member("core2", 2, "squat-motors", ("core_enterprise",), "Squat Motors")
    yield chain, enrolled(chain, (*CAST, squatter), Party, (NAME, lambda: SMALL), "v-")
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
    first = t1.sf.holdings_page(t1.address, start=1, limit=2)
    second = t1.sf.holdings_page(t1.address, start=first["next"], limit=2)
    assert first["held"] == 3 and second["next"] is None
    assert [r["id"] for page in (first, second) for r in page["holdings"]] == parts
    assert [r["id"] for r in t1.sf.all_holdings(t1.address, limit=2)] == parts
    assert t1.sf.holding_count(t1.address) == 3


def test_an_invoice_hash_taken_by_another_issuer_does_not_block_its_own_issuer(world):
    chain, p = world
    core, squatter, t1, t2 = p["core"], p["core2"], p["tier1"], p["tier2"]
    due = int(time.time() * 1000) + 30 * DAY_MS
    doc = invoice_hash("PO-2024-1203 brake discs")
    taken = squatter.sf.issue(t2.address, 5, due, doc)  # first, with a colluding supplier
    t2.sf.accept(taken)
    rid = core.sf.issue(t1.address, 500, due, doc)  # the real issuer is not blocked
    assert core.sf.get(rid)["doc_hash"] == doc and rid != taken
    # Its own invoice still backs one receivable of an issuer.
    with pytest.raises(TxFailed, match="already backs receivable " + rid):
        core.sf.issue(t1.address, 500, due, doc)
    t1.sf.reject(rid, "wrong amount")  # the invoice is freed for the issuer
    again = core.sf.issue(t1.address, 400, due, doc)
    assert core.sf.get(again)["status"] == "issued"
