"""Time and waiting for the consensus driver: a monotonic clock, timers, sleeps, worker threads.

The driver never calls `asyncio.get_running_loop().time()`, `call_later`, `asyncio.sleep`
or `asyncio.to_thread` itself: it is given a `Timers`. `AsyncioTimers` (the default) is
the running event loop and real worker threads. The deterministic simulator
(`tianfu.testing.sim`) gives each driver one that runs on a virtual-time event loop and
does the blocking work inline, so that a seed fixes a whole run. The wall clock (BFT
time: a precommit's `time_ms`) is a separate function, `ConsensusDriver(clock=...)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Timers(Protocol):
    def now(self) -> float:
        """Monotonic seconds: intervals and timer deadlines (never a block's time)."""
        ...

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> TimerHandle:
        """Call `fn` once after `delay_s` seconds unless cancelled."""
        ...

    async def sleep(self, delay_s: float) -> None: ...

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run slow or blocking work (fsync, block execution) off the event loop."""
        ...


class AsyncioTimers:
    """`Timers` of the running asyncio event loop, with real worker threads."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay_s, fn)

    async def sleep(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)
