"""The console's long lists: paged newest first with stable cursor links, in both
languages, each page a bounded key-range read; malformed cursors are 400 pages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tianfu.apps import evidence, ip_rights
from tianfu.node.service import NodeService
from tianfu.testing.appchain import AppChain
from tianfu.web.data import PAGE_SIZE
from tianfu.web.explorer import TX_PAGE

WORKS = 2 * PAGE_SIZE + 7  # three pages
VERIFICATIONS = 12  # more than 9: numbered keys sort 1, 10, 11, 12, 2, ... by bytes
OLDER = re.compile(r'<a href="([^"]+)" rel="next">')
WORK_ROW = re.compile(r'<td><a href="/works/(W\d+)">')


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("pages"))
    c.deploy("ip_rights", ip_rights.source())
    c.deploy("evidence", evidence.source())
    creator = c.identity("org2", "prolific")
    c.grant(creator, "creator")
    works = [
        (creator, "ip_rights", "register_work", (f"{i:064x}", f"work {i}", ["a"], "music"))
        for i in range(WORKS)
    ]
    assert all(r.ok for r in c.call_many(works))
    lawyer = c.identity("org1", "depositor")
    c.grant(lawyer, "depositor")
    rc = c.call(lawyer, "evidence", "deposit", hashlib.sha256(b"f").hexdigest(), "t", {})
    assert rc.ok, rc.error
    courts = [c.identity("org3", "court"), c.identity("org4", "court")]
    for court in courts:
        c.grant(court, "court")
    verdicts = [  # an organisation records at most 10 verifications of a deposit
        (
            courts[(n - 1) // 10],
            "evidence",
            "record_verification",
            (rc.result, f"case-{n}", "verified", ""),
        )
        for n in range(1, VERIFICATIONS + 1)
    ]
    assert all(r.ok for r in c.call_many(verdicts))
    yield c
    c.close()


@pytest.fixture(scope="module")
def client(chain: AppChain) -> TestClient:
    return chain.http


def _in(url: str, lang: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}lang={lang}"


def _walk(client: TestClient, url: str, lang: str) -> list[list[str]]:
    """The work ids of every page reached from `url` by the "Older" links."""
    pages: list[list[str]] = []
    while url and len(pages) < 20:
        r = client.get(_in(url, lang))
        assert r.status_code == 200, r.text[:300]
        pages.append(WORK_ROW.findall(r.text))
        older = OLDER.search(r.text)
        url = older.group(1).replace("&amp;", "&") if older else ""
    return pages


@pytest.mark.parametrize(
    ("lang", "older", "newest"), [("en", "Older", "Newest"), ("zh_CN", "较早", "最新")]
)
def test_paging_reaches_every_record_once_newest_first(
    client: TestClient, lang: str, older: str, newest: str
) -> None:
    pages = _walk(client, "/works", lang)
    ids = [i for p in pages for i in p]
    assert ids == [f"W{n:06d}" for n in range(WORKS, 0, -1)]  # every one, newest first
    assert [len(p) for p in pages] == [PAGE_SIZE, PAGE_SIZE, WORKS - 2 * PAGE_SIZE]
    first = client.get("/works", params={"lang": lang}).text
    assert f'rel="next">{older}</a>' in first and newest not in first
    link = OLDER.search(first)
    assert link is not None
    second = client.get(_in(link.group(1), lang)).text
    assert f'<a href="/works">{newest}</a>' in second
    assert "Only the first" not in first and "仅列出前" not in first


def test_a_page_link_stays_the_same_page_while_the_chain_grows(tmp_path: Path) -> None:
    c = AppChain(tmp_path)
    try:
        c.deploy("ip_rights", ip_rights.source())
        creator = c.identity("org2", "growing")
        c.grant(creator, "creator")

        def register(first: int, count: int) -> None:
            calls = [
                (creator, "ip_rights", "register_work", (f"{i:064x}", f"w{i}", ["a"], "music"))
                for i in range(first, first + count)
            ]
            assert all(r.ok for r in c.call_many(calls))

        register(0, PAGE_SIZE + 10)
        link = OLDER.search(c.http.get("/works").text)
        assert link is not None
        before = WORK_ROW.findall(c.http.get(link.group(1)).text)
        register(PAGE_SIZE + 10, 30)
        assert WORK_ROW.findall(c.http.get(link.group(1)).text) == before
        assert WORK_ROW.findall(c.http.get("/works").text)[0] == f"W{PAGE_SIZE + 40:06d}"
    finally:
        c.close()


def test_a_page_is_one_bounded_index_read(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list page reads `PAGE_SIZE` + 1 entries by key range, or the events of at most
    `PAGE_SIZE` + 1 blocks through the event index (one block per read); no page scans the
    records, nor the enrolled identities for their names."""
    limits: list[int] = []
    blocks: dict[str, int] = {}
    ranges, events = NodeService.scan_state_before, NodeService.events_before
    url = ""

    def range_spy(self: NodeService, contract: str, prefix: str, before: str | None, n: int):  # type: ignore[no-untyped-def]
        limits.append(n)
        return ranges(self, contract, prefix, before, n)

    def events_spy(
        self: NodeService, contract: str, names: tuple[str, ...], before: int | None, n: int
    ):  # type: ignore[no-untyped-def]
        assert n == 1
        found = events(self, contract, names, before, n)
        blocks[url] = blocks.get(url, 0) + len({h for h, _i, _e in found})
        return found

    def no_scan(*_a: object) -> None:
        raise AssertionError("a list page scanned its records")

    monkeypatch.setattr(NodeService, "scan_state_before", range_spy)
    monkeypatch.setattr(NodeService, "events_before", events_spy)
    monkeypatch.setattr(NodeService, "scan_state", no_scan)
    urls = ["/works", "/trace", "/receivables", "/proposals", "/funds", "/evidence/EV000001"]
    urls += ["/works/W000001", "/", "/blocks", "/blocks/3", "/contracts", "/validators"]
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert limits == [PAGE_SIZE + 1]  # a work's history; funds, deposits: no list read
    assert set(blocks) == {"/works", "/trace", "/receivables", "/proposals"}
    assert all(n <= PAGE_SIZE + 1 for n in blocks.values()), blocks


def test_a_page_decodes_only_the_blocks_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The newest block holds more creations than a page: the first page reads that block
    alone (it read the events of `PAGE_SIZE` + 1 blocks, receipts of up to 32 MiB each,
    whatever the page needed)."""
    c = AppChain(tmp_path)
    try:
        c.deploy("ip_rights", ip_rights.source())
        creator = c.identity("org2", "busy")
        c.grant(creator, "creator")
        for i in range(PAGE_SIZE + 5):  # one work per block
            assert c.call(
                creator, "ip_rights", "register_work", f"{i:064x}", "w", ["a"], "music"
            ).ok
        calls = [
            (creator, "ip_rights", "register_work", (f"{i:064x}", f"w{i}", ["a"], "music"))
            for i in range(PAGE_SIZE + 5, 2 * PAGE_SIZE + 15)
        ]
        assert all(r.ok for r in c.call_many(calls))  # then PAGE_SIZE + 10 in one block
        read: list[int] = []
        events = NodeService.events_before

        def spy(self: NodeService, *args: object):  # type: ignore[no-untyped-def]
            found = events(self, *args)  # type: ignore[arg-type]
            read.extend(sorted({h for h, _i, _e in found}))
            return found

        monkeypatch.setattr(NodeService, "events_before", spy)
        first = c.http.get("/works").text
        assert read == [c.ledger.height]
        assert WORK_ROW.findall(first)[0] == f"W{2 * PAGE_SIZE + 15:06d}"
        link = OLDER.search(first)
        assert link is not None
        read.clear()
        second = WORK_ROW.findall(c.http.get(link.group(1).replace("&amp;", "&")).text)
        assert second[:10] == [f"W{n:06d}" for n in range(PAGE_SIZE + 15, PAGE_SIZE + 5, -1)]
        assert second[10] == f"W{PAGE_SIZE + 5:06d}" and len(second) == PAGE_SIZE
        assert len(read) == PAGE_SIZE - 10 + 1 + 1
    finally:
        c.close()


def test_court_verifications_are_listed_newest_first(chain: AppChain, client: TestClient) -> None:
    """Numbered records (att:<id>:<n>, cv:<id>:<n>) are listed by number, not by the byte
    order of their keys (which puts 10 before 2)."""
    dep = f"EV{chain.query('evidence', 'count'):06d}"
    text = client.get(f"/evidence/{dep}", params={"lang": "en"}).text
    cases = [int(n) for n in re.findall(r"case-(\d+)", text)]
    assert cases == list(range(VERIFICATIONS, 0, -1))


@pytest.mark.parametrize(
    "url",
    [
        "/works?before=" + "1" * 300,
        "/works?before=W000001",
        "/proposals?before=12-x",
        "/funds?before=abc",
        "/funds?before=%C2%B2",  # "²": a digit to str.isdigit, not to int()
        "/works/W000001?licences=-1",
        "/evidence/EV000001?cv=1e3",
        "/blocks?before=%C2%B2",
        "/blocks/%C2%B2",
        "/funds/f?idle_days=%C2%B2",
    ],
)
@pytest.mark.parametrize(("lang", "text"), [("en", "Not a"), ("zh_CN", "不是")])
def test_a_malformed_cursor_or_number_is_a_400_page(
    client: TestClient, url: str, lang: str, text: str
) -> None:
    r = client.get(_in(url, lang))
    assert r.status_code == 400, (url, r.status_code, r.text[:200])
    assert text in r.text and r.headers["content-type"].startswith("text/html")


def test_a_blocks_transactions_are_paged_by_position(chain: AppChain, client: TestClient) -> None:
    """A block holds up to `max_block_txs` (5,000) transactions: its page lists them
    `TX_PAGE` at a time, each page linked by its first position."""
    height = max(
        range(1, chain.ledger.height + 1),
        key=lambda h: chain.ledger.store.load_block(h).header.tx_count,
    )
    count = chain.ledger.store.load_block(height).header.tx_count
    assert count > TX_PAGE
    first = client.get(f"/blocks/{height}?lang=en").text
    positions = [int(i) for i in re.findall(r"<tr><td>(\d+)</td><td><a class=\"hex\"", first)]
    assert positions == list(range(TX_PAGE))
    link = OLDER.search(first)
    assert link is not None and link.group(1) == f"/blocks/{height}?txs={TX_PAGE}"
    second = client.get(link.group(1)).text
    positions = [int(i) for i in re.findall(r"<tr><td>(\d+)</td><td><a class=\"hex\"", second)]
    assert positions == list(range(TX_PAGE, min(count, 2 * TX_PAGE)))
    assert f'<a href="/blocks/{height}">' in second


def test_records_created_in_blocks_of_any_size_are_each_listed_once(tmp_path: Path) -> None:
    """Pages of records found by their creation events cut through and across blocks."""
    c = AppChain(tmp_path)
    try:
        c.deploy("ip_rights", ip_rights.source())
        creator = c.identity("org2", "batches")
        c.grant(creator, "creator")
        n = 0
        for size in (3, PAGE_SIZE + 10, 1, PAGE_SIZE - 1, 1, 7):
            calls = [
                (creator, "ip_rights", "register_work", (f"{i:064x}", f"w{i}", ["a"], "music"))
                for i in range(n, n + size)
            ]
            assert all(r.ok for r in c.call_many(calls))
            n += size
        pages = _walk(c.http, "/works", "zh_CN")
        assert [i for p in pages for i in p] == [f"W{k:06d}" for k in range(n, 0, -1)]
        assert all(len(p) == PAGE_SIZE for p in pages[:-1])
    finally:
        c.close()


def test_proposals_are_listed_newest_first(chain: AppChain, client: TestClient) -> None:
    total = sum(1 for _ in chain.ledger.store.iter_latest(b"governance/proposal/"))
    text = client.get("/proposals?lang=en").text
    heights = [int(h) for h in re.findall(r"<td>(\d+)</td></tr>", text)]
    assert heights == sorted(heights, reverse=True) and len(heights) == min(total, PAGE_SIZE)


ORG_ROW = re.compile(r"<tr><td>(org\d)</td><td>[^<]*</td><td>[^<]*</td><td>(\d+)(\+?)</td></tr>")


def test_identity_counts_are_exact_or_marked_as_lower_bounds(
    chain: AppChain, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The organisations page counts enrolments with a bounded scan: under the bound the
    counts are exact; past it the page says so (in both languages) and marks each count
    as a lower bound instead of showing a truncated count as exact."""
    from tianfu.codec import decode_value
    from tianfu.web import data

    enrolled = [decode_value(v) for _, v in chain.ledger.store.iter_latest(b"governance/cert/")]
    total = len(enrolled)
    assert total >= 4
    exact: dict[str, int] = {}
    for v in enrolled:
        exact[v["org"]] = exact.get(v["org"], 0) + 1
    text = client.get("/orgs?lang=en").text
    shown = {o: (int(n), plus) for o, n, plus in ORG_ROW.findall(text)}
    assert shown == {o: (exact.get(o, 0), "") for o in shown} and set(exact) <= set(shown)
    assert "identities are enrolled" not in text
    monkeypatch.setattr(data, "MAX_IDENTITIES", total)  # the bound reached, not passed
    assert "identities are enrolled" not in client.get("/orgs?lang=en").text
    monkeypatch.setattr(data, "MAX_IDENTITIES", total - 1)
    en = client.get("/orgs?lang=en").text
    rows = ORG_ROW.findall(en)
    assert rows and all(plus == "+" for _, _, plus in rows)
    assert sum(int(n) for _, n, _ in rows) <= total - 1
    assert f"More than {total - 1} identities are enrolled ({total - 1}+)" in en
    zh = client.get("/orgs?lang=zh_CN").text
    assert f"已登记的身份超过 {total - 1} 个（{total - 1}+）" in zh


def test_the_organisations_page_reads_a_bounded_number_of_enrolments(
    chain: AppChain, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page is one read of the node's read budget, and no read may hold its slot for
    long: it scanned up to 100,001 enrolments per visit (2.4-3.7 s with 100,000 on a loaded
    machine, every other read waiting). It scans at most 5,001 now (0.04 s)."""
    from tianfu.web import data

    asked: list[int] = []
    scan = chain.service.scan_state

    def scan_state(contract: str, prefix: str, limit: int) -> list[tuple[str, object]]:
        asked.append(limit)
        return scan(contract, prefix, limit)

    monkeypatch.setattr(chain.service, "scan_state", scan_state)
    assert client.get("/orgs?lang=en").status_code == 200
    assert asked and max(asked) <= data.MAX_IDENTITIES + 1 <= 5_001
