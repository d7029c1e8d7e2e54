"""The SDK's readers of every page stop on a page whose "next" does not advance.

A page's "next" is the `start` of the following page, after this one's. The SDK's
`all_ownership` (IP rights) and the shared `walk_log` / `walk_pages` followed "next" as the
node answered it: a node answering a page whose "next" is its own start (or one before)
kept the reader asking for the same page for ever (`walk_*` up to 100,000 times). They now
raise ValueError naming the page."""

from __future__ import annotations

from typing import Any, cast

import pytest

from tianfu.apps.common.sdk import walk_log, walk_pages
from tianfu.apps.ip_rights.sdk import IpRights
from tianfu.client import Client


class _StuckNode:
    """A node whose page at `stuck_at` answers "next" = `to`; it refuses to be asked more
    than 50 times (a reader that keeps asking would never end)."""

    def __init__(self, stuck_at: int, to: int) -> None:
        self.stuck_at, self.to, self.asked = stuck_at, to, 0

    def page(self, start: int) -> dict[str, Any]:
        self.asked += 1
        if self.asked > 50:
            raise RuntimeError("the reader keeps asking for pages that do not advance")
        nxt = self.to if start == self.stuck_at else start + 1
        return {
            "work": "W1",
            "count": 10,
            "start": start,
            "entries": [{"n": start, "id": start}],
            "next": nxt,
        }

    def query(self, contract: str, method: str, *args: Any) -> Any:
        assert method == "ownership_page"
        return self.page(args[1])


@pytest.mark.parametrize(("stuck_at", "to"), [(1, 1), (3, 3), (3, 2), (2, 1)])
def test_all_ownership_stops_on_a_page_that_does_not_advance(stuck_at: int, to: int) -> None:
    node = _StuckNode(stuck_at, to)
    with pytest.raises(ValueError, match="does not advance"):
        IpRights(cast(Client, node)).all_ownership("W1")
    assert node.asked == stuck_at


@pytest.mark.parametrize("walk", [walk_log, walk_pages])
def test_the_shared_page_walks_stop_on_a_page_that_does_not_advance(walk: Any) -> None:
    node = _StuckNode(2, 2)
    with pytest.raises(ValueError, match="does not advance"):
        walk(node.page, "entries")
    assert node.asked == 2


def test_pages_that_advance_are_all_read() -> None:
    class _Node(_StuckNode):
        def page(self, start: int) -> dict[str, Any]:
            page = super().page(start)
            page["next"] = None if start == 10 else start + 1
            return page

    assert [e["n"] for e in IpRights(cast(Client, _Node(0, 0))).all_ownership("W1")] == list(
        range(1, 11)
    )


class _AnyPage(_StuckNode):
    def query(self, contract: str, method: str, *args: Any) -> Any:
        page = self.page(args[-2])
        page["events"] = page["accounts"] = page["children"] = page["entries"]
        return page


def test_the_other_page_readers_stop_on_a_page_that_does_not_advance() -> None:
    from tianfu.apps.fund_supervision.sdk import FundSupervision
    from tianfu.apps.traceability.sdk import Traceability

    for read in (
        lambda node: Traceability(cast(Client, node)).all_events("B1"),
        lambda node: FundSupervision(cast(Client, node)).all_accounts(),
        lambda node: FundSupervision(cast(Client, node)).all_children("p1"),
    ):
        node = _AnyPage(2, 2)
        with pytest.raises(ValueError, match="does not advance"):
            read(node)
        assert node.asked == 2
