"""The driver's signing (a part of `ConsensusDriver`): signing the core's `SignVote` and
`SignProposal` through the `Signer`, the quiet start and the restart guard's ticks, and the
signer state's mark at heights decided or stored without this validator's signature.

After a start the `Signer` holds new signatures for a listening period (the quiet start):
they are made as soon as it is over (`_wake_held`, `_sign_held`) if the core is still in
their round, and a propose timeout scheduled meanwhile runs from its end (`_schedule`).
A recovering node's `SignGuard` moves it to the first round it may sign in
(`_guard_tick`, on every gossip tick).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from tianfu.consensus.blockmaker import BlockMaker
from tianfu.consensus.clock import ClockCheck, Timeouts, TimerHandle, Timers
from tianfu.consensus.core import ConsensusCore
from tianfu.consensus.inbox import OWN, EventInbox, JumpTo
from tianfu.consensus.interfaces import LedgerLike
from tianfu.consensus.messages import (
    Event,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    Step,
    VoteReceived,
)
from tianfu.consensus.privval import DoubleSignRefused
from tianfu.consensus.signing import Signer

log = logging.getLogger("tianfu.consensus.driver")  # what the driver does, in its log


class DriverSigning:
    """The signing part of `ConsensusDriver` (whose state it reads and writes)."""

    core: ConsensusCore | None
    ledger: LedgerLike[Any]
    signer: Signer
    blocks: BlockMaker[Any]
    clock_check: ClockCheck
    timers: Timers
    timeouts: Timeouts
    inbox: EventInbox[tuple[Event | JumpTo, str]]
    _held_wake: TimerHandle | None
    _stopping: bool
    _marking_synced: bool
    double_sign_check_heights: int
    my_key: bytes | None
    failed: BaseException | None

    def _post(self, event: Event) -> None:
        raise NotImplementedError

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        raise NotImplementedError

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        raise NotImplementedError

    def _powers(self) -> dict[bytes, int]:
        core = self.core
        validators = core.validators if core is not None else self.ledger.validator_set(1)
        return {v.public_key: v.power for v in validators.validators}

    @property
    def signing_held(self) -> str | None:
        """Why this validator cannot sign where its core is, though nothing halts it
        (`Signer.held`: the quiet start, the restart guard, a signer ahead of the node), or
        None: it can, it is halted (`halted` says why), stopped, or no validator here."""
        core = self.core
        if core is None or self.my_key is None or self.failed is not None:
            return None
        if self.signer.halted is not None or core.decided is not None:
            return None
        if not any(v.public_key == self.my_key for v in core.validators.validators):
            return None
        return self.signer.held(core.height, core.round)

    def _guard_tick(self) -> None:
        """A recovering node in a round it may not sign in moves to the first it may; the
        signatures held by the quiet start are made once it is over."""
        core = self.core
        if core is None or core.decided is not None or self._stopping:
            return
        held = self.signer.held_at_start()
        if held:
            self._spawn(self._sign_held(held))
        skip = self.signer.skip_to(core.height, core.round)
        if skip is not None:
            log.info(
                "signer state recovery: moving to round %d of height %d", skip.round, skip.height
            )
            self._post(skip)

    def _wake_held(self) -> None:
        """The quiet start was to end now: make the held signatures, or wait on if it was
        extended meanwhile (the node took heights from the network's commits)."""
        self._held_wake = None
        left = self.signer.quiet_left()
        if left > 0 and self.signer.holding:
            self._held_wake = self.timers.call_later(left, self._wake_held)
            return
        self._guard_tick()

    async def _sign_held(self, held: list[SignVote | SignProposal]) -> None:
        """Make the signatures the quiet start held, while the core is in their round, and
        feed them back as our own messages."""
        for a in held:
            core = self.core
            if core is None or core.decided is not None or core.height != a.height:
                return
            if core.round != a.round or (signed := await self._sign(a)) is None:
                return
            self.inbox.put((signed, OWN))

    async def _sign(self, a: SignVote | SignProposal, replay: bool = False) -> Event | None:
        signed = await self.signer.sign(
            a, replay, self._block_time, self._in_thread, self._guard_tick
        )
        if signed is None and self.signer.holding and self._held_wake is None:
            # held by the quiet start: made as soon as it is over, not a gossip tick later
            self._held_wake = self.timers.call_later(self.signer.quiet_left(), self._wake_held)
        if self.signer.rewrite_due:  # the signer state could not be written
            self.signer.rewrite_due = False
            self._spawn(self.signer.rewrite_state(self._in_thread, lambda: self._stopping))
        if isinstance(signed, VoteReceived):
            self.clock_check.saw_precommit(signed.vote)
        return signed

    def _block_time(self, block_hash: bytes) -> int:
        """The header time of a block of the current height that the core holds."""
        assert self.core is not None
        return self.blocks.block_time(block_hash, self.core.blocks)

    def _schedule(self, a: ScheduleTimeout) -> None:
        assert self.core is not None
        event = a.fired()
        now = (self.core.height, self.core.round)
        key = (a.height, a.round, int(a.step))
        delay = a.delay_ms / 1000
        if a.step == Step.PROPOSE:  # the proposer's time runs from the end of our quiet start
            delay += self.signer.quiet_left()
        self.timeouts.schedule(key, delay, lambda: self._post(event), now)

    async def _mark_decided(self, height: int, stored: bool = True) -> None:
        """A height decided without this validator's signature moves its signer state's mark
        there (`FilePrivValidator.mark_decided`): the file is then never older than the
        store at the next start, which the restart guard would take for an old copy and
        hold signing past rounds the network may still need this validator in. `_commit`
        marks before the block is stored (`stored=False`: a stop right after the store
        finds the file marked) and again after it; block sync's heights are marked once
        stored. Not while a `SignGuard` holds any round of the height the node would
        start at after a stop right now: the guard is not kept across a restart, and the
        file older than the store makes the next start guard again. That height is
        `height` + 1 once stored, but `height` itself before the store (a full disk or a
        power cut leaves the store below the mark): so before the store a guard lets the
        mark through from its floor's height + 2 on, after it from the floor's height + 1.
        The guard is checked again where the mark is written, under the signer's lock
        (a guard made meanwhile, `Signer.found_own`, stops it). The decided certificate
        has been checked for this key's signatures first (`own_in`): what the mark covers
        no longer shows a stale signer state. A failed write is logged (never raised: the
        block is stored all the same); the next start guards."""
        pv = self.signer.privval
        last = pv.last_hrs() if pv is not None else None
        if pv is None or (last is not None and last[0] >= height):
            return
        resume = height + 1 if stored else height

        def allowed() -> bool:  # (again under the signer's lock, where a new guard is set)
            guard = self.signer.guard
            return guard is None or guard.finished(resume)

        if not allowed():
            return
        try:
            await self._in_thread(pv.mark_decided, height, allowed)
        except (OSError, ValueError, DoubleSignRefused) as exc:  # the next start guards
            log.warning("signer state not marked at decided height %d: %r", height, exc)

    async def _check_and_mark(self, low: int, height: int) -> None:
        """Heights from `low` to `height` were stored by block sync (or a store recovery):
        this key's signatures in the last certificates (`Signer.check_stored`), then the
        signer state's mark moved to `height` (`_mark_decided`)."""
        low = max(low, height - self.double_sign_check_heights + 1)
        await self.signer.check_stored(self.ledger.store, low, height, self._in_thread)
        await self._mark_decided(height)

    def _mark_synced(self) -> None:
        """(gossip tick) While block sync stores heights ahead of the core, the signer
        state's mark follows them (at most one mark a tick, for the whole stretch stored
        since): a node stopped while syncing, its signer state older than its store at
        the next start, would be held by the restart guard like a restored copy."""
        core, pv = self.core, self.signer.privval
        if core is None or pv is None or core.decided is not None or self._marking_synced:
            return
        stored, last = self.ledger.height, pv.last_hrs()
        if stored < core.height or (last is not None and last[0] >= stored):
            return
        self._marking_synced = True

        async def mark() -> None:
            try:
                await self._check_and_mark(core.height, stored)
            finally:
                self._marking_synced = False

        self._spawn(mark())
