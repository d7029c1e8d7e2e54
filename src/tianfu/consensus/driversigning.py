"""The driver's signing (a part of `ConsensusDriver`): signing the core's `SignVote` and
`SignProposal` through the `Signer`, the quiet start and the restart guard's ticks.

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
