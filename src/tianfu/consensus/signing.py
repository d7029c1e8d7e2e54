"""Durable signing for the driver: the signer's fsync, then the WAL's, and restart recovery.

`sign_durably` signs one `SignVote` / `SignProposal` with the `FilePrivValidator` (which
persists the last signed position before it returns), appends the signed message to the
consensus WAL and fsyncs it: both durable before the message is fed back to the core,
hence before `Broadcast`. At start, `advance_signer_from_wal` moves the signer to the
newest message of ours in the WAL (the signer state's newest copy may have been lost),
and `guard_for_restart` makes the `SignGuard` a node needs when its signer state may be
older than what its key signed (`tianfu.consensus.signguard`). `Signer` puts these
together for the driver, with the halts that stop all signing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from tianfu.codec import CodecError
from tianfu.consensus.clock import Timers
from tianfu.consensus.interfaces import StoreLike
from tianfu.consensus.messages import (
    Event,
    ProposalReceived,
    SignProposal,
    SignVote,
    SkipToRound,
    VoteReceived,
)
from tianfu.consensus.privval import STEP_PROPOSAL, DoubleSignRefused, FilePrivValidator
from tianfu.consensus.retry import Retry
from tianfu.consensus.signguard import SignGuard, restart_guard
from tianfu.consensus.wal import ConsensusWAL, WalEntry, WalProposal, WalVote
from tianfu.types import PRECOMMIT, PREVOTE, CommitCertificate, ValidatorSet

log = logging.getLogger("tianfu.consensus.driver")  # what the driver does, in its log

SIGNER_FILE_HALT = "signer"  # the halt while the signer state cannot be written


def step_of(a: SignVote | SignProposal) -> int:
    """The signer's step number of an action: 1 prevote, 2 precommit, STEP_PROPOSAL."""
    if isinstance(a, SignVote):
        return 1 if a.type == PREVOTE else 2
    return STEP_PROPOSAL


def sign_durably(
    pv: FilePrivValidator,
    wal: ConsensusWAL,
    chain_id: str,
    a: SignVote | SignProposal,
    time_ms: int = 0,
) -> tuple[Event, OSError | None]:
    """(worker thread) Sign (the signer persists first), then append to the WAL and fsync.
    Returns the signed message as an event and the WAL's error, if any (the signature
    stands: the signer has recorded it). Raises `DoubleSignRefused` from the signer."""
    event: Event
    if isinstance(a, SignVote):
        vote = pv.sign_vote(chain_id, a.height, a.round, a.type, a.block_hash, time_ms)
        entry: WalEntry = WalVote(vote)
        event = VoteReceived(vote)
    else:
        p = pv.sign_proposal(chain_id, a.height, a.round, a.pol_round, a.block_hash, a.block)
        entry, event = WalProposal(p), ProposalReceived(p)
    try:
        wal.append(entry, sync=True)
    except OSError as exc:
        return event, exc
    return event, None


def advance_signer_from_wal(pv: FilePrivValidator, entries: list[WalEntry]) -> None:
    """If the WAL holds a message of ours newer than the signer's state (the state's
    newest copy was lost), the signer takes it as its last signed position."""
    best: tuple[tuple[int, int, int], bytes, bytes, int] | None = None
    for e in entries:
        if isinstance(e, WalVote) and e.vote.validator == pv.public_key:
            v = e.vote
            hrs = (v.height, v.round, 1 if v.type == PREVOTE else 2)
            item = (hrs, v.signing_bytes(), v.signature, v.time_ms)
        elif isinstance(e, WalProposal) and e.proposal.proposer == pv.public_key:
            p = e.proposal
            item = ((p.height, p.round, STEP_PROPOSAL), p.signing_bytes(), p.signature, 0)
        else:
            continue
        if best is None or item[0] > best[0]:
            best = item
    last = pv.last_hrs()
    if best is not None and (last is None or best[0] > last):
        pv.advance_to(*best[0], best[1], best[2], best[3])


def report_store_behind(pv: FilePrivValidator | None, height: int, in_wal: bool) -> None:
    """At start at `height`: log what to do if the key signed beyond it and the WAL holds
    nothing of `height` to decide it again from (blocks decided here left the store)."""
    last = pv.last_hrs() if pv is not None else None
    if last is None or last[0] <= height or in_wal:
        return
    log.error(
        "the store is at height %d but this key signed at height %d and the consensus WAL no "
        "longer holds height %d: blocks this node decided are missing from its store; it signs "
        "again once it has them from its peers (a validator alone in its set has no peer to "
        "get them from: restore chain.db from a copy of height %d or later)",
        height - 1,
        last[0],
        height,
        last[0] - 1,
    )


def guard_for_restart(
    pv: FilePrivValidator,
    entries: list[WalEntry],
    store: StoreLike,
    store_height: int,
    validators: ValidatorSet,
    *,
    now: float,
    listen_s: float,
    check_heights: int,
) -> SignGuard | None:
    """A `SignGuard` if the signer state may be older than what the key signed."""
    own = []
    for e in entries:
        if isinstance(e, WalVote) and e.vote.validator == pv.public_key:
            own.append((e.vote.height, e.vote.round))
        elif isinstance(e, WalProposal) and e.proposal.proposer == pv.public_key:
            own.append((e.proposal.height, e.proposal.round))
    recent = range(max(1, store_height - check_heights + 1), store_height + 1)
    certs: list[CommitCertificate | None] = [store.load_cert(h) for h in recent]
    for h in recent:
        header = store.load_header(h + 1)
        certs.append(header.last_commit if header is not None else None)
    return restart_guard(
        my_key=pv.public_key,
        recovery=pv.recovery,
        last_hrs=pv.last_hrs(),
        own_in_wal=own,
        store_height=store_height,
        certificates=[c for c in certs if c is not None],
        powers={v.public_key: v.power for v in validators.validators},
        now=now,
        listen_s=listen_s,
    )


class Signer:
    """This node's signing for the driver: privval + WAL, the restart guard, halts.

    Nothing is signed while a halt is in force (`halt(source, reason)` until
    `resume(source)`: a store that cannot take a decided block, a signer state that
    cannot be written, an operator, an observer that never votes) or while the `SignGuard` of a recovering signer holds it. A node
    without a privval signs nothing."""

    def __init__(
        self,
        privval: FilePrivValidator | None,
        wal: ConsensusWAL,
        chain_id: str,
        *,
        clock: Callable[[], float],
        timers: Timers,
        stats: Counter[str],
    ) -> None:
        self.privval, self.wal, self.chain_id = privval, wal, chain_id
        self.clock, self.timers, self.stats = clock, timers, stats
        self.guard: SignGuard | None = None
        # A save of the signer state failed: the driver starts `rewrite_state` (once).
        self.rewrite_due = False
        self._halts: dict[str, str] = {}  # why this node does not sign now, by source

    @property
    def halted(self) -> str | None:
        """Why this node signs nothing at the moment (None: it signs)."""
        return "; ".join(self._halts.values()) if self._halts else None

    def halt(self, source: str, reason: str) -> None:
        if self._halts.get(source) != reason:
            log.error("not signing: %s", reason)
        self._halts[source] = reason

    def resume(self, source: str) -> None:
        if self._halts.pop(source, None) is not None and not self._halts:
            log.warning("signing again")

    def recover(
        self,
        store: StoreLike,
        store_height: int,
        validators: ValidatorSet,
        *,
        listen_s: float,
        check_heights: int,
    ) -> None:
        """At start: the guard a recovering signer needs, then the signer moved up to our
        newest message in the WAL."""
        pv = self.privval
        if pv is None:
            return
        entries = self.wal.all_entries()
        self.guard = guard_for_restart(
            pv,
            entries,
            store,
            store_height,
            validators,
            now=self.timers.now(),
            listen_s=listen_s,
            check_heights=check_heights,
        )
        if self.guard is not None:
            self.stats["sign_guard"] += 1
        advance_signer_from_wal(pv, entries)

    async def rewrite_state(
        self, run_blocking: Callable[..., Awaitable[None]], stopping: Callable[[], bool]
    ) -> None:
        """After a failed save of the signer state: write the last signed state again
        (backing off) until it is durable, then sign again."""
        pv = self.privval
        assert pv is not None
        retry = Retry(f"write signer state {pv.path}")
        while not stopping():
            await self.timers.sleep(retry.wait())
            try:
                await run_blocking(pv.rewrite)
            except OSError as exc:
                retry.failed(exc)
                continue
            log.warning("signer state %s written again (last signed %s)", pv.path, pv.last_hrs())
            self.resume(SIGNER_FILE_HALT)
            return

    def signed_past_proposal(self, height: int, round: int) -> bool:
        """Whether the privval signed at or past the proposal of (height, round): it would
        refuse to sign that proposal."""
        last = self.privval.last_hrs() if self.privval is not None else None
        return last is not None and last >= (height, round, STEP_PROPOSAL)

    def skip_to(self, height: int, round: int) -> SkipToRound | None:
        """Where a recovering node in (height, round) should move to, if anywhere."""
        guard = self.guard
        return None if guard is None else guard.skip_to(height, round, self.timers.now())

    async def sign(
        self,
        a: SignVote | SignProposal,
        replay: bool,
        block_time: Callable[[bytes], int],
        run_blocking: Callable[..., Awaitable[tuple[Event, OSError | None]]],
        on_held: Callable[[], None],
    ) -> Event | None:
        """The signed message as an event, or None if nothing may be signed now
        (`on_held` is called when the guard holds it)."""
        if self._halts:
            self.stats["sign_halted"] += 1
            return None
        pv = self.privval
        if pv is None:
            return None
        last = pv.last_hrs()
        if replay and last is not None and (a.height, a.round, step_of(a)) < last:
            return None  # signed before the crash; the WAL holds that message, replayed next
        guard = self.guard
        if guard is not None:
            if guard.finished(a.height):
                self.guard = None
            elif not guard.allows(a.height, a.round, self.timers.now()):
                self.stats["sign_held"] += 1
                on_held()
                log.info(
                    "not signing at height %d round %d: signer state recovery (%s) holds "
                    "signing until %s",
                    a.height,
                    a.round,
                    guard.reason,
                    "the network has been heard" if guard.listening else guard.first_allowed(),
                )
                return None
        time_ms = 0
        if isinstance(a, SignVote) and a.type == PRECOMMIT and a.block_hash:
            try:
                block_ms = block_time(a.block_hash)
            except CodecError:  # (a block the core holds always decodes: it was executed)
                log.error("no time for block %s: not precommitting it", a.block_hash.hex()[:12])
                return None
            time_ms = max(int(self.clock() * 1000), block_ms + 1)
        try:  # one worker-thread trip for the signer's fsync and the WAL's
            event, wal_error = await run_blocking(
                sign_durably, pv, self.wal, self.chain_id, a, time_ms
            )
        except DoubleSignRefused as exc:
            log.warning("signer refused: %s", exc)
            self.stats["sign_refused"] += 1
            return None
        except OSError as exc:  # the signer state could not be made durable: no signature
            self.stats["signer_write_failures"] += 1
            self.halt(SIGNER_FILE_HALT, f"cannot write signer state {pv.path}: {exc}")
            self.rewrite_due = True
            return None
        if wal_error is not None:
            self.stats["wal_errors"] += 1
            if self.wal.failing <= 1:  # once until a write succeeds
                log.error("consensus WAL write failed: %s", wal_error)
        self.stats["signed"] += 1
        return event
