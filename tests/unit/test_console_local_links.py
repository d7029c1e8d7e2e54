"""Unit tests: the console's links to the same page in another language stay on the node,
whatever path the request named (a 404 page of `//evil.example/x` or `/\\evil.example/x`
linked its "English" to that other host: a protocol-relative URL)."""

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

import pytest
from starlette.requests import Request

from tianfu.web.i18n import N_
from tianfu.web.render import error_page, not_found, shared_error_page

NODE = "http://node.example:8701"
HREF = re.compile(r'href="([^"]*)"')


def _request(path: str, query: bytes = b"lang=zh_CN") -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("node.example", 8701),
            "path": path,
            "query_string": query,
            "headers": [(b"host", b"node.example:8701")],
        }
    )


def _hosts(body: str, path: str) -> set[str]:
    """The hosts the page's links lead to, resolved as a browser does: in a URL of an http
    page a backslash is a slash, and two or more leading slashes start a host name."""
    hosts = set()
    for href in HREF.findall(body):
        url = unescape(href).replace("\\", "/")
        if url.startswith("//"):
            url = "//" + url.lstrip("/")
        hosts.add(urlsplit(urljoin(NODE + path, url)).netloc)
    return hosts


@pytest.mark.parametrize("path", ["//evil.example/x", "/\\evil.example/x", "///evil.example"])
def test_error_pages_link_only_to_the_node(path: str) -> None:
    pages = [
        not_found(_request(path), N_("No page at %(path)s"), path=path),
        error_page(_request(path), 500, N_("No page at %(path)s"), path=path),
        shared_error_page(
            _request(path),
            429,
            N_("This request cannot be answered (HTTP %(status)s)."),
            status=429,
        ),
    ]
    for page in pages:
        body = page.body.decode()
        assert 'hreflang="en"' in body
        assert _hosts(body, path) == {"node.example:8701"}, body


def test_the_language_link_keeps_the_page_and_its_query() -> None:
    page = not_found(
        _request("/trace/X", b"lang=zh_CN&before=00000003"),
        N_("No page at %(path)s"),
        path="/trace/X",
    )
    link = re.search(r'<a href="([^"]*)" hreflang="en"', page.body.decode())
    assert link is not None
    target = urlsplit(urljoin(NODE + "/trace/X?lang=zh_CN&before=00000003", unescape(link[1])))
    assert target.path == "/trace/X" and sorted(target.query.split("&")) == [
        "before=00000003",
        "lang=en",
    ]
