"""What a reader who does not write code does in the console, in a real browser
(Playwright driving Debian's chromium), in both languages: looks a transaction up with the
search box and sees it verified against the validators' signatures in the browser (a
succeeded and a failed one, with a nonce beyond what a JavaScript number holds, as the
CLI's random nonces are), and reads what a governance proposal proposes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tianfu.identity import OrgCA
from tianfu.node.http import node_app
from tianfu.testing.appchain import AppChain
from tianfu.testing.threadserver import ServerThread

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    chain = AppChain(tmp_path_factory.mktemp("flows"))
    chain._nonce = (1 << 62) + 99  # random 64-bit nonces, as `tianfu invoke` makes them
    admin = chain.admin("org1")
    proposal = chain.call(
        admin, "governance", "propose_add_org", "Org-Five", OrgCA.create("Org-Five").cert_der
    )
    failed = chain.call(admin, "governance", "approve", "no-such-proposal")
    assert proposal.ok and not failed.ok
    ok_tx, failed_tx = (
        chain.ledger.store.load_block(h).txs[0].hash.hex()  # type: ignore[union-attr]
        for h in (chain.ledger.height - 1, chain.ledger.height)
    )
    console = ServerThread(
        uvicorn.Server(
            uvicorn.Config(node_app(chain.service, Path(chain.dir)), log_level="warning")
        )
    ).start()
    try:
        yield {
            "url": console.url,
            "ok_tx": ok_tx,
            "failed_tx": failed_tx,
            "proposal": str(proposal.result),
        }
    finally:
        console.stop(30)
        chain.close()


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
    pg.problems = problems
    try:
        yield pg
    finally:
        context.close()


@pytest.mark.parametrize(
    ("lang", "succeeded", "failed"),
    [
        ("en", "and succeeded, signed by", "and failed (it changed nothing)"),
        ("zh_CN", "执行成功", "执行失败（未改变任何状态）"),
    ],
)
def test_a_transaction_looked_up_by_search_is_verified_in_the_browser(
    page: Any, served: dict[str, str], lang: str, succeeded: str, failed: str
) -> None:
    url = served["url"]
    for tx, said in ((served["ok_tx"], succeeded), (served["failed_tx"], failed)):
        page.goto(f"{url}/?lang={lang}")
        page.fill("form.search input[name=q]", tx)
        page.press("form.search input[name=q]", "Enter")
        page.wait_for_url(f"{url}/txs/{tx}")
        page.wait_for_selector("#chain-check[data-verdict]")
        text = page.inner_text("#chain-check")
        assert page.get_attribute("#chain-check", "data-verdict") == "verified", text
        assert said in text and "node0 (org1)" in text, text
    assert page.problems == []


@pytest.mark.parametrize(("lang", "kind"), [("en", "add organisation"), ("zh_CN", "加入组织")])
def test_a_governance_proposal_says_whom_it_admits(
    page: Any, served: dict[str, str], lang: str, kind: str
) -> None:
    url = served["url"]
    page.goto(f"{url}/proposals?lang={lang}")
    row = page.locator("table.list tbody tr", has_text=served["proposal"])
    assert kind in row.inner_text() and "Org-Five" in row.inner_text()
    row.locator("a").first.click()
    page.wait_for_url(f"{url}/proposals/{served['proposal']}")
    assert page.inner_text("dd.subject") == "Org-Five"
    assert page.problems == []
