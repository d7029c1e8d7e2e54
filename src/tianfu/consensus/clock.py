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

from tianfu.types import PRECOMMIT, CommitCertificate, ValidatorSet, Vote, VoteDomain

T = TypeVar("T")
Verifier = Callable[[int, bytes, bytes, bytes], bool]  # (scheme, public key, message, signature)
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
    judges a block.

    The caller hands over only precommits whose signature it verified against the current
    validator set; readings are kept per validator, its `PER_VALIDATOR` latest, so memory
    is bounded by the set's size and a validator's precommits push out only its own."""

    PER_VALIDATOR = 8  # readings kept per validator (its precommits of the latest rounds)

    def __init__(
        self, clock: Callable[[], float], timers: Timers, stats: Counter[str], warn_ms: int
    ) -> None:
        self.clock, self.timers, self.stats, self.warn_ms = clock, timers, stats, warn_ms
        self.offset_ms: int | None = None
        self._warned = -1e9
        # validator -> signature -> (height, offset), oldest first
        self._arrived: dict[bytes, dict[bytes, tuple[int, int]]] = {}

    def arrived(
        self, vote: Vote, validators: ValidatorSet, verify: Verifier, domain: VoteDomain
    ) -> None:
        """A peer's vote arrived at the height in progress: its reading is kept if it is a
        precommit of a block signed, on the chain of `domain`, by a validator of
        `validators` (`verify` checks the signature; the core's later check of the same
        vote is answered from its cache)."""
        if vote.type != PRECOMMIT or vote.time_ms <= 0:
            return
        v = validators.by_key(vote.validator)
        if v is not None and verify(
            v.scheme, v.public_key, vote.signing_bytes(domain), vote.signature
        ):
            self.saw_precommit(vote)

    def saw_precommit(self, vote: Vote) -> None:
        """A precommit of a block, its signature verified, arrived (or was signed here) at
        the height in progress."""
        if vote.type != PRECOMMIT or vote.time_ms <= 0:
            return
        mine = self._arrived.setdefault(vote.validator, {})
        if vote.signature in mine:
            return
        mine[vote.signature] = (vote.height, int(self.clock() * 1000) - vote.time_ms)
        if len(mine) > self.PER_VALIDATOR:
            del mine[next(iter(mine))]

    def pending(self) -> int:
        """Readings kept (for the heights not yet checked)."""
        return sum(len(m) for m in self._arrived.values())

    def check_commit(self, cert: CommitCertificate) -> None:
        """Compare our clock with the clocks of the precommits of a certificate decided live
        (those that reached us live; none: no reading)."""
        arrived = self._arrived
        readings = sorted(
            found[1]
            for cs in cert.signatures
            if (found := arrived.get(cs.validator, {}).get(cs.signature)) is not None
        )
        for validator in list(arrived):
            kept = {k: v for k, v in arrived[validator].items() if v[0] > cert.height}
            if kept:
                arrived[validator] = kept
            else:
                del arrived[validator]
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
