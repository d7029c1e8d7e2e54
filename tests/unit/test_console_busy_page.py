"""A browser's refused page (429 under a flood of reads) is answered on the event loop, past
the read budget: it is the console's error page in the browser's language, with its links
to the same page in the other languages, rendered once per language and shared (a template
render per refusal took 0.4-0.5 ms of the loop each)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.requests import Request

from tianfu.node.http import node_app
from tianfu.testing.appchain import AppChain
from tianfu.web import render
from tianfu.web.i18n import N_

FLOOD = 40
PATH = "/orgs?after=%3Cb%3E&x=1"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("busy-page"))
    yield c
    c.close()


def _browser(lang: str) -> dict[str, str]:
    return {"accept": "text/html", "accept-language": lang}


def test_a_flood_of_refused_pages_renders_each_language_once(
    chain: AppChain, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = node_app(chain.service, tmp_path_factory.mktemp("busy-page-data"))
    budget = app.state.read_budget
    rendered: list[str] = []
    get_template = render._env.get_template

    def counted(name: str, *args: Any, **kw: Any) -> Any:
        rendered.append(name)
        return get_template(name, *args, **kw)

    monkeypatch.setattr(render._env, "get_template", counted)
    render._shared_error_html.cache_clear()
    answers: list[httpx.Response] = []

    async def main() -> None:
        transport = httpx.ASGITransport(app=app, client=("10.0.0.9", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as c:
            for i in range(FLOOD):
                # reads owe far more time than a read may wait: each is refused at once
                budget.time.level = -100.0
                lang = "zh-CN" if i % 2 else "en"
                answers.append(await c.get(PATH, headers=_browser(lang)))

    anyio.run(main)
    assert [r.status_code for r in answers] == [429] * FLOOD
    assert all(r.headers["content-type"].startswith("text/html") for r in answers)
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers)
    assert rendered.count("error.html") == 2, rendered  # one per language, not one per page
    # Each shared page is the page a render for that request gives, byte for byte: its
    # language, its links to itself in the other language (the request's path and query,
    # escaped), the refusal's message.
    for r in answers[:2]:
        lang = r.request.headers["accept-language"]
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/orgs",
            "query_string": PATH.partition("?")[2].encode(),
            "headers": [(k.encode(), v.encode()) for k, v in _browser(lang).items()],
        }
        message = N_("This request cannot be answered (HTTP %(status)s).")
        expected = render.error_page(Request(scope), 429, message, status=429)
        assert r.text == bytes(expected.body).decode()
        assert "lang=" in r.text and "%3Cb%3E" in r.text and "<b>" not in r.text
    assert budget.running == 0 and not budget.by_client
