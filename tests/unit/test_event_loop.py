"""The node's event loop choice (tianfu.node.loop)."""

from __future__ import annotations

import asyncio

import pytest

from tianfu.node import loop as event_loop


async def _loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_by_default_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv("TIANFU_LOOP", raising=False)
    assert event_loop.loop_name() == "uvloop"
    assert event_loop.run(_loop_type()).startswith("uvloop")


def test_asyncio_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIANFU_LOOP", "asyncio")
    assert event_loop.loop_name() == "asyncio"
    assert event_loop.run(_loop_type()).startswith("asyncio")


def test_gc_thresholds_for_a_node(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    saved = gc.get_threshold()
    try:
        monkeypatch.delenv("TIANFU_GC_THRESHOLD", raising=False)
        # The node's thresholds (docs/performance.md, step 20): 50,000 first-generation
        # allocations, then 50 and 100.
        assert event_loop.tune_gc() == (50_000, 50, 100) == gc.get_threshold()
        monkeypatch.setenv("TIANFU_GC_THRESHOLD", "700")
        assert event_loop.tune_gc()[0] == 700
    finally:
        gc.set_threshold(*saved)
