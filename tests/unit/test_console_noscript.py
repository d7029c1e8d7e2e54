"""The console without scripts: what needs one (the in-browser checks of the trace and
transaction pages, the /verify form) is hidden by a stylesheet loaded only then, and the page
says why in the reader's language. (Without scripts the trace page said "Checking this batch
record…" for ever, and /verify's form reloaded the page and showed nothing.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tianfu.apps.traceability.demo import create_demo
from tianfu.testing.appchain import AppChain

NOSCRIPT = re.compile(r"<noscript>(.*?)</noscript>", re.S)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    c = AppChain(tmp_path_factory.mktemp("noscript"))
    create_demo(c)
    yield c.http
    c.close()


def _tx_url(client: TestClient) -> str:
    for height in range(2, 40):
        found = re.search(r'href="(/txs/[0-9a-f]{64})"', client.get(f"/blocks/{height}").text)
        if found:
            return found[1]
    raise AssertionError("no transaction in the demo's blocks")


def test_what_needs_a_script_is_hidden_and_explained_without_one(client: TestClient) -> None:
    css = client.get("/console/static/css/noscript.css")
    assert css.status_code == 200 and re.search(r"\.needs-js\s*\{\s*display:\s*none", css.text)
    pages = {
        "/trace/LJ-TIN-001": ("未核验", "Not checked"),
        _tx_url(client): ("未核验", "Not checked"),
        "/verify": ("此浏览器不运行脚本", "this browser runs none"),
    }
    for url, (zh, en) in pages.items():
        for lang, said in (("zh_CN", zh), ("en", en)):
            html = client.get(url, params={"lang": lang}).text
            blocks = NOSCRIPT.findall(html)
            assert any("/css/noscript.css" in b for b in blocks), url
            assert any(said in b for b in blocks), (url, lang)
            # what only a script fills in or uses is marked, so that it is hidden then
            marked = re.findall(r'<(?:p|form)\b[^>]*class="[^"]*needs-js', html)
            assert marked, (url, lang)
        checking = re.search(r'<p id="chain-check-result"[^>]*>', html)
        verify_form = re.search(r'<form id="verify-form"[^>]*>', html)
        tag = (checking or verify_form)[0]  # type: ignore[index]
        assert "needs-js" in tag, url
