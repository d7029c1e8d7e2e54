"""The web console in a real browser (Playwright driving Debian's chromium) on a
4-validator network with the demo data: every page in both languages without a script
error or CSP violation, search, in-browser verification of the demo evidence certificate
(accepted; rejected with a changed file, a changed certificate byte and another genesis),
the recalled batch, and live updates. Screenshots go to $TIANFU_SCREENSHOTS when set
(docs/console.md shows them)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from tianfu.apps.evidence.demo import DEMO_FILE
from tianfu.apps.registry import APPLICATIONS
from tianfu.bench.netcheck import free_base_ports, height, wait_height
from tianfu.node.demo import create_demos
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.testing.appchain import AppChain

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]
SHOTS = os.environ.get("TIANFU_SCREENSHOTS")
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    api, p2p = free_base_ports(4)
    home = tmp_path_factory.mktemp("console") / "net"
    network, _ = LocalNetwork.prepare(home, 4, True, api_base_port=api, p2p_base_port=p2p)
    network.start()
    try:
        network.wait_ready(timeout=90)
        # The applications' demos are independent (own contracts, identities and ids):
        # made at once they share the blocks. `tianfu up --demo` then finds every one.
        env = LocalnetEnv(network)
        with ThreadPoolExecutor(len(APPLICATIONS), thread_name_prefix="demo") as pool:
            made = [pool.submit(app.create_demo, env) for app in APPLICATIONS]
            assert all(f.result() for f in made)
        out = Console(record=True, width=120, file=io.StringIO())
        create_demos(network, out)
        assert "failed" not in out.export_text(), out.export_text()
        # every node holds the demo's last block before the pages are read from node 1
        urls = [network.url(c) for c in network.configs]
        wait_height(urls, max(height(u) for u in urls), 60)
        yield network
    finally:
        network.stop()


@pytest.fixture(scope="module")
def url(net: LocalNetwork) -> str:
    return net.url(net.configs[0])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.on("dialog", lambda d: (problems.append("dialog: " + d.message), d.dismiss()))
    pg.problems = problems
    try:
        yield pg
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.jpg"), type="jpeg", quality=70)


def test_every_page_loads_in_both_languages(page: Any, url: str) -> None:
    status = httpx.get(url + "/v1/status", timeout=30).json()
    block = httpx.get(url + "/v1/blocks", params={"from": 2, "limit": 50}, timeout=30).json()
    tx_height = next(b["height"] for b in block["blocks"] if b["tx_count"])
    raw = httpx.get(f"{url}/v1/blocks/{tx_height}", timeout=30).json()
    tx = raw["txs"][0]
    pages = {
        "overview": "/",
        "blocks": "/blocks",
        "block": f"/blocks/{tx_height}",
        "transaction": f"/txs/{tx}",
        "contracts": "/contracts",
        "contract": "/contracts/evidence",
        "organisations": "/orgs",
        "validators": "/validators",
        "governance": "/proposals",
        "trace": "/trace/LJ-TIN-001",
        "funds": "/funds/rural-housing-2024",
        "receivables": "/receivables/RCV-1",
        "works": "/works/W000001",
        "evidence": "/evidence/EV000001",
        "cases": "/cases",
        "case": "/cases/C-0001",
        "verify": "/verify",
        "medical": "/medical",
        "medical-record": "/medical/records/REC000001",
        "prescription": "/medical/prescriptions/RX000001",
        "photos": "/photos",
        "photo": "/photos/PH000001",
        "orders": "/orders",
        "order": "/orders/org1/PO-BRK-0001",
    }
    assert status["height"] >= tx_height
    for lang, html_lang, word in (("en", "en", "Overview"), ("zh_CN", "zh-CN", "概览")):
        for name, path in pages.items():
            r = page.goto(f"{url}{path}?lang={lang}")
            assert r is not None and r.status == 200, (path, lang)
            assert page.get_attribute("html", "lang") == html_lang
            assert word in page.inner_text("header"), (path, lang)
            if lang == "zh_CN" or name in ("overview", "block", "trace", "funds", "verify"):
                shot(page, f"{name}-{lang}")
    assert not page.problems, page.problems
    page.goto(f"{url}/photos")  # the thumbnails, served by the node under the page's CSP
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.thumb')].every(i => i.complete)"
    )
    widths = page.eval_on_selector_all("img.thumb", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) >= 2 and all(w > 0 for w in widths), widths
    for docs in ("/docs", "/redoc"):  # the API docs render offline (assets from the node)
        page.goto(url + docs)
        page.wait_for_selector(".swagger-ui .info" if docs == "/docs" else "h1")
    # ReDoc's footer asks for its logo from its CDN: the CSP blocks it (nothing is fetched
    # from outside); anything else is a failure.
    others = [p for p in page.problems if "Content Security Policy" not in p or "cdn." not in p]
    assert not others, others


def test_without_scripts_what_needs_one_is_hidden_and_explained(browser: Any, url: str) -> None:
    """With scripts off, the trace page does not say "Checking…" for ever and /verify shows
    no form that cannot work: each says, instead, that the check needs scripts."""
    context = browser.new_context(java_script_enabled=False)
    try:
        pg = context.new_page()
        pg.goto(f"{url}/trace/LJ-TIN-001?lang=en")
        assert not pg.is_visible("#chain-check-result")
        # (Playwright's text selectors skip <noscript>: read its paragraph by CSS)
        said = pg.locator("noscript p.warn")
        assert said.is_visible() and "Not checked" in said.inner_text()
        pg.goto(f"{url}/verify?lang=zh_CN")
        assert not pg.is_visible("#verify-form")
        said = pg.locator("noscript p.warn")
        assert said.is_visible() and "此浏览器不运行脚本" in said.inner_text()
    finally:
        context.close()


def test_pages_fit_a_phone_screen(browser: Any, url: str) -> None:
    """No page scrolls sideways on a 390-pixel-wide phone (wide tables scroll inside)."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        pg = context.new_page()
        for path in (
            "/",
            "/blocks/2",
            "/trace/LJ-TIN-004",
            "/funds/rural-housing-2024",
            "/cases/C-0001",
            "/orders/org1/PO-BRK-0001",
            "/verify",
        ):
            pg.goto(f"{url}{path}?lang=zh_CN")
            width = pg.evaluate("document.documentElement.scrollWidth")
            assert width <= 392, (path, width)
    finally:
        context.close()


def test_search_finds_a_block_a_transaction_and_a_business_id(page: Any, url: str) -> None:
    blocks = httpx.get(url + "/v1/blocks", params={"from": 2, "limit": 50}, timeout=30).json()
    h = next(b["height"] for b in blocks["blocks"] if b["tx_count"])
    tx = httpx.get(f"{url}/v1/blocks/{h}", timeout=30).json()["txs"][0]
    for query, target in (
        (str(h), f"/blocks/{h}"),
        (tx, f"/txs/{tx}"),
        ("LJ-TIN-001", "/trace/LJ-TIN-001"),
        ("C-0001", "/cases/C-0001"),
    ):
        page.goto(url + "/?lang=en")
        page.fill("input[name=q]", query)
        page.click("form.search button")
        page.wait_for_url(re.compile(re.escape(url + target) + r"$"))
    assert not page.problems, page.problems


def test_evidence_certificate_is_verified_in_the_browser(
    page: Any, url: str, net: LocalNetwork, tmp_path: Path
) -> None:
    cert = httpx.get(url + "/evidence/EV000001/certificate.json", timeout=60)
    assert cert.status_code == 200
    files = {
        "cert": tmp_path / "EV000001.certificate.json",
        "file": tmp_path / "agreement.txt",
        "changed_file": tmp_path / "agreement-changed.txt",
        "changed_cert": tmp_path / "changed.certificate.json",
        "genesis": net.home / "genesis.bin",
        "other_genesis": tmp_path / "other-genesis.bin",
    }
    files["cert"].write_bytes(cert.content)
    files["file"].write_bytes(DEMO_FILE)
    files["changed_file"].write_bytes(DEMO_FILE.replace(b"2024", b"2025"))
    doc = json.loads(cert.content)
    raw = bytearray(bytes.fromhex(doc["raw"]))
    raw[len(raw) // 2] ^= 0x01
    files["changed_cert"].write_text(json.dumps({**doc, "raw": raw.hex()}))
    (tmp_path / "other").mkdir()
    other = AppChain(tmp_path / "other")
    try:
        files["other_genesis"].write_bytes(other.ledger.store.load_genesis() or b"")
    finally:
        other.close()

    def verdict(cert_file: str, data_file: str, genesis: str, lang: str = "en") -> str:
        page.goto(f"{url}/verify?lang={lang}")
        page.set_input_files("#cert-file", str(files[cert_file]))
        page.set_input_files("#data-file", str(files[data_file]))
        page.set_input_files("#genesis-file", str(files[genesis]))
        page.click("#verify-form button")
        page.wait_for_selector("#verdict[data-verdict]")
        return str(page.get_attribute("#verdict", "data-verdict"))

    assert verdict("cert", "file", "genesis") == "verified"
    assert "EV000001" in page.inner_text("#verdict")
    shot(page, "verify-verified-en")
    assert verdict("cert", "file", "genesis", "zh_CN") == "verified"
    assert "验证通过" in page.inner_text("#verdict")
    assert verdict("cert", "changed_file", "genesis") == "rejected"
    shot(page, "verify-rejected-en")
    assert verdict("changed_cert", "file", "genesis") == "rejected"
    assert verdict("cert", "file", "other_genesis") == "rejected"
    assert not page.problems, page.problems


def test_recalled_batch_is_shown_as_recalled(page: Any, url: str) -> None:
    page.goto(url + "/trace/LJ-TIN-004?lang=zh_CN")
    assert page.is_visible(".recall")
    assert "已召回" in page.inner_text(".recall")
    # the batch record (with its recall) verified in the browser against the validators
    page.wait_for_selector("#chain-check[data-verdict]")
    assert page.get_attribute("#chain-check", "data-verdict") == "verified"
    assert "已在您的浏览器中对照链上数据验证" in page.inner_text("#chain-check")
    shot(page, "trace-recalled-zh_CN")
    page.goto(url + "/trace/LJ-TIN-004?lang=en")
    assert "RECALLED" in page.inner_text(".recall")
    assert page.is_visible("figure.qr img")
    page.wait_for_selector("#chain-check[data-verdict=verified]")
    assert not page.problems, page.problems


def test_live_updates_show_a_new_block_without_reload(page: Any, url: str) -> None:
    page.goto(url + "/?lang=en")
    first = int(page.get_attribute("#recent-blocks", "data-top") or "0")
    page.evaluate("window.__notReloaded = true")
    page.wait_for_function(
        "(h) => Number(document.querySelector('#recent-blocks tr td a').textContent) > h",
        arg=first,
    )
    assert page.evaluate("window.__notReloaded") is True
    assert int(page.inner_text("#height")) > first
    assert not page.problems, page.problems
