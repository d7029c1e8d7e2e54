"""The console answers what browsers and link checkers send, and says what it shows plainly.

- A malformed cursor of a key-paged list (a trace's steps, a fund's payments, a work's
  history) is a 400 page, as documented, not a 200 page listing from an arbitrary key.
- HEAD on a page is answered as GET without a body (it was 405); on an unknown page, as the
  404 page without a body.
- A control or invisible character of the request (a NUL in a path, a bidirectional
  override) is never echoed into an error page as itself.
- A fund's refused attempts read as sentences in English ("Refused disburse of ..." before).
- A transaction's arguments are labelled per contract where the meaning differs: a
  manufacturing order's `due_ms` is its delivery due time (交付期限), not a city case's
  handling deadline (办理期限).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tianfu.apps.registry import APPLICATIONS
from tianfu.testing.appchain import AppChain
from tianfu.web.render import NAV

HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("requests"))
    for app in APPLICATIONS:
        if app.name in ("traceability", "fund_supervision", "manufacturing", "ip_rights"):
            app.create_demo(c)
    yield c
    c.close()


@pytest.fixture(scope="module")
def client(chain: AppChain) -> TestClient:
    return chain.http


def _first(client: TestClient, listing: str, pattern: str) -> str:
    found = re.search(pattern, client.get(listing, params={"lang": "en"}).text)
    assert found, listing
    return found[1]


@pytest.fixture(scope="module")
def pages(client: TestClient) -> dict[str, str]:
    """A batch, a fund and a work of the demos (their pages have key-paged lists)."""
    return {
        "trace": "/trace/" + _first(client, "/trace", r'href="/trace/([^"?/]+)"'),
        "fund": "/funds/" + _first(client, "/funds", r'href="/funds/([^"?/]+)"'),
        "work": "/works/" + _first(client, "/works", r'href="/works/([^"?/]+)"'),
    }


@pytest.mark.parametrize(
    ("page", "param", "bad"),
    [
        ("trace", "before", "zz"),
        ("trace", "before", "0000000x"),
        ("trace", "before", "3"),  # not a step number (8 digits)
        ("fund", "before", "zz"),
        ("fund", "before", "org1:" + "g" * 64),
        ("work", "history", "zz"),
        ("work", "history", "12a"),
    ],
)
@pytest.mark.parametrize(("lang", "text"), [("en", "Not a page of this list"), ("zh_CN", "不是")])
def test_a_malformed_key_cursor_is_a_400_page(
    client: TestClient, pages: dict[str, str], page: str, param: str, bad: str, lang: str, text: str
) -> None:
    r = client.get(pages[page], params={param: bad, "lang": lang})
    assert r.status_code == 400, (page, bad, r.status_code)
    assert text in r.text and r.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("page", "param", "good"),
    [
        ("trace", "before", "00000003"),
        ("fund", "before", "org1:" + "a" * 64),
        ("fund", "before", "b" * 64),  # a beneficiary of a deployment before (no org)
        ("work", "history", "000002"),
    ],
)
def test_a_well_formed_key_cursor_is_a_page(
    client: TestClient, pages: dict[str, str], page: str, param: str, good: str
) -> None:
    r = client.get(pages[page], params={param: good, "lang": "en"})
    assert r.status_code == 200, (page, good, r.status_code, r.text[:300])


def test_head_on_every_page_is_answered_as_get_without_a_body(
    client: TestClient, pages: dict[str, str]
) -> None:
    for path in [p for p, _ in NAV] + ["/redoc"] + list(pages.values()):
        got, head = client.get(path, headers=HTML), client.head(path, headers=HTML)
        assert got.status_code == 200, path
        assert head.status_code == 200, (path, head.status_code)
        assert head.content == b"", path
        for name in ("content-type", "content-security-policy", "content-length"):
            assert head.headers[name] == got.headers[name], (path, name)
    icon, head = client.get("/favicon.ico"), client.head("/favicon.ico")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == icon.headers["content-length"]
    r = client.head("/no-such-page", headers=HTML)
    assert r.status_code == 404 and r.content == b""
    assert r.headers["content-type"].startswith("text/html")
    r = client.head(pages["trace"], params={"before": "zz"}, headers=HTML)
    assert r.status_code == 400 and r.content == b""


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\u202e", "\u200b", "\x85"])
def test_a_control_character_of_the_request_is_never_echoed(client: TestClient, char: str) -> None:
    for path, status in (
        (f"/nothing{quote(char)}here?lang=en", 404),  # not a route
        (f"/trace/X{quote(char)}Y?lang=en", 400),  # a malformed id
        (f"/funds?lang=en&before={quote(char)}", 400),  # a malformed cursor
    ):
        r = client.get(path, headers=HTML)
        assert r.status_code == status, (path, r.status_code)
        message = re.search(r'<p class="error">(.*?)</p>', r.text, re.S)
        assert message and char not in message[1], path
        assert quote(char) in message[1], path  # shown as its percent-encoding
        links = re.findall(r'(?:href|src)="([^"]*)"', r.text)
        assert links and not [u for u in links if char in u], path
        assert char not in r.text, path


def test_a_funds_refused_attempt_reads_as_a_sentence(
    client: TestClient, pages: dict[str, str]
) -> None:
    en = client.get(pages["fund"], params={"lang": "en"}).text
    assert "Refused disburse" not in en and "Refused allocate" not in en
    assert re.search(r"Disbursement of ¥[0-9,.]+ refused: ", en), en
    zh = client.get(pages["fund"], params={"lang": "zh_CN"}).text
    assert re.search(r"拒绝拨付 ¥[0-9,.]+：", zh)


def test_an_orders_due_argument_is_its_delivery_due_time(
    chain: AppChain, client: TestClient
) -> None:
    store = chain.ledger.store
    placed = [
        t.hash.hex()
        for h in range(1, chain.ledger.height + 1)
        for t in store.load_block(h).txs
        if t.body.contract == "manufacturing" and t.body.method == "place_order"
    ]
    assert placed
    tx = placed[0]
    zh = client.get(f"/txs/{tx}", params={"lang": "zh_CN"}).text
    assert 'title="place_order"' in zh
    assert '<dt title="due_ms">交付期限</dt>' in zh, zh
    assert "办理期限" not in zh
    en = client.get(f"/txs/{tx}", params={"lang": "en"}).text
    assert '<dt title="due_ms">delivery due</dt>' in en
