"""Unit tests: `tianfu.web.render.lookup`, the console's record of an id from a path (a 400
page for a malformed id, a 404 page for an unknown one)."""

import re

from fastapi.responses import HTMLResponse
from starlette.requests import Request

from tianfu.web.i18n import N_
from tianfu.web.render import Ids, lookup

THINGS = Ids(re.compile(r"[a-z]{1,8}"), N_("Not a work id: %(value)s"), N_("No work %(id)s"))
RECORDS = {"known": {"id": "known"}, "odd": ["not", "a", "record"]}


def _request() -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/x", "query_string": b"lang=en", "headers": []}
    )


def test_a_known_id_gives_its_record() -> None:
    assert lookup(_request(), THINGS, "known", RECORDS.get, id="known") == {"id": "known"}


def test_a_malformed_id_is_a_400_page_and_is_not_looked_up() -> None:
    asked: list[str] = []

    def load(value: str) -> object:
        asked.append(value)
        return None

    r = lookup(_request(), THINGS, "NOT-VALID", load, id="NOT-VALID")
    assert isinstance(r, HTMLResponse) and r.status_code == 400
    assert "Not a work id: NOT-VALID" in r.body.decode()
    assert asked == []


def test_an_unknown_id_or_a_value_that_is_no_record_is_a_404_page() -> None:
    for value in ("missing", "odd"):
        r = lookup(_request(), THINGS, value, RECORDS.get, id=value)
        assert isinstance(r, HTMLResponse) and r.status_code == 404
        assert f"No work {value}" in r.body.decode()
