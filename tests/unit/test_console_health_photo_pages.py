"""The health and photo sharing applications' console pages, on the demo `tianfu up --demo`
loads: who holds which medical record and prescription, who was granted access and the
access log (never the private content nor its keys); the photographs, their authorship proof
(the registration, a certificate that verifies against the genesis), near copies and
infringement reports. Both languages, linked from the navigation, logs paged through the
contracts' page views, odd input a readable 4xx page. There were no such pages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tianfu.apps.health.demo import LAB_RESULT
from tianfu.apps.photo_sharing.certificate import verify_certificate
from tianfu.apps.registry import APPLICATIONS
from tianfu.codec import decode
from tianfu.testing.appchain import AppChain
from tianfu.types.genesis import Genesis
from tianfu.web import app_pages
from tianfu.web.data import ConsoleData
from tianfu.web.render import NAV

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("demo-health-photo"))
    for app in APPLICATIONS:  # what tianfu up --demo creates
        app.create_demo(c)
    yield c
    c.close()


def get(chain: AppChain, url: str, lang: str = "zh_CN", **query: str) -> tuple[int, str]:
    r = chain.http.get(url, params={"lang": lang, **query}, headers=HTML)
    return r.status_code, r.text


def name_of(chain: AppChain, address: str) -> str:
    name = ConsoleData(chain.service).name_of(address)
    assert name is not None, address
    return name.name


def test_the_navigation_links_the_health_and_photo_pages(chain: AppChain) -> None:
    assert {"/medical", "/photos"} <= {url for url, _ in NAV}
    _, zh = get(chain, "/")
    assert '<a href="/medical">医疗健康</a>' in zh and '<a href="/photos">照片</a>' in zh
    _, en = get(chain, "/", "en")
    assert '<a href="/medical">Health records</a>' in en


def test_the_health_list_shows_who_holds_each_record_and_prescription(chain: AppChain) -> None:
    rec = chain.service.read_state("health", "rec:REC000001", None, False).value
    rx = chain.service.read_state("health", "rx:RX000001", None, False).value
    status, zh = get(chain, "/medical")
    assert status == 200
    assert '<a href="/medical/records/REC000001">REC000001</a>' in zh
    assert '<a href="/medical/prescriptions/RX000001">RX000001</a>' in zh
    assert f"<bdi>{name_of(chain, rec['patient'])}</bdi>" in zh  # the patient by name
    assert f"<bdi>{name_of(chain, rx['doctor'])}</bdi>" in zh
    assert '<span title="lab">检验</span>' in zh and '<span title="dispensed">已配药</span>' in zh
    _, en = get(chain, "/medical", "en")
    assert "Medical records and prescriptions" in en and '<span title="lab">lab</span>' in en


def test_a_record_page_shows_access_and_its_log_never_the_content(chain: AppChain) -> None:
    rec = chain.service.read_state("health", "rec:REC000001", None, False).value
    pd = chain.service.read_state("health", f"pd:{rec['versions'][0]}", None, False).value
    status, zh = get(chain, "/medical/records/REC000001")
    assert status == 200
    assert "<dt>已授权访问</dt><dd>org1, org2</dd>" in zh
    assert "<dt>访问记录</dt>" not in zh and "<h2>访问记录</h2>" in zh
    assert "second opinion: no need to repeat the blood count" in zh  # the reader's purpose
    # neither the content, nor its hash, nor a reader's wrapped key
    assert LAB_RESULT.decode().splitlines()[0] not in zh
    assert rec["versions"][0] not in zh
    wrapped = [v.hex() for v in pd["readers"].values() if isinstance(v, bytes)]
    assert wrapped and all(w[:16] not in zh for w in wrapped)
    _, en = get(chain, "/medical/records/REC000001", "en")
    assert "<h2>Access log</h2>" in en and "<dt>Granted access</dt><dd>org1, org2</dd>" in en


def test_a_prescription_page_shows_its_course(chain: AppChain) -> None:
    status, zh = get(chain, "/medical/prescriptions/RX000001")
    assert status == 200
    assert '<span class="money" title="3560 分">¥35.60</span>' in zh  # reimbursed
    assert "dispensing" in zh and "reimbursement claim" in zh  # the access log's purposes
    assert "<dt>已出示给</dt><dd>org3</dd>" in zh


def test_the_access_log_is_read_a_page_at_a_time(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple] = []
    real = ConsoleData.view

    def view(self: ConsoleData, contract: str, method: str, *args: object) -> object:
        calls.append((contract, method, *args))
        return real(self, contract, method, *args)

    monkeypatch.setattr(ConsoleData, "view", view)
    monkeypatch.setattr(app_pages, "LOG_PAGE", 1)
    _, first = get(chain, "/medical/prescriptions/RX000001")
    assert ("health", "access_log_page", "RX000001", 1, 1) in calls
    assert not any(c[1] == "access_log" for c in calls)  # never the whole log
    assert "dispensing" in first and "reimbursement claim" not in first
    assert 'href="/medical/prescriptions/RX000001?log=2" rel="next"' in first
    _, second = get(chain, "/medical/prescriptions/RX000001", log="2")
    assert "reimbursement claim" in second and "dispensing" not in second
    assert 'href="/medical/prescriptions/RX000001"' in second  # back to the first page


def test_the_photo_pages_show_the_works_with_their_proof_and_reports(chain: AppChain) -> None:
    ph = chain.service.read_state("photo_sharing", "photo:PH000001", None, False).value
    status, zh = get(chain, "/photos")
    assert status == 200
    assert '<a href="/photos/PH000001">PH000001</a>' in zh
    assert f"<bdi>{name_of(chain, ph['author'])}</bdi>" in zh
    assert '<span title="cc-by-nc">知识共享署名-非商业性使用</span>' in zh
    status, page = get(chain, "/photos/PH000001")
    assert status == 200
    assert f'<a href="/txs/{ph["tx"]}">登记交易</a>' in page
    assert 'href="/photos/PH000001/certificate.json"' in page
    assert '<a href="/photos/PH000002">PH000002</a>' in page  # the near copy
    assert "retouched copy of my photo" in page and "未答复" in page  # the report
    _, en = get(chain, "/photos/PH000002", "en")
    assert "Proof of authorship" in en and "earlier than this one" in en
    assert "Infringement reports" in en and "not answered" in en


def test_the_authorship_certificate_verifies_against_the_genesis(chain: AppChain) -> None:
    r = chain.http.get("/photos/PH000001/certificate.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    genesis = decode(chain.service.genesis(), Genesis)
    verified = verify_certificate(r.json(), None, genesis)
    assert verified.title == "Tianfu skyline at dusk"


@pytest.mark.parametrize(
    ("url", "query", "status", "message"),
    [
        ("/medical/records/x", {}, 400, "不是病历编号：x"),
        ("/medical/records/REC999999", {}, 404, "没有病历 REC999999"),
        ("/medical/prescriptions/REC000001", {}, 400, "不是处方编号"),
        ("/medical/prescriptions/RX999999", {}, 404, "没有处方 RX999999"),
        ("/medical/records/REC000001", {"log": "0"}, 400, "不是此列表的页"),
        ("/medical/records/REC000001", {"log": "abc"}, 400, "不是此列表的页"),
        ("/medical/records/REC000001", {"log": "9" * 40}, 400, "不是此列表的页"),
        ("/medical", {"before": "x"}, 400, "不是此列表的页"),
        ("/medical", {"rx": "1-"}, 400, "不是此列表的页"),
        ("/photos", {"before": "zz"}, 400, "不是此列表的页"),
        ("/photos/PH000009", {}, 404, "没有照片 PH000009"),
        ("/photos/" + "P" * 300, {}, 400, "不是照片编号"),
        ("/photos/PH000001", {"reports": "-1"}, 400, "不是此列表的页"),
        ("/photos/PH000001", {"flags": "1.5"}, 400, "不是此列表的页"),
        ("/photos/PH000009/certificate.json", {}, 404, "没有照片 PH000009"),
    ],
)
def test_odd_input_is_a_readable_4xx_page(
    chain: AppChain, url: str, query: dict[str, str], status: int, message: str
) -> None:
    got, text = get(chain, url, **query)
    assert got == status, text[-500:]
    assert message in text and "<!doctype html>" in text


def test_a_page_past_the_end_of_a_log_is_empty_not_an_error(chain: AppChain) -> None:
    for url, param in (
        ("/medical/records/REC000001", "log"),
        ("/photos/PH000001", "reports"),
        ("/photos/PH000001", "flags"),
    ):
        status, text = get(chain, url, **{param: "99999999999"})
        assert status == 200, (url, param)
        assert re.search(rf'href="{url}"', text), (url, param)  # back to the first page


def test_the_search_box_finds_records_prescriptions_and_photographs(chain: AppChain) -> None:
    for q, url in (
        ("REC000001", "/medical/records/REC000001"),
        ("RX000001", "/medical/prescriptions/RX000001"),
        ("PH000002", "/photos/PH000002"),
    ):
        r = chain.http.get("/search", params={"q": q}, headers=HTML, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == url, q
