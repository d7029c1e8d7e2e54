"""Time and waiting for the consensus driver: a monotonic clock, timers, sleeps, worker threads.

The driver never calls `asyncio.get_running_loop().time()`, `call_later`, `asyncio.sleep`
or `asyncio.to_thread` itself: it is given a `Timers`. `AsyncioTimers` (the default) is
the running event loop and real worker threads. The deterministic simulator
(`tianfu.testing.sim`) gives each driver one that runs on a virtual-time event loop and
does the blocking work inline, so that a seed fixes a whole run. The wall clock (BFT
time: a precommit's `time_ms`) is a separate function, `ConsensusDriver(clock=...)`;
`ClockCheck` compares it with the validators' clocks at each commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from tianfu.types import PRECOMMIT, CommitCertificate, Vote

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

    Each precommit of a block carries its signer's clock reading (`time_ms`, BFT time).
    When one arrives live at the current height, `saw_precommit` keeps our clock minus its
    time (its signature is the key: only the very vote a certificate holds counts). At a
    commit decided live, `offset_ms` is the median of those readings over the
    certificate's precommits: our clock minus the validators' clocks, plus how long a vote
    takes to reach us. It is not our clock minus the certificate's median time: that also
    counts how long the decision took after most validators precommitted (a round waiting
    for a late validator's precommit, a slow store), and told nodes with correct clocks
    that theirs were seconds ahead. Beyond `warn_ms` the skew is counted in
    `stats["clock_skewed"]` and logged, at most every 10 s. Only reported: the clock never
    judges a block."""

    MAX_PENDING = 4096  # readings kept for the height in progress (votes are not yet verified)

    def __init__(
        self, clock: Callable[[], float], timers: Timers, stats: Counter[str], warn_ms: int
    ) -> None:
        self.clock, self.timers, self.stats, self.warn_ms = clock, timers, stats, warn_ms
        self.offset_ms: int | None = None
        self._warned = -1e9
        self._arrived: dict[bytes, tuple[int, int]] = {}  # signature -> (height, offset)

    def saw_precommit(self, vote: Vote) -> None:
        """A precommit of a block arrived (or was signed here) at the height in progress."""
        if vote.type != PRECOMMIT or vote.time_ms <= 0 or vote.signature in self._arrived:
            return
        if len(self._arrived) < self.MAX_PENDING:
            self._arrived[vote.signature] = (vote.height, int(self.clock() * 1000) - vote.time_ms)

    def check_commit(self, cert: CommitCertificate) -> None:
        """Compare our clock with the clocks of the precommits of a certificate decided live
        (those that reached us live; none: no reading)."""
        readings = sorted(
            self._arrived[cs.signature][1]
            for cs in cert.signatures
            if cs.signature in self._arrived
        )
        self._arrived = {k: v for k, v in self._arrived.items() if v[0] > cert.height}
        if readings:
            self.check_offset(readings[(len(readings) - 1) // 2], cert.height)

    def check_offset(self, offset: int, height: int) -> None:
        self.offset_ms = offset
        if abs(offset) <= self.warn_ms:
            return
        self.stats["clock_skewed"] += 1
        now = self.timers.now()
        if now - self._warned >= 10.0:
            self._warned = now
            log.warning(
                "this node's clock is %d ms %s the network's time (the precommits of height "
                "%d, as they arrived; bound %d ms): fix its time synchronisation",
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
