"""Paging through a long list in a real browser (Playwright driving Debian's chromium): a
node's console serving a chain of more works than three pages hold, walked by clicking
"Older" to the end and "Newest" back, in both languages, without a script error or CSP
violation."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tianfu.apps import ip_rights
from tianfu.node.http import node_app
from tianfu.testing.appchain import AppChain
from tianfu.testing.threadserver import ServerThread
from tianfu.web.data import PAGE_SIZE

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]
WORKS = 2 * PAGE_SIZE + 2  # and one more, the odd one
# the newest work's title: long without a space, right-to-left and emoji text
ODD_TITLE = "长" * 120 + "حقوق-المؤلف-" + "🎵🎼" * 20
ODD_AUTHOR = "مؤلف الموسيقى"
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chain = AppChain(tmp_path_factory.mktemp("pages"))
    chain.deploy("ip_rights", ip_rights.source())
    creator = chain.identity("org2", "prolific")
    chain.grant(creator, "creator")
    calls = [
        (creator, "ip_rights", "register_work", (f"{i:064x}", f"作品 {i} 🎵", ["a"], "music"))
        for i in range(WORKS)
    ]
    assert all(r.ok for r in chain.call_many(calls))
    odd = (f"{WORKS:064x}", ODD_TITLE, [ODD_AUTHOR, "🎹 Li"], "music")
    assert chain.call(creator, "ip_rights", "register_work", *odd).ok
    console = ServerThread(
        uvicorn.Server(
            uvicorn.Config(node_app(chain.service, Path(chain.dir)), log_level="warning")
        )
    ).start()
    try:
        yield console.url
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


@pytest.mark.parametrize(
    ("lang", "older", "newest"), [("en", "Older", "Newest"), ("zh_CN", "较早", "最新")]
)
def test_clicking_older_walks_every_work_and_newest_comes_back(
    browser: Any, url: str, lang: str, older: str, newest: str
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(f"{url}/works?lang={lang}")
        seen: list[str] = []
        while True:
            seen.extend(page.locator("table.list tbody td:first-child a").all_inner_texts())
            link = page.locator("p.pager a[rel=next]")
            if link.count() == 0:
                break
            assert link.inner_text() == older
            first = seen[-1]
            link.click()
            page.wait_for_function(
                "id => !document.body.innerText.includes(id)", arg=first, timeout=WAIT_MS
            )
            assert len(seen) <= WORKS + 1
        assert seen == [f"W{n:06d}" for n in range(WORKS + 1, 0, -1)]
        page.locator("p.pager a", has_text=newest).click()
        page.wait_for_url(f"{url}/works")
        assert page.locator("table.list tbody td:first-child a").first.inner_text() == seen[0]
        assert problems == []
    finally:
        context.close()


@pytest.mark.parametrize("width", [375, 1100])
def test_long_right_to_left_and_emoji_text_stays_inside_the_page(
    browser: Any, url: str, width: int
) -> None:
    """A phone-wide or desktop window: the page never scrolls sideways, and the odd title
    is shown whole (tables may scroll inside themselves)."""
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        for path in ("/works", f"/works/W{WORKS + 1:06d}"):
            for lang in ("en", "zh_CN"):
                page.goto(f"{url}{path}?lang={lang}")
                assert ODD_TITLE in page.inner_text("main"), path
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, (path, lang, wide)
    finally:
        context.close()
