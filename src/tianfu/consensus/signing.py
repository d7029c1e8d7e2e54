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
from tianfu.types import PRECOMMIT, PREVOTE, CommitCertificate, ValidatorSet, VoteDomain

log = logging.getLogger("tianfu.consensus.driver")  # what the driver does, in its log

SIGNER_FILE_HALT = "signer"  # the halt while the signer state cannot be written
Powers = dict[bytes, int]  # voting power by validator key


def step_of(a: SignVote | SignProposal) -> int:
    """The signer's step number of an action: 1 prevote, 2 precommit, STEP_PROPOSAL."""
    if isinstance(a, SignVote):
        return 1 if a.type == PREVOTE else 2
    return STEP_PROPOSAL


def sign_durably(
    pv: FilePrivValidator,
    wal: ConsensusWAL,
    domain: VoteDomain,
    a: SignVote | SignProposal,
    time_ms: int = 0,
) -> tuple[Event, OSError | None]:
    """(worker thread) Sign (the signer persists first), then append to the WAL and fsync.
    Returns the signed message as an event and the WAL's error, if any (the signature
    stands: the signer has recorded it). Raises `DoubleSignRefused` from the signer."""
    event: Event
    if isinstance(a, SignVote):
        vote = pv.sign_vote(domain, a.height, a.round, a.type, a.block_hash, time_ms)
        entry: WalEntry = WalVote(vote)
        event = VoteReceived(vote)
    else:
        p = pv.sign_proposal(domain.chain_id, a.height, a.round, a.pol_round, a.block_hash, a.block)
        entry, event = WalProposal(p), ProposalReceived(p)
    try:
        wal.append(entry, sync=True)
    except OSError as exc:
        return event, exc
    return event, None


def advance_signer_from_wal(
    pv: FilePrivValidator, entries: list[WalEntry], domain: VoteDomain
) -> None:
    """If the WAL holds a message of ours newer than the signer's state (the state's
    newest copy was lost), the signer takes it as its last signed position (a vote's
    bytes those it signed on the chain of `domain`)."""
    best: tuple[tuple[int, int, int], bytes, bytes, int] | None = None
    for e in entries:
        if isinstance(e, WalVote) and e.vote.validator == pv.public_key:
            v = e.vote
            hrs = (v.height, v.round, 1 if v.type == PREVOTE else 2)
            item = (hrs, v.signing_bytes(domain), v.signature, v.time_ms)
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


def _load_certs(store: StoreLike, low: int, high: int) -> list[CommitCertificate | None]:
    """(worker thread) The stored certificates of heights `low`..`high`."""
    return [store.load_cert(h) for h in range(low, high + 1)]


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
        chain: VoteDomain | str,
        *,
        clock: Callable[[], float],
        timers: Timers,
        stats: Counter[str],
    ) -> None:
        self.privval, self.wal = privval, wal
        self.domain = VoteDomain.of(chain)  # what votes sign (a bare chain id: genesis v1)
        self.clock, self.timers, self.stats = clock, timers, stats
        self.guard: SignGuard | None = None
        self.listen_s = 1.0  # a guard's listening period (set at `recover`)
        # Until then (`Timers.now`) nothing new is signed after a start: the network is heard
        # first, for this key's signatures that the signer state does not hold (`found_own`).
        self.quiet_until = 0.0
        self._held: list[SignVote | SignProposal] = []  # signatures held then, made after
        self.powers: Callable[[], Powers] = dict  # the current validators' powers (driver's)
        # A save of the signer state failed: the driver starts `rewrite_state` (once).
        self.rewrite_due = False
        self._halts: dict[str, str] = {}  # why this node does not sign now, by source
        # The (height, round) the signer last refused to sign at, until a signature is made.
        self.refused: tuple[int, int] | None = None

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

    def held(self, height: int, round: int) -> str | None:
        """Why, in words, this validator cannot sign in (height, round) although no halt
        is in force (None: it can, as far as its signer knows): the quiet start holds a
        signature, the restart guard holds it (listening to the network, or waiting for it
        to move past every position the key may have signed), or the signer refuses
        because its state is ahead of this node (the store is behind what the key signed,
        or a later signer file was put in place). Reads only: it clears by itself once the
        node can sign."""
        pv = self.privval
        if pv is None:
            return None
        if self._held and self.timers.now() < self.quiet_until:
            return (
                "it has just started: it listens to the network for signatures of its key "
                "that its signer state does not hold before it signs"
            )
        guard = self.guard
        if guard is not None and guard.listening:
            return (
                f"signer state recovery, {guard.reason}: it listens to the network to learn "
                "how far its key and the network got before it signs again"
            )
        if guard is not None and not guard.permits(height, round):
            return (
                f"signer state recovery, {guard.reason}: it signs again from "
                f"{guard.first_allowed()}, once the network is past every position its key may "
                "have signed"
            )
        last, refused = pv.last_hrs(), self.refused
        if refused is not None and last is not None and last[:2] > (height, round):
            return (
                f"its signer refuses: the signer state holds this key's signature at height "
                f"{last[0]} round {last[1]}, past this node's height {height} round {round} "
                "(its store is behind what the key signed, or a later signer file was put in "
                "place); it signs again once the network is past that position"
            )
        return None

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
        self.listen_s = listen_s
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
        advance_signer_from_wal(pv, entries, self.domain)
        # However intact, the signer state may be older than what the key signed (the data
        # directory put back from a backup, another one with this key, a wiped one made
        # again with the key kept): only the network can show it, so nothing new is signed
        # before it has been listened to a while, whatever the store holds. An empty store
        # is no proof of a first start: a wiped node starts at height 1 too, and while it
        # catches up the quiet start is extended (`caught_up`), so that it listens at the
        # network's height before signing there. (A network's first start waits `listen_s`.)
        self.quiet_until = self.timers.now() + listen_s

    def beyond(self, height: int, round: int, step: int) -> bool:
        """Whether a message of this key at (height, round, step) is one this signer did
        not sign: past its last signed position and past what a guard already counts."""
        pv = self.privval
        if pv is None:
            return False
        last = pv.last_hrs()
        if last is not None and (height, round, step) <= last:
            return False
        guard = self.guard
        return guard is None or (guard.listening or (height, round) > guard.floor)

    def found_own(self, height: int, round: int, step: int, where: str) -> None:
        """A message of this key at (height, round, step), its signature verified, was
        found `where` (a stored certificate, a peer's message). If this signer did not sign
        it (`beyond`), its state is older than what the key signed — a data directory put
        back from a backup, another data directory with this key, the key in use
        elsewhere — and nothing local showed it at start: the node signs nothing more until
        a `SignGuard` has heard how far the network got, as after a lost signer state."""
        pv = self.privval
        if pv is None or not self.beyond(height, round, step):
            return
        guard = self.guard
        if guard is not None and guard.listening:
            guard.own_signature(height, round)
            return
        reason = (
            f"this key's signature at height {height} round {round} step {step} ({where}) is "
            f"past the signer state's last {pv.last_hrs()}: the signer state is older than "
            "what the key signed (data put back from a backup, or the key in use elsewhere)"
        )
        log.error("not signing until the network has been heard: %s", reason)
        now = self.timers.now()
        new = SignGuard(reason, pv.public_key, self.powers(), started=now, listen_s=self.listen_s)
        if guard is not None:
            new.own_signature(*guard.floor)
        last = pv.last_hrs()
        if last is not None and last[0] > 0:
            new.own_signature(last[0], last[1])
        new.own_signature(height, round)
        with pv.lock:  # (a mark on its way checks the guard again under it)
            self.guard = new
        self.stats["stale_signer_state"] += 1

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

    def own_in(self, cert: CommitCertificate | None, where: str) -> None:
        """A stored or decided (so verified) certificate: this key's precommit in it that
        the signer did not sign shows a stale signer state (`found_own`)."""
        pv = self.privval
        if cert is not None and pv is not None:
            if any(cs.validator == pv.public_key for cs in cert.signatures):
                self.found_own(cert.height, cert.round, 2, where)

    async def check_stored(
        self,
        store: StoreLike,
        low: int,
        high: int,
        run_blocking: Callable[..., Awaitable[list[CommitCertificate | None]]],
    ) -> None:
        """Block sync stored heights up to `high`: this key's precommits in the stored
        certificates of `low`..`high` (`own_in`); the node is catching up (`caught_up`)."""
        if self.privval is not None:
            try:
                certs = await run_blocking(_load_certs, store, low, high)
            except Exception:  # a task's top level: the store guard hears of damage
                log.exception("reading the certificates of heights %d..%d failed", low, high)
                certs = []
            for cert in certs:
                self.own_in(cert, "a certificate block sync stored")
        self.caught_up()

    def caught_up(self) -> None:
        """A height was taken from the network's commits (block sync, a peer's commit):
        during the quiet start the node is catching up, so it stays quiet a listening
        period more (the commits of the heights after it may still show this key's
        signatures), and the signatures held so far, of a height decided without them,
        are dropped."""
        now = self.timers.now()
        if now < self.quiet_until:
            self.quiet_until = max(self.quiet_until, now + self.listen_s)
            self._held = []

    def quiet_left(self) -> float:
        """Seconds of the quiet start still to run (0 once it is over)."""
        return max(0.0, self.quiet_until - self.timers.now())

    @property
    def holding(self) -> bool:
        """Whether the quiet start holds signatures to make once it is over."""
        return bool(self._held)

    def held_at_start(self) -> list[SignVote | SignProposal]:
        """Once the quiet start is over: the signatures it held (of one round, in order),
        for the driver to make now (the core counts a signature not made as given and
        never asks for it again; making it late is safe, nothing was signed there)."""
        if not self._held or self.timers.now() < self.quiet_until:
            return []
        held, self._held = self._held, []
        return held

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
        hrs = (a.height, a.round, step_of(a))
        if replay and last is not None and hrs < last:
            return None  # signed before the crash; the WAL holds that message, replayed next
        if (last is None or hrs > last) and self.timers.now() < self.quiet_until:
            self.stats["sign_held_at_start"] += 1
            self._held = [h for h in self._held if (h.height, h.round) == (a.height, a.round)]
            self._held.append(a)
            return None  # (a re-sign of the last position, from the WAL, is the same message)
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
                sign_durably, pv, self.wal, self.domain, a, time_ms
            )
        except DoubleSignRefused as exc:
            log.warning("signer refused: %s", exc)
            self.stats["sign_refused"] += 1
            self.refused = (a.height, a.round)
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
        self.refused = None
        return event
