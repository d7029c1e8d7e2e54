"""The console read as someone who does not write code: names instead of hex, amounts and
dates instead of raw numbers, words in the reader's language, no broken links, and an
explanation on empty or unusual chain states."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tianfu.apps import ip_rights
from tianfu.apps.registry import NAMES, application
from tianfu.execution.contract_api import address_of
from tianfu.identity import OrgCA
from tianfu.testing.appchain import AppChain
from tianfu.web.render import CSP

HREF = re.compile(r'href="(/[^"]*)"')
SKIP = ("/v1/", "/docs", "/redoc", "/console/static/", "/evidence/")  # not pages, or downloads


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("audit"))
    for name in NAMES:
        application(name).create_demo(c)
    yield c
    c.close()


@pytest.fixture(scope="module")
def client(chain: AppChain) -> TestClient:
    return chain.http


def _get(client: TestClient, url: str, lang: str) -> str:
    r = client.get(f"{url}{'&' if '?' in url else '?'}lang={lang}")
    assert r.status_code == 200, (url, r.status_code)
    return r.text


def test_the_block_list_names_each_proposer(client: TestClient) -> None:
    text = _get(client, "/blocks", "en")
    rows = re.findall(r"<tr><td><a href=\"/blocks/\d+\">.*?</tr>", text)
    assert len(rows) == 20
    assert all('node0 <span class="org">org1</span>' in row for row in rows)


def test_the_contract_list_shows_the_height_each_was_deployed_at(
    chain: AppChain, client: TestClient
) -> None:
    record = chain.query("governance", "get_contract", "evidence")
    height = record["activated_height"]
    text = _get(client, "/contracts", "zh_CN")
    row = re.search(r'<tr><td><a href="/contracts/evidence">.*?</tr>', text)
    assert row is not None and f'<a href="/blocks/{height}">{height}</a>' in row.group(0)


@pytest.mark.parametrize(("lang", "text"), [("en", "Native contract"), ("zh_CN", "原生合约")])
def test_a_native_contract_has_a_page(client: TestClient, lang: str, text: str) -> None:
    """Transactions calling governance link to /contracts/governance (it was a 404)."""
    assert text in _get(client, "/contracts/governance", lang)


def test_no_link_of_the_console_is_broken(chain: AppChain, client: TestClient) -> None:
    """Every console link on the pages, and on the pages they link to, opens a page."""
    tx_height = next(
        h for h in range(chain.ledger.height, 0, -1) if chain.ledger.store.load_block(h).txs
    )
    governance_tx = next(
        t.hash.hex()
        for h in range(1, chain.ledger.height + 1)
        for t in chain.ledger.store.load_block(h).txs
        if t.body.contract == "governance"
    )
    start = ["/", "/blocks", f"/blocks/{tx_height}", f"/txs/{governance_tx}", "/contracts"]
    start += ["/orgs", "/validators", "/proposals", "/trace", "/trace/LJ-TIN-001", "/funds"]
    start += ["/funds/rural-housing-2024", "/receivables", "/receivables/RCV-1", "/works"]
    start += ["/works/W000001", "/evidence/EV000001"]
    seen: set[str] = set()
    frontier = start
    for _depth in range(2):
        found: list[str] = []
        for url in frontier:
            if url in seen or len(seen) > 400:
                continue
            seen.add(url)
            r = client.get(url, headers={"Accept": "text/html"})
            assert r.status_code == 200, (url, r.status_code)
            found += [h.replace("&amp;", "&") for h in HREF.findall(r.text)]
        frontier = [u for u in found if not u.startswith(SKIP) and "lang=" not in u]
    assert "/contracts/governance" in seen


def test_court_results_are_words_of_the_readers_language(client: TestClient) -> None:
    zh = _get(client, "/evidence/EV000001", "zh_CN")
    assert "已核验" in zh and "· verified" not in zh


def test_record_data_shows_amounts_dates_and_names(client: TestClient) -> None:
    """A trace step's, a deposit's and an event's data show yuan (not fen), and the
    enrolled name of an address (not its hex)."""
    trace = _get(client, "/trace/LJ-TIN-001", "zh_CN")
    assert "¥688.00" in trace and "68800</" not in trace and '"price_fen":' not in trace
    handover = re.search(r'<dt title="to">[^<]*</dt><dd>(.*?)</dd>', trace)
    assert handover is not None and "trace-shop" in handover.group(1)
    deposit = _get(client, "/evidence/EV000001", "en")
    assert '<dt title="pages">pages</dt><dd>12</dd>' in deposit


def test_an_events_addresses_are_shown_by_name(chain: AppChain, client: TestClient) -> None:
    tx = next(
        t.hash.hex()
        for h in range(chain.ledger.height, 0, -1)
        for t in chain.ledger.store.load_block(h).txs
        if t.body.method == "report_infringement"
    )
    text = _get(client, f"/txs/{tx}", "en")
    author = re.search(r'<dt title="original_author">[^<]*</dt><dd>(.*?)</dd>', text)
    assert author is not None and "ph-photographer" in author.group(1)


def test_nothing_is_broken_on_a_chain_without_records(tmp_path: Path) -> None:
    c = AppChain(tmp_path)
    try:
        for url in ("/", "/blocks", "/blocks/1", "/contracts", "/orgs", "/proposals"):
            assert c.http.get(url).status_code == 200, url
    finally:
        c.close()


@pytest.mark.parametrize(("lang", "text"), [("en", "Its log has the error"), ("zh_CN", "节点日志")])
def test_a_failing_page_shows_a_browser_the_consoles_500_page(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch, lang: str, text: str
) -> None:
    """Not the API's JSON, and no traceback; an API client still gets the JSON error."""

    def broken(*_a: object) -> None:
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr("tianfu.web.data.ConsoleData.status", broken)
    http = TestClient(chain.http.app, raise_server_exceptions=False)
    r = http.get(f"/?lang={lang}", headers={"Accept": "text/html"})
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert text in r.text and "secret" not in r.text and "Traceback" not in r.text
    assert r.headers["content-security-policy"] == CSP
    api = http.get("/", headers={"Accept": "application/json"})
    assert api.status_code == 500 and api.json() == {"error": "internal error"}


def test_application_lists_say_when_the_application_is_not_deployed(tmp_path: Path) -> None:
    c = AppChain(tmp_path)
    try:
        for url, contract in (("/trace", "traceability"), ("/works", "ip_rights")):
            zh = c.http.get(f"{url}?lang=zh_CN").text
            assert f"本链未部署此应用（没有名为 {contract} 的合约）" in zh, url
        c.deploy("ip_rights", ip_rights.source())
        assert "not deployed" not in c.http.get("/works?lang=en").text
    finally:
        c.close()


def test_a_refused_payment_says_why_in_the_readers_language(client: TestClient) -> None:
    """The contract's refusal reason is English; the page shows its code's translation."""
    zh = _get(client, "/funds/rural-housing-2024", "zh_CN")
    assert "收款方未在此登记" in zh
    assert ">被拒绝的拨付（¥35,000.00）：the recipient" not in zh
    assert 'title="the recipient is not a registered beneficiary"' in zh


def test_removed_organisations_and_right_to_left_names(tmp_path: Path) -> None:
    """An identity of a removed organisation is shown as not valid (it was 'valid'), and a
    right-to-left or emoji name is isolated from the dates and organisation beside it."""
    c = AppChain(tmp_path)
    try:
        c.deploy("ip_rights", ip_rights.source())
        creator = c.identity("org4", "مؤلف 🎵 长名字")
        c.grant(creator, "creator")
        assert c.call(creator, "ip_rights", "register_work", "ab" * 32, "عنوان", ["م"], "music").ok
        pid = c.call(c.admins["org1"], "governance", "propose_remove_org", "org4").result
        for org in ("org1", "org2", "org3"):
            assert c.call(c.admins[org], "governance", "approve", pid).ok
        removed = c.query("governance", "list_orgs")
        assert any(o["name"] == "org4" and o["status"] == "removed" for o in removed)
        account = c.http.get(f"/accounts/{creator.info.address}?lang=zh_CN").text
        status = re.search(r"<dt>状态</dt><dd>(.*?)</dd>", account)
        assert status is not None and "其所属机构已于高度" in status.group(1)
        assert "有效" not in status.group(1)
        work = c.http.get("/works/W000001?lang=en").text
        assert '<bdi>مؤلف 🎵 长名字</bdi> <span class="org"><bdi>org4</bdi></span>' in work
    finally:
        c.close()


def test_lists_name_products_and_owners(client: TestClient) -> None:
    """The batch list showed the product's id and the work list only the owner's
    organisation, although the product's name and the owner's name are on the chain."""
    trace = _get(client, "/trace", "zh_CN")
    row = re.search(r'<tr><td><a href="/trace/LJ-TIN-001">.*?</tr>', trace)
    assert row is not None and "Longjing 250 g gift tin" in row.group(0)
    works = _get(client, "/works", "en")
    row = re.search(r'<tr><td><a href="/works/W000001">.*?</tr>', works)
    assert row is not None and "ip-label" in row.group(0)


def test_an_account_shows_the_roles_it_holds(chain: AppChain, client: TestClient) -> None:
    """Roles are kept at roles/<address>, not in the enrolment record the page read."""
    tx = next(
        t
        for h in range(1, chain.ledger.height + 1)
        for t in chain.ledger.store.load_block(h).txs
        if t.body.contract == "evidence" and t.body.method == "deposit"
    )
    address = address_of(tx.body.scheme, tx.body.signer)
    text = _get(client, f"/accounts/{address}", "en")
    roles = re.search(r"<dt>Roles</dt><dd>(.*?)</dd>", text)
    assert roles is not None and "depositor" in roles.group(1)


def test_a_proposals_full_record_names_its_proposer(client: TestClient) -> None:
    page = _get(client, "/proposals", "en")
    pid = re.search(r'href="/proposals/([0-9a-f]{16})"', page)
    assert pid is not None
    text = _get(client, f"/proposals/{pid.group(1)}", "en")
    proposer = re.search(r'<dt title="proposer">[^<]*</dt><dd>(.*?)</dd>', text)
    assert proposer is not None and "-admin" in proposer.group(1)


def test_a_proposals_voters_are_organisations_not_hex(chain: AppChain, client: TestClient) -> None:
    """Votes are by organisation: the page showed each organisation's name as a hex value."""
    admin = chain.admin("org1")
    rc = chain.call(admin, "governance", "propose_set_power", "node0", 2)
    assert rc.ok, rc.error
    assert chain.call(admin, "governance", "approve", rc.result).ok
    text = _get(client, f"/proposals/{rc.result}", "en")
    assert '<td class="ok">approve</td><td><bdi>org1</bdi></td>' in text
    assert 'class="hex" title="org1"' not in text


def test_a_transactions_sender_is_isolated_like_every_name(
    chain: AppChain, client: TestClient
) -> None:
    """Names are wrapped in <bdi> so a right-to-left name does not reorder what is beside it;
    the transaction page's sender was not."""
    sender = chain.identity("org2", "مؤلف")
    rc = chain.call(sender, "governance", "get_identity", sender.info.address)
    assert rc.ok, rc.error
    block = chain.ledger.store.load_block(chain.ledger.height)
    assert block is not None
    text = _get(client, f"/txs/{block.txs[0].hash.hex()}", "en")
    assert '<bdi>مؤلف</bdi></a> <span class="org"><bdi>org2</bdi></span>' in text


def test_the_page_below_the_first_block_says_so(client: TestClient) -> None:
    """/blocks?before=1 said "No blocks yet." on a chain of hundreds of blocks."""
    zh = _get(client, "/blocks?before=1", "zh_CN")
    assert "高度 1 以下没有区块。" in zh and "暂无区块" not in zh


def test_a_proposal_says_what_it_proposes(chain: AppChain, client: TestClient) -> None:
    """An admission proposal showed its kind ("add_org") with no organisation in the list,
    and on its page the subject was only inside the raw record's JSON."""
    admin = chain.admin("org1")
    rc = chain.call(
        admin, "governance", "propose_add_org", "Org-<Five>", OrgCA.create("Org-<Five>").cert_der
    )
    assert rc.ok, rc.error
    pid = rc.result
    who = chain.identity("org2", "grantee-li")
    assert chain.call(who, "governance", "get_identity", who.info.address).ok  # registers
    rc = chain.call(admin, "governance", "propose_grant_role", who.info.address, "regulator")
    assert rc.ok, rc.error
    role_pid = rc.result
    for lang, kind in (("en", "add organisation"), ("zh_CN", "加入组织")):
        listed = _get(client, "/proposals", lang)
        row = re.search(rf'<tr><td><a href="/proposals/{pid}">.*?</tr>', listed, re.S)
        assert row is not None and "Org-&lt;Five&gt;" in row.group(0), row
        page = _get(client, f"/proposals/{pid}", lang)
        subject = re.search(r'<dd class="subject">(.*?)</dd>', page, re.S)
        assert subject is not None and "<bdi>Org-&lt;Five&gt;</bdi>" in subject.group(1)
        page = _get(client, f"/proposals/{role_pid}", lang)
        subject = re.search(r'<dd class="subject">(.*?)</dd>', page, re.S)
        assert subject is not None and "grantee-li" in subject.group(1), page
        assert f'href="/accounts/{who.info.address}"' in subject.group(1)
        assert kind in listed
        overview = _get(client, "/", lang)
        row = re.search(rf'<li><a href="/proposals/{pid}">.*?</li>', overview, re.S)
        assert row is not None and "<bdi>Org-&lt;Five&gt;</bdi>" in row.group(0), row
