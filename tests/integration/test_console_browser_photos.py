"""The photographs page in a real browser (Playwright driving Debian's chromium): a node's
console serving more registered photographs than a browser fetches pictures at once shows
every thumbnail (the blob route's reads of one client were capped at 4 at once, the rest
refused with 429: broken pictures), in both languages, on a first visit and a second."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tianfu.api.server import make_server
from tianfu.apps.photo_sharing import BLOB_PREFIX, demo
from tianfu.apps.photo_sharing.sdk import PhotoSharing
from tianfu.node.http import node_app
from tianfu.testing.appchain import AppChain
from tianfu.testing.threadserver import ServerThread

playwright_sync = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)"),
]
PHOTOS = 12  # twice what a browser asks a server for at once
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chain = AppChain(tmp_path_factory.mktemp("photos"))
    demo.create_demo(chain)  # deploys the contract, registers two photos
    people = demo.cast(chain)
    author = PhotoSharing(chain.client(people["photographer"]))
    for seed in range(100, 100 + PHOTOS - 2):
        author.register(demo.original(seed), f"skyline {seed}")
    assert author.count() == PHOTOS
    console = ServerThread(make_server(node_app(chain.service, Path(chain.dir)), "127.0.0.1", 0))
    console.start()
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


def _thumbnail_widths(page: Any) -> list[int]:
    """The natural widths of the page's thumbnails once every one has loaded or failed."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.thumb')].every(i => i.complete)"
    )
    page.eval_on_selector_all("img.thumb", "imgs => imgs.forEach(i => i.scrollIntoView())")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.thumb')].every(i => i.complete)"
    )
    return list(page.eval_on_selector_all("img.thumb", "imgs => imgs.map(i => i.naturalWidth)"))


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_thumbnail_of_the_photographs_page_loads(browser: Any, url: str, lang: str) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    statuses: list[int] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: statuses.append(r.status) if BLOB_PREFIX in r.url else None)
    try:
        for visit in ("first", "again"):
            r = page.goto(f"{url}/photos?lang={lang}")
            assert r is not None and r.status == 200
            widths = _thumbnail_widths(page)
            assert len(widths) == PHOTOS, (visit, widths)
            assert all(w > 0 for w in widths), (visit, widths, statuses)
        assert statuses and all(s == 200 for s in statuses), statuses
        assert not problems, problems
    finally:
        context.close()
