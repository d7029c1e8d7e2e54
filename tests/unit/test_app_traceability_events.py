"""Traceability: a batch's events are read whatever their size.

Any member holding an event's role records events on any active batch, each with up to 20
fields of 500 characters (about 45 KB in four-byte characters). `events_page` returned up to
200 events a call (the SDK's and the CLI's page size) and `events` up to 500: six of the
largest exceed the 256 KiB a view may return, so one holder of a role made every page of a
batch's trace fail. A page now ends early where its events would pass what a view returns
(its "next" the first left out), and `events` is refused past that size."""

from __future__ import annotations

from typing import Any, cast

import pytest
from tests.unit.app_local import BOB, Ctx, Local

from tianfu.apps import traceability
from tianfu.apps.traceability.sdk import Traceability
from tianfu.client import Client
from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

WIDE = "\U00020000"


def _batch(events: list[dict[str, Any]], short: int = 0) -> Local:
    """A batch with `events` (their data); the last `short` are signed by a short name."""
    app = Local(compile_contract(traceability.source()), Ctx(traceability.NAME))
    app.ctx.state["batch:B1"] = {"code": "B1", "events": len(events)}
    for k, data in enumerate(events, 1):
        app.ctx.state["ev:B1:" + str(k).zfill(8)] = {
            "seq": k,
            "type": "transport",
            "data": data,
            "by": "f" * 40,
            "name": "bob" if k > len(events) - short else WIDE * 64,
            "org": "org2" if k > len(events) - short else WIDE * 61,
            "height": 2**62,
            "time_ms": 2**62,
            "tx": "f" * 64,
        }
    return app


def _largest(k: int) -> dict[str, Any]:
    return {f"{k:02d}{i:02d}" + WIDE * 60: WIDE * 500 for i in range(20)}


def test_the_largest_events_are_read_a_page_at_a_time_at_the_sdks_page_size() -> None:
    app = _batch([_largest(k) for k in range(30)] + [{"temp": "4C"}] * 300, short=300)

    class _Node:  # the SDK's client: a view runs on the in-process contract
        def query(self, contract: str, method: str, *args: Any) -> Any:
            return app.call(BOB, method, *args)

    shown = Traceability(cast(Client, _Node())).all_events("B1")
    assert [e["seq"] for e in shown] == list(range(1, 331))
    first = app.call(BOB, "events_page", "B1", 1, 200)
    assert 1 <= len(first["events"]) < 10 and first["next"] == 1 + len(first["events"])
    tail = app.call(BOB, "events_page", "B1", 31, 200)  # small events: a full page
    assert len(tail["events"]) == 200 and tail["next"] == 231
    with pytest.raises(ContractError, match="events of batch B1 are more than one view"):
        app.call(BOB, "events", "B1")


def test_small_events_are_read_whole() -> None:
    app = _batch([{"temp": "4C"}] * 500, short=500)
    assert len(app.call(BOB, "events", "B1")) == 500
    assert app.call(BOB, "events_page", "B1", 401, 200)["next"] is None


def test_a_provenance_of_the_largest_events_is_refused_naming_the_page_views() -> None:
    app = _batch([_largest(k) for k in range(8)])
    app.ctx.state["batch:B1"].update(product="apple", parents=[], recall=None)
    with pytest.raises(ContractError, match="lineage of batch B1 is more than one view returns"):
        app.call(BOB, "provenance", "B1")


class _CountingCtx(Ctx):
    """Counts the event records a call reads."""

    def __init__(self, contract: str) -> None:
        super().__init__(contract)
        self.event_reads = 0

    def get(self, key: str, default: Any = None) -> Any:
        if key.startswith("ev:"):
            self.event_reads += 1
        return super().get(key, default)


def test_a_list_too_large_to_return_is_refused_without_reading_all_of_it() -> None:
    """`events` and `provenance` read every event (up to 500 of up to 45 KB) before counting
    their size: a node charges a read a gas per 8 bytes, so 500 of the largest cost about
    2.8 million gas, past the 1,000,000 a view has by default, and the view ran out of gas
    instead of naming the page views. They stop reading where what they read passes what a
    view returns."""
    app = _batch([_largest(k) for k in range(500)])
    app.ctx.state["batch:B1"].update(product="apple", parents=[], recall=None)
    counting = _CountingCtx(traceability.NAME)
    counting.state = app.ctx.state
    app.ctx = counting
    with pytest.raises(ContractError, match="events of batch B1 are more than one view"):
        app.call(BOB, "events", "B1")
    assert 1 <= counting.event_reads <= 10
    counting.event_reads = 0
    with pytest.raises(ContractError, match="lineage of batch B1 is more than one view returns"):
        app.call(BOB, "provenance", "B1")
    assert 1 <= counting.event_reads <= 10
