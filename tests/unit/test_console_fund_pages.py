"""The console's fund page over a fund that more accounts received from than one report
read covers: it read the whole report in at most three pages (600 accounts) and, past
them, showed an empty allocation tree and "amounts do not add up" for a conserved fund.
It now shows the tree a page of accounts at a time, and says the whole fund's conservation
is not checked there instead of reporting a failure."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tianfu.apps import fund_supervision
from tianfu.testing.appchain import AppChain

ACCOUNTS = 601  # past the three report pages the page read
MORE = re.compile(r'<a href="([^"]+)" rel="next">')
ROW = re.compile(r'<span class="hex">(p\d+)</span>')


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    c = AppChain(tmp_path_factory.mktemp("fundpages"))
    c.deploy("fund_supervision", fund_supervision.source())
    boss = c.identity("org1", "authority")
    c.grant(boss, "fund_authority")
    c.grant(boss, "fund_officer")
    now = int(time.time() * 1000)
    name = "fund_supervision"
    assert c.call(boss, name, "create_fund", "big", "relief", 10**9, now - 1, now + 10**12).ok
    me = boss.info.address
    for lo in range(0, ACCOUNTS, 200):
        ids = [f"p{k:04d}" for k in range(lo, min(lo + 200, ACCOUNTS))]
        regs = [(boss, name, "register_account", (a, a, "province", "", me)) for a in ids]
        assert all(r.ok for r in c.call_many(regs))
        moves = [(boss, name, "allocate", ("big", "", a, 1, "")) for a in ids]
        assert all(r.ok for r in c.call_many(moves))
    yield c.http
    c.close()


def test_a_fund_of_many_accounts_shows_its_tree_a_page_at_a_time(client: TestClient) -> None:
    shown: list[str] = []
    url: str | None = "/funds/big?lang=en"
    pages = 0
    while url is not None:
        r = client.get(url)
        assert r.status_code == 200, url
        text = r.text
        assert "amounts do not add up" not in text  # the fund is conserved
        assert "not checked on this page" in text or "every fen is accounted for" in text
        shown += ROW.findall(text)
        more = MORE.findall(text.split("<h2>Alerts</h2>")[0])
        url = more[0].replace("&amp;", "&") if more else None
        pages += 1
    assert pages == 4 and shown == [f"p{k:04d}" for k in range(ACCOUNTS)]
    assert "Accounts 601–601 of 601" in text


def test_a_fund_page_reads_the_whole_report_while_it_is_small(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tianfu.web import applications

    monkeypatch.setattr(applications, "MAX_REPORT_PAGES", 4)
    assert "every fen is accounted for" in client.get("/funds/big?lang=en").text


@pytest.mark.parametrize("bad", ["0", "-1", "x", "9" * 30])
def test_a_malformed_accounts_cursor_is_a_400(client: TestClient, bad: str) -> None:
    assert client.get(f"/funds/big?accounts={bad}").status_code == 400


def test_a_household_paid_by_two_organisations_before_the_rule_is_flagged() -> None:
    """Payments two organisations made to one household from one fund before the contract
    refused the second are named on the fund page, with the organisations that paid."""
    from tianfu.web.applications import paid_by_several

    h1, h2, h3 = "a" * 64, "b" * 64, "c" * 64
    records = [
        {"beneficiary": h1, "org": "org1", "paid": [5]},
        {"beneficiary": h1, "org": "org2", "paid": [7]},
        {"beneficiary": h2, "org": "org1", "paid": [5, 5]},  # one organisation's instalments
        {"beneficiary": h2, "org": "org3", "paid": []},  # registered, never paid
        {"beneficiary": h3, "org": None, "paid": [1]},  # a deployment before: no org
        {"beneficiary": h3, "org": "org4", "paid": [1]},
        "not a record",
    ]
    assert paid_by_several(records) == [(h1, ["org1", "org2"]), (h3, ["?", "org4"])]


def test_a_fund_of_more_payment_records_than_are_checked_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The repeated-payment and several-organisation alerts read the first MAX_LIST payment
    records only; a fund with more said "No alerts." as if it had checked them all. The
    page now says how many were checked and that the others were not."""
    from tianfu.apps.registry import application
    from tianfu.web import applications

    c = AppChain(tmp_path)
    try:
        application("fund_supervision").create_demo(c)  # two households paid
        url = "/funds/rural-housing-2024"
        for lang, note in (("en", "the first 1 only."), ("zh_CN", "本页只检查了 1 位受益人")):
            assert note not in c.http.get(url, params={"lang": lang}).text
            monkeypatch.setattr(applications, "MAX_LIST", 1)
            page = c.http.get(url, params={"lang": lang}).text
            assert note in page and "No alerts." not in page
            monkeypatch.setattr(applications, "MAX_LIST", 2)
            assert note.replace("1", "2") not in c.http.get(url, params={"lang": lang}).text
            monkeypatch.undo()
    finally:
        c.close()
