"""The web console: every page in both languages, language choice, escaping of hostile
chain data (stored XSS), security headers, bounded lists and read-only routes."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient

from tianfu.apps.registry import NAMES, application
from tianfu.apps.traceability.demo import cast as trace_cast
from tianfu.testing.appchain import AppChain
from tianfu.web import i18n, render
from tianfu.web.render import CSP

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ROOT = Path(__file__).resolve().parents[2]
SHOUT = """
def shout(ctx, text):
    ctx.emit("Shout", text=text, again=[text])
    ctx.put("last", text)
    return text
"""
SCRIPT_SRC = re.compile(r"<script\b([^>]*)>", re.I)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("console"))
    for name in NAMES:
        application(name).create_demo(c)
    # Hostile values in every kind of field the pages show.
    producer = trace_cast(c)["producer"]  # (the demo recalls LJ-TIN-004)
    c.call(producer, "traceability", "register_product", "evil-prod", HOSTILE, HOSTILE, "g")
    c.call(producer, "traceability", "create_batch", "EVIL-1", "evil-prod", 10, HOSTILE)
    c.call(producer, "traceability", "record_event", "EVIL-1", "harvest", {HOSTILE: HOSTILE})
    lawyer = c.identity("org1", "hostile-depositor")
    c.grant(lawyer, "depositor")
    fh = hashlib.sha256(b"hostile file").hexdigest()
    rc = c.call(lawyer, "evidence", "deposit", fh, HOSTILE, {"note": HOSTILE})
    assert rc.ok, rc.error
    creator = c.identity("org2", "hostile-creator")
    c.grant(creator, "creator")
    rc = c.call(creator, "ip_rights", "register_work", "ab" * 32, HOSTILE, [HOSTILE], "music")
    assert rc.ok, rc.error
    # a contract whose events, return value and state carry hostile text
    c.deploy("shout", SHOUT)
    rc = c.call(producer, "shout", "shout", HOSTILE)
    assert rc.ok and any(HOSTILE in str(e.data) for e in rc.events), rc
    yield c
    c.close()


@pytest.fixture(scope="module")
def client(chain: AppChain) -> TestClient:
    return chain.http


def _pages(chain: AppChain) -> list[str]:
    block = chain.ledger.store.load_block(chain.ledger.height)
    assert block is not None
    tx_height = next(
        h for h in range(chain.ledger.height, 0, -1) if chain.ledger.store.load_block(h).txs
    )
    tx = chain.ledger.store.load_block(tx_height).txs[0].hash.hex()
    hostile_work = chain.query("ip_rights", "work_by_hash", "ab" * 32)
    hostile_dep = chain.query("evidence", "count")
    last = chain.ledger.store.load_block(chain.ledger.height)
    assert last is not None
    return [
        f"/txs/{last.txs[0].hash.hex()}",  # hostile event data
        f"/blocks/{chain.ledger.height}",
        "/",
        "/blocks",
        "/blocks?before=10",
        f"/blocks/{tx_height}",
        f"/txs/{tx}",
        "/contracts",
        "/contracts/evidence",
        "/contracts/shout",
        "/orgs",
        "/validators",
        "/proposals",
        "/trace",
        "/trace/LJ-TIN-001",
        "/trace/LJ-TIN-004",
        "/trace/EVIL-1",
        "/funds",
        "/funds/rural-housing-2024",
        "/receivables",
        "/receivables/RCV-1",
        "/works",
        "/works/W000001",
        f"/works/{hostile_work}",
        "/evidence/EV000001",
        f"/evidence/EV{hostile_dep:06d}",
        "/verify",
        "/search",
    ]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_page_renders_in_both_languages_with_the_csp(
    chain: AppChain, client: TestClient, lang: str
) -> None:
    marker = {"en": "Overview", "zh_CN": "概览"}[lang]
    for url in _pages(chain):
        r = client.get(url, params={"lang": lang})
        assert r.status_code == 200, (url, r.text[:500])
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert f'<html lang="{ {"en": "en", "zh_CN": "zh-CN"}[lang] }">' in r.text
        assert marker in r.text, url


def test_hostile_chain_data_is_escaped_everywhere(chain: AppChain, client: TestClient) -> None:
    shown = 0
    for url in _pages(chain):
        r = client.get(url, params={"lang": "en"})
        assert HOSTILE not in r.text, url
        assert "<img src=x" not in r.text, url
        for attrs in SCRIPT_SRC.findall(r.text):
            # only the console's own script files, never an inline script
            assert re.search(r'src="/console/static/js/[a-z-]+\.js"', attrs), (url, attrs)
        shown += "&lt;script&gt;alert(" in r.text
    assert shown >= 4, "the hostile values should be shown (escaped) on the app pages"
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP.split("style-src")[0]


def test_hostile_organisation_names_are_escaped(tmp_path: Path) -> None:
    c = AppChain(tmp_path, orgs=(HOSTILE, "org2", "org3"))
    try:
        admin = c.admin(HOSTILE)
        c.call(admin, "governance", "get_identity", admin.info.address)
        for url in (
            "/",
            "/orgs",
            "/validators",
            "/blocks/1",
            f"/accounts/{admin.info.address}",
            "/blocks",
            "/proposals",
        ):
            r = c.http.get(url, params={"lang": "en"})
            assert r.status_code == 200, url
            assert HOSTILE not in r.text and "<img src=x" not in r.text, url
        assert "&lt;script&gt;" in c.http.get("/orgs").text
    finally:
        c.close()


def test_recalled_batch_is_shown_as_recalled(client: TestClient) -> None:
    en = client.get("/trace/LJ-TIN-004", params={"lang": "en"}).text
    assert 'class="recall"' in en and "RECALLED" in en and "seal found damaged" in en
    zh = client.get("/trace/LJ-TIN-004", params={"lang": "zh_CN"}).text
    assert "已召回" in zh
    assert 'class="recall"' not in client.get("/trace/LJ-TIN-001").text


def test_trace_qr_code_links_to_the_trace_page(client: TestClient) -> None:
    r = client.get("/trace/LJ-TIN-001/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.content.startswith(b"<?xml") and b"<svg" in r.content
    assert client.get("/trace/bad%20code/qr.svg").status_code == 400


def test_trace_qr_code_of_an_unknown_batch_is_a_404_page(client: TestClient) -> None:
    """No QR code is made for a batch that does not exist: a printed label must not link
    to an empty page. The 404 is the console's page, in the browser's language."""
    client.cookies.clear()
    r = client.get("/trace/NO-SUCH-BATCH/qr.svg", headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "<svg" not in r.text and "没有批次码为 NO-SUCH-BATCH 的批次" in r.text
    client.cookies.clear()
    r = client.get("/trace/NO-SUCH-BATCH/qr.svg", headers={"Accept-Language": "en"})
    assert r.status_code == 404 and "No batch with code NO-SUCH-BATCH" in r.text
    client.cookies.clear()


def test_language_follows_query_cookie_then_accept_language(client: TestClient) -> None:
    client.cookies.clear()
    r = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert '<html lang="en">' in r.text
    r = client.get("/", headers={"Accept-Language": "zh-TW,zh;q=0.9"})
    assert '<html lang="zh-CN">' in r.text
    r = client.get("/", headers={"Accept-Language": "fr-FR"})
    assert '<html lang="zh-CN">' in r.text  # the default
    r = client.get("/", params={"lang": "en"}, headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in r.text and r.cookies.get(i18n.COOKIE) == "en"
    r = client.get("/blocks", headers={"Accept-Language": "zh-CN"})  # the cookie wins
    assert '<html lang="en">' in r.text
    r = client.get("/", params={"lang": "xx"})  # an unknown language is ignored
    assert r.status_code == 200
    r = client.get("/blocks/3", params={"lang": "en"}, headers={"Host": "evil.example"})
    assert 'href="/blocks/3?lang=zh_CN"' in r.text and "evil.example" not in r.text
    client.cookies.clear()


def test_search_finds_height_tx_business_ids_and_reports_misses(
    chain: AppChain, client: TestClient
) -> None:
    def go(q: str) -> str:
        r = client.get("/search", params={"q": q}, follow_redirects=False)
        assert r.status_code == 303, (q, r.status_code)
        return r.headers["location"]

    assert go("3") == "/blocks/3"
    tx = chain.ledger.store.load_block(3).txs[0].hash.hex()
    assert go(tx) == f"/txs/{tx}"
    assert go(tx.upper()) == f"/txs/{tx}"
    header = chain.ledger.store.load_header(5)
    assert go(header.hash.hex()) == "/blocks/5"
    assert go("LJ-TIN-001") == "/trace/LJ-TIN-001"
    assert go("EV000001") == "/evidence/EV000001"
    assert go("RCV-1") == "/receivables/RCV-1"
    assert go("W000001") == "/works/W000001"
    assert go("rural-housing-2024") == "/funds/rural-housing-2024"
    addr = chain.admin("org1").info.address
    assert go(addr) == f"/accounts/{addr}"
    miss = client.get("/search", params={"q": HOSTILE, "lang": "en"})
    assert miss.status_code == 404 and "Nothing found" in miss.text
    assert HOSTILE not in miss.text
    assert client.get("/search", params={"q": "9" * 30}).status_code == 404


def test_search_finds_a_block_by_hash_at_any_height_by_index(
    chain: AppChain, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block hash is looked up in the store's index by hash: found at any height, and
    neither a hit nor a miss reads the headers of the latest blocks to compare hashes."""
    store = chain.ledger.store
    top = store.height()
    assert top > 10
    reads: list[int] = []
    real = chain.service.get_headers
    monkeypatch.setattr(
        chain.service, "get_headers", lambda start, n: reads.append(n) or real(start, n)
    )
    for h in (1, top // 2, top):
        block_hash = store.load_header(h).hash.hex()
        r = client.get("/search", params={"q": block_hash}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/blocks/{h}"
    miss = client.get("/search", params={"q": "ab" * 32, "lang": "en"})
    assert miss.status_code == 404 and "Nothing found" in miss.text
    assert reads == []


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/blocks/0", 404),
        ("/blocks/99999999", 404),
        ("/blocks/-1", 400),
        ("/blocks/1e3", 400),
        ("/blocks?before=x", 400),
        ("/txs/zz", 400),
        ("/txs/" + "00" * 32, 404),
        ("/accounts/xyz", 400),
        ("/accounts/" + "00" * 20, 404),
        ("/contracts/Bad-Name", 400),
        ("/contracts/nosuch", 404),
        ("/proposals/nosuch", 404),
        ("/trace/" + "a" * 65, 400),
        ("/trace/NOSUCH", 404),
        ("/funds/nosuch", 404),
        ("/funds/rural-housing-2024?idle_days=-1", 400),
        ("/funds/rural-housing-2024?idle_days=99999999", 400),
        ("/receivables/nosuch", 404),
        ("/works/nosuch", 404),
        ("/evidence/nosuch", 404),
    ],
)
def test_bad_and_unknown_ids_are_clear_4xx_pages(client: TestClient, url: str, status: int) -> None:
    r = client.get(url + ("&" if "?" in url else "?") + "lang=en")
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-security-policy"] == CSP
    assert "Not available" in r.text


def test_block_list_is_bounded_and_pages_back(chain: AppChain, client: TestClient) -> None:
    top = chain.ledger.height
    text = client.get("/blocks").text
    heights = [int(h) for h in re.findall(r'<td><a href="/blocks/(\d+)">', text)]
    assert heights == list(range(top, top - 20, -1))
    older = re.search(r'href="/blocks\?before=(\d+)"', text)
    assert older is not None and int(older.group(1)) == top - 19
    text = client.get(f"/blocks?before={top - 19}").text
    heights = [int(h) for h in re.findall(r'<td><a href="/blocks/(\d+)">', text)]
    assert heights[0] == top - 20 and len(heights) == 20


def test_block_page_names_the_signers_and_their_organisations(client: TestClient) -> None:
    text = client.get("/blocks/3", params={"lang": "en"}).text
    assert "Commit certificate" in text and "node0" in text and "org1" in text


def test_amounts_and_dates_are_readable(chain: AppChain, client: TestClient) -> None:
    text = client.get("/funds/rural-housing-2024", params={"lang": "en"}).text
    assert "¥5,000,000.00" in text  # 500,000,000 fen
    assert "every fen is accounted for" in text
    assert re.search(
        r"<time title=\"\d+\" data-ms=\"\d+\">20\d\d-\d\d-\d\d \d\d:\d\d:\d\d CST", text
    )


def test_console_routes_are_read_only(client: TestClient) -> None:
    for url in ("/", "/blocks", "/verify", "/trace/LJ-TIN-001", "/funds"):
        assert client.post(url).status_code == 405
    assert not any(
        "POST" in (getattr(r, "methods", None) or set())
        for r in client.app.routes  # type: ignore[attr-defined]
        if getattr(r, "path", "").split("/")[1:2]
        in (["blocks"], ["txs"], ["trace"], ["funds"], ["works"], ["verify"], ["search"], [""])
    )


def test_static_assets_and_offline_api_docs(client: TestClient) -> None:
    css = client.get("/console/static/css/console.css")
    assert css.status_code == 200 and css.headers["x-content-type-options"] == "nosniff"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    for src in re.findall(r'(?:src|href)="([^"]+)"', docs.text + client.get("/redoc").text):
        assert src.startswith("/"), src
        assert client.get(src).status_code == 200, src
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/console/static/../render.py").status_code == 404
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-security-policy"] == CSP
    assert icon.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/console/static/js/missing.js", 404),
        ("GET", "/console/static/%2e%2e/render.py", 404),
        ("GET", "/console/static/..%2f..%2fweb%2frender.py", 404),
        ("GET", "/docs-assets/..%2f..%2fsetup.py", 404),
        ("POST", "/console/static/js/live.js", 405),
    ],
)
def test_static_refusals_carry_the_security_headers(
    client: TestClient, method: str, url: str, status: int
) -> None:
    r = client.request(method, url)
    assert r.status_code == status
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "def " not in r.text


def test_catalogues_translate_every_message() -> None:
    """Every message in the console's templates and code is in both catalogues, and the
    Chinese one translates each (with the same placeholders)."""
    method_map = [
        ("**/templates/**.html", "jinja2"),
        ("**.py", "python"),
        ("static/js/*.js", "javascript"),
    ]
    keywords = {"_": None, "N_": None, "fail": None, "VerifyError": None}
    found = {
        msg
        for _f, _l, msg, _c, _x in extract_from_dir(
            str(ROOT / "src/tianfu/web"), method_map, keywords=keywords
        )
        if isinstance(msg, str)
    }
    assert "the commit certificate signs a different block hash" in found  # from proof.js
    assert len(found) > 150
    for lang in i18n.LANGUAGES:
        path = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as fh:
            cat = {m.id: m.string for m in read_po(fh) if m.id}
        missing = found - set(cat)
        assert not missing, f"{lang}: {sorted(missing)[:10]}"
        if lang == "zh_CN":
            for msgid in found:
                assert cat[msgid], f"untranslated: {msgid!r}"
                assert sorted(re.findall(r"%\(\w+\)s", msgid)) == sorted(
                    re.findall(r"%\(\w+\)s", cat[msgid])
                ), msgid


def test_every_script_message_reaches_the_catalogue_extraction() -> None:
    """Each literal message of a console script (`fail("...")`, `N_("...")`,
    `VerifyError("...")`) is one the extraction finds, so it is translated and handed to the
    scripts; Babel's JavaScript lexer lost every message of strictjson.js after a regular
    expression with an unescaped "/" in a character class (a Chinese page showed "the
    document is not JSON")."""
    literal = re.compile(r"\b(?:fail|N_|VerifyError)\(\s*\"((?:[^\"\\]|\\.)*)\"")
    extracted = set(render.js_msgids())
    for path in sorted((ROOT / "src/tianfu/web/static/js").glob("*.js")):
        found = set(literal.findall(path.read_text()))
        assert found <= extracted, (path.name, sorted(found - extracted))
    assert "the document is not JSON" in extracted


def test_verifier_reasons_are_handed_to_the_scripts_translated(client: TestClient) -> None:
    zh = client.get("/verify", params={"lang": "zh_CN"}).text
    assert "提交证书签署的是另一个区块哈希" in zh  # a reason of static/js/proof.js
    trace = client.get("/trace/LJ-TIN-001", params={"lang": "zh_CN"}).text
    assert "验证者 %(name)s 的签名无效" in trace


def test_the_scripts_show_only_catalogue_messages(client: TestClient) -> None:
    """An error a console script shows the reader is a catalogue message (a VerifyError
    the page translates), never an English literal thrown as a plain Error."""
    for path in sorted((ROOT / "src/tianfu/web/static/js").glob("*.js")):
        assert not re.search(r"new (Type)?Error\(", path.read_text()), path.name
    trace = client.get("/trace/LJ-TIN-001", params={"lang": "zh_CN"}).text
    assert "证明中没有这条批次记录" in trace
    assert "节点未给出证明或创世文件（HTTP %(proof)s / %(genesis)s）" in trace


def test_accept_language_parsing_is_bounded_and_ranked() -> None:
    assert i18n.from_accept_language("en;q=0.2, zh-CN;q=0.8") == "zh_CN"
    assert i18n.from_accept_language("de, en;q=0.1") == "en"
    assert i18n.from_accept_language("zh;q=0, en;q=0") is None
    assert i18n.from_accept_language("x" * 100_000) is None
    assert i18n.from_accept_language(",".join(["de"] * 10_000)) is None


def test_traceability_qr_command_writes_a_code_linking_to_the_trace_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import segno
    from typer.testing import CliRunner

    from tianfu.cli.main import app

    runner = CliRunner()
    out = tmp_path / "tin.png"
    args = ["app", "traceability", "qr", "LJ-TIN-001", "--out", str(out), "--json"]
    r = runner.invoke(app, [*args, "--base-url", "https://trace.example.cn/"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["url"] == "https://trace.example.cn/trace/LJ-TIN-001"
    assert out.read_bytes().startswith(b"\x89PNG")
    monkeypatch.setenv("TIANFU_CONSOLE_URL", "http://10.0.0.5:8701")
    svg = tmp_path / "tin.svg"
    r = runner.invoke(app, ["app", "traceability", "qr", "LJ-TIN-001", "--out", str(svg), "--json"])
    assert json.loads(r.output)["url"] == "http://10.0.0.5:8701/trace/LJ-TIN-001"
    expected = segno.make("http://10.0.0.5:8701/trace/LJ-TIN-001", error="m")
    assert svg.read_text().startswith("<?xml") and expected.version >= 1
    bad = runner.invoke(app, ["app", "traceability", "qr", "<b>", "--out", str(out)])
    assert bad.exit_code == 2


@pytest.mark.parametrize(
    ("url", "raw", "zh", "en"),
    [
        ("/orgs", ">active<", "有效", ">active<"),
        ("/contracts/evidence", "source_hash", "源代码哈希", "Source hash"),
        ("/contracts/evidence", "activated_height", "生效高度", "Activated at height"),
        (
            "/proposals",
            "contract photo_sharing",
            "部署合约 photo_sharing",
            "contract photo_sharing",
        ),
        ("/trace/LJ-TIN-001", ">transport<", "运输", ">transport<"),
        ("/trace/LJ-TIN-001", ">split_from<", "拆分自", ">split from<"),
        ("/receivables/RCV-1", ">split<", "已拆分", ">split<"),
        ("/works/W000001", ">licence_granted<", "授予许可", ">licence granted<"),
        ("/funds/rural-housing-2024", ">province<", "省", ">province<"),
    ],
)
def test_chain_words_and_record_fields_are_shown_in_the_readers_language(
    client: TestClient, url: str, raw: str, zh: str, en: str
) -> None:
    """Statuses, kinds, event types and field names written by the contracts are words of
    the catalogue: a Chinese page shows them in Chinese, an English page in English."""
    zh_page = client.get(url, params={"lang": "zh_CN"}).text
    assert zh in zh_page, url
    assert raw not in zh_page, url
    assert en in client.get(url, params={"lang": "en"}).text, url


def test_a_browser_gets_the_consoles_404_page_and_api_clients_json(client: TestClient) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    zh = client.get("/no-such-page", params={"lang": "zh_CN"}, headers=html)
    assert zh.status_code == 404 and zh.headers["content-type"].startswith("text/html")
    assert "没有页面 /no-such-page" in zh.text and zh.headers["content-security-policy"] == CSP
    en = client.get("/no/%3Cscript%3E", params={"lang": "en"}, headers=html)
    assert en.status_code == 404 and "No page at /no/&lt;script&gt;" in en.text
    for url, headers in (("/no-such-page", {}), ("/v1/no-such-route", html)):
        r = client.get(url, headers=headers)
        assert r.status_code == 404 and r.json() == {"error": "Not Found"}, url
