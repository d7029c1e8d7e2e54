"""The manufacturing application's console pages, as a buyer and a supplier read them in
both languages: purchase orders newest first, an order's bill of materials in yuan, its
supply tree, the tree's alerts (a late delivery as a duration, a rejection with its reason),
milestones and inspections; a search by order id; odd ids and cursors as 400/404 pages;
member-written text escaped. (A manufacturing buyer had no console page at all.)"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tianfu.apps.manufacturing import demo
from tianfu.apps.manufacturing.sdk import bom, document_hash
from tianfu.testing.appchain import AppChain

TAGS = re.compile(r"<[^>]+>")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ROOT = "org1/PO-BRK-0001"


def _text(html: str) -> str:
    return " ".join(TAGS.sub(" ", html.split("<main>", 1)[-1]).split())


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    c = AppChain(tmp_path_factory.mktemp("orders"))
    made = demo.create_demo(c)
    assert made["order"] == ROOT
    oem = c.identity("org1", "mf-tianfu-auto")
    tier1 = c.identity("org2", "mf-shu-brakes")
    due = int(time.time() * 1000) + 300
    items = bom(("rotor", 2, 12_345))
    assert c.call(
        oem, "manufacturing", "place_order", "org1/LATE-1", tier1.info.address, items, due, False
    ).ok
    assert c.call(tier1, "manufacturing", "accept_order", "org1/LATE-1").ok
    deadline = time.monotonic() + 30
    while int(time.time() * 1000) <= due + 5 and time.monotonic() < deadline:
        time.sleep(0.01)  # a block is dated by the previous block's commit: after the due time
    assert c.call(tier1, "manufacturing", "report_milestone", "org1/LATE-1", HOSTILE, HOSTILE).ok
    rc = c.call(tier1, "manufacturing", "deliver", "org1/LATE-1", document_hash("DN-1"))
    assert rc.ok, rc.error
    assert c.query("manufacturing", "order", "org1/LATE-1")["late"] is True
    yield c.http
    c.close()


def test_orders_list_and_an_order_in_both_languages(client: TestClient) -> None:
    en = _text(client.get("/orders", params={"lang": "en"}).text)
    assert "Purchase orders" in en and ROOT in en and "¥226,000.00" in en
    assert "mf-tianfu-auto" in en and "in production" in en and "delivered late" in en
    zh = _text(client.get("/orders", params={"lang": "zh_CN"}).text)
    assert "采购订单" in zh and "生产中" in zh and "已拒绝" in zh and "交付期限" in zh
    assert "in_production" not in zh and "rejected" not in zh and "办理期限" not in zh

    en = _text(client.get(f"/orders/{ROOT}", params={"lang": "en"}).text)
    assert "Bill of materials" in en and "brake-disc 400 ¥180.00 ¥72,000.00" in en
    assert "Settled ¥67,800.00" in en
    assert "friction coefficient below specification" in en  # the rejection's reason
    assert "org2/PO-BRK-0001-A" in en and "org2/PO-BRK-0001-B" in en  # the supply tree
    zh = _text(client.get(f"/orders/{ROOT}", params={"lang": "zh_CN"}).text)
    assert "物料清单" in zh and "供应树预警" in zh and "供应树" in zh
    sub = _text(client.get("/orders/org2/PO-BRK-0001-A", params={"lang": "zh_CN"}).text)
    assert "上级订单 org1/PO-BRK-0001" in sub and "GB/T 34422" in sub  # its inspection's note


def test_a_late_delivery_is_a_duration_and_member_text_is_escaped(client: TestClient) -> None:
    r = client.get("/orders/org1/LATE-1", params={"lang": "zh_CN"})
    assert r.status_code == 200
    assert "<script>alert" not in r.text and "onerror=alert(1)>" not in r.text
    assert "&lt;script&gt;" in r.text
    text = _text(r.text)
    assert "逾期交付" in text and "超过交付期限" in text and " ms after due" not in text
    assert "¥246.90" in text  # 2 x 123.45 yuan


def test_every_link_of_the_order_pages_answers(client: TestClient) -> None:
    for url in ("/orders", f"/orders/{ROOT}", "/orders/org1/LATE-1"):
        for lang in ("zh_CN", "en"):
            html = client.get(url, params={"lang": lang}).text
            links = set(re.findall(r'href="(/orders[^"]*)"', html))
            assert links, url
            for link in links:
                assert client.get(link.replace("&amp;", "&")).status_code == 200, link


def test_search_finds_an_order_by_id(client: TestClient) -> None:
    r = client.get("/search", params={"q": ROOT}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/orders/org1/PO-BRK-0001"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/orders/PO-BRK-0001", 400),
        ("/orders/org1/a/b", 400),
        ("/orders/", 400),
        ("/orders/org1/" + "x" * 65, 400),
        ("/orders/org9/NOPE", 404),
        (f"/orders/{ROOT}?tree=0", 400),
        (f"/orders/{ROOT}?alerts=x", 400),
        (f"/orders/{ROOT}?ms=99999999999999999999", 400),
        (f"/orders/{ROOT}?insp=999999", 200),
        ("/orders?before=abc", 400),
        ("/orders?before=99999999", 200),
    ],
)
def test_odd_ids_and_cursors_are_clear_pages(client: TestClient, url: str, status: int) -> None:
    r = client.get(url + ("&" if "?" in url else "?") + "lang=en")
    assert r.status_code == status, (url, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")


def test_an_orders_items_on_its_transaction_page_are_read_not_json(client: TestClient) -> None:
    """A list of records in a call's arguments (a bill of materials) is shown record by
    record, amounts in yuan, field names in the reader's language (it was JSON in fen)."""
    block = re.search(r'href="(/blocks/[0-9]+)"', client.get("/orders/org1/LATE-1").text)
    assert block is not None  # the order's page links the block that placed it
    html = client.get(block[1]).text
    url = re.search(r'href="(/txs/[0-9a-f]{64})"', html)
    assert url is not None
    for lang, said in (
        ("zh_CN", "零件 rotor 数量 2 单价 ¥123.45"),
        ("en", "part rotor quantity 2 unit price ¥123.45"),
    ):
        page = client.get(url[1], params={"lang": lang}).text
        args = page.split('id="tx-args">', 1)[1].split("<details>", 1)[0]
        text = " ".join(TAGS.sub(" ", args).split())
        assert said in text, text
        assert "unit_price_fen" not in text and "12345" not in text
