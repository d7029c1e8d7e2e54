"""City governance in the console: a case handed over between departments, read by
someone who does not write code.

The console had no page for the application at all: a department, a dispatcher or the
supervising office could follow a case (who holds it, why it was handed over, what is due
and what happens next) only with `tianfu app city_governance history` in a terminal.
`/cases` lists the cases newest first and `/cases/{id}` shows one with its department by
name, its deadline as a date, every history entry (a handover as from → to, with its
reason) and a line saying what happens next, in Chinese and in English."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tianfu.apps.registry import application
from tianfu.testing.appchain import AppChain
from tianfu.web.render import CSP

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("cases"))
    application("city_governance").create_demo(c)
    yield c
    c.close()


def _get(chain: AppChain, url: str, lang: str, status: int = 200) -> str:
    r = chain.http.get(url, params={"lang": lang}, headers={"Accept": "text/html"})
    assert r.status_code == status, (url, r.status_code)
    assert r.headers["content-security-policy"] == CSP
    return r.text


def test_the_case_list_names_departments_and_statuses_in_both_languages(chain) -> None:
    zh = _get(chain, "/cases", "zh_CN")
    en = _get(chain, "/cases", "en")
    for page in (zh, en):
        assert '<a href="/cases/C-0001">C-0001</a>' in page
        assert '<a href="/cases/S-0001">S-0001</a>' in page
        assert (
            "水务局（Water Authority）" in page and "城市管理局（Urban Management Bureau）" in page
        )
        assert '<a href="/cases">' in page  # in the navigation of every page
    assert "已办结" in zh and "紧急" in zh and "城市治理案件" in zh
    assert "closed" in en and "urgent" in en and "City governance cases" in en
    head = re.search(r"<thead>.*?</thead>", en, re.S)
    assert head and not CJK.search(head.group(0))  # the labels; the data is bilingual
    for word in ("closed", "reopened", "road", "urgent"):  # the chain's words, translated
        assert f">{word}<" not in zh and f" {word}<" not in zh, word


def test_a_handed_over_case_shows_from_whom_to_whom_and_why(chain) -> None:
    zh = _get(chain, "/cases/C-0001", "zh_CN")
    en = _get(chain, "/cases/C-0001", "en")
    for page in (zh, en):
        assert re.search(
            r"<bdi>城市管理局（Urban Management Bureau）</bdi> <span class=\"org\"><bdi>org2</bdi>"
            r"</span> → <bdi>水务局（Water Authority）</bdi>",
            page,
        ), page
        assert "blocked storm drain: a water authority asset" in page
        assert "site visit: no pooling after rain" in page
    assert "移交" in zh and "办结" in zh and "已办结：督查部门已核查" in zh
    assert "Transferred" in en and "Closed: the supervising office checked the work" in en
    # the history entries' own fields are named in the reader's language
    assert '<dt title="reason">原因</dt>' in zh and '<dt title="note">意见</dt>' in zh


def test_a_case_sent_back_says_who_handles_it_next_and_by_when(chain) -> None:
    zh = _get(chain, "/cases/S-0001", "zh_CN")
    en = _get(chain, "/cases/S-0001", "en")
    case = chain.query("city_governance", "case", "S-0001")
    assert case["status"] == "reopened"
    nxt = re.search(r'<p class="hint" id="next-step">(.*?)</p>', en, re.S)
    dept = "城市管理局（Urban Management Bureau） (org2)"
    assert nxt and f"With {dept}: the department handles it next" in nxt.group(1)
    assert "退回重办" in zh and f"由{dept}承办" in zh
    assert "cover still rocks under load; replace the frame" in en


def test_malformed_and_unknown_cases_are_pages_in_the_readers_language(chain) -> None:
    assert "没有案件 NOPE" in _get(chain, "/cases/NOPE", "zh_CN", 404)
    assert "No case NOPE" in _get(chain, "/cases/NOPE", "en", 404)
    assert "Not a case id" in _get(chain, "/cases/a%20b", "en", 400)
    assert "Not a case id" not in _get(chain, "/cases/C-0001", "en")
    for bad in ("x", "-1", "0x10"):
        r = chain.http.get(f"/cases/C-0001?log={bad}&lang=en", headers={"Accept": "text/html"})
        assert r.status_code == 400, (bad, r.status_code)


def test_the_history_is_paged_by_its_numbers(chain) -> None:
    page = _get(chain, "/cases/C-0001", "en")
    case = chain.query("city_governance", "case", "C-0001")
    steps = re.findall(r"<li><strong>([^<]*)</strong>", page)
    assert len(steps) == case["log"] == 5
    assert steps == ["Closed", "Handled", "Transferred", "Dispatched", "Filed"]


def test_without_the_contract_the_list_says_it_is_not_deployed(tmp_path) -> None:
    c = AppChain(tmp_path)
    try:
        page = c.http.get("/cases", params={"lang": "en"}).text
        assert "This application is not deployed on this chain" in page
        assert "city_governance" in page
    finally:
        c.close()
