"""Time and waiting for the consensus driver: a monotonic clock, timers, sleeps, worker threads.

The driver never calls `asyncio.get_running_loop().time()`, `call_later`, `asyncio.sleep`
or `asyncio.to_thread` itself: it is given a `Timers`. `AsyncioTimers` (the default) is
the running event loop and real worker threads. The deterministic simulator
(`tianfu.testing.sim`) gives each driver one that runs on a virtual-time event loop and
does the blocking work inline, so that a seed fixes a whole run. The wall clock (BFT
time: a precommit's `time_ms`) is a separate function, `ConsensusDriver(clock=...)`;
`ClockCheck` compares it with the network's time at each commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from tianfu.types import CommitCertificate, ValidatorSet
from tianfu.types.block import median_time

T = TypeVar("T")
log = logging.getLogger("tianfu.consensus.driver")  # reported as the driver's


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


class ClockCheck:
    """This node's wall clock against the network's time, checked at each commit.

    The network's time is the median of a decided certificate's precommit times (BFT
    time); `offset_ms` is our clock minus it. Beyond `warn_ms` the skew is counted in
    `stats["clock_skewed"]` and logged, at most every 10 s. Only reported: the clock
    never judges a block."""

    def __init__(
        self, clock: Callable[[], float], timers: Timers, stats: Counter[str], warn_ms: int
    ) -> None:
        self.clock, self.timers, self.stats, self.warn_ms = clock, timers, stats, warn_ms
        self.offset_ms: int | None = None
        self._warned = -1e9

    def check_commit(
        self, cert: CommitCertificate, validator_set: Callable[[int], ValidatorSet]
    ) -> None:
        """Compare our clock with the time of a certificate decided live (the median of its
        precommit times, weighted by the set of its height)."""
        try:
            network_ms = median_time(cert, validator_set(cert.height))
        except ValueError:
            return
        self.check(network_ms, cert.height)

    def check(self, network_ms: int, height: int) -> None:
        offset = int(self.clock() * 1000) - network_ms
        self.offset_ms = offset
        if abs(offset) <= self.warn_ms:
            return
        self.stats["clock_skewed"] += 1
        now = self.timers.now()
        if now - self._warned >= 10.0:
            self._warned = now
            log.warning(
                "this node's clock is %d ms %s the network's time (median of the precommit "
                "times of height %d; bound %d ms): fix its time synchronisation",
                abs(offset),
                "ahead of" if offset > 0 else "behind",
                height,
                self.warn_ms,
            )


class Timeouts:
    """The core's pending timeouts, one per (height, round, step): scheduling one again
    replaces it, and those of rounds before the current one are cancelled."""

    def __init__(self, timers: Timers) -> None:
        self.timers = timers
        self._handles: dict[tuple[int, int, int], TimerHandle] = {}

    def schedule(
        self,
        key: tuple[int, int, int],
        delay_s: float,
        fire: Callable[[], None],
        current: tuple[int, int],
    ) -> None:
        for old in [k for k in self._handles if k[:2] < current]:
            self._handles.pop(old).cancel()
        previous = self._handles.pop(key, None)
        if previous is not None:
            previous.cancel()

        def fired() -> None:
            self._handles.pop(key, None)
            fire()

        self._handles[key] = self.timers.call_later(delay_s, fired)

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()
