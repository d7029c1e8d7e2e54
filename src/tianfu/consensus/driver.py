"""The networked consensus driver: runs a `ConsensusCore` with ledger, signer, WAL, peers and timers.

One consumer task feeds the core one event at a time and carries out its actions in order
(the contract is the docstring of `tianfu.consensus.core`). The actions are a closed set
(`Action`): one without a handler stops the driver with `UnknownAction`. Results of slow
work come back as events through the internal queue of its `EventInbox` (`inbox`), which
has priority over network input.
The parts, each with its own state: `PeerGossip` (`peers`: inbound frames, answers,
re-sending, reaching the driver through `GossipHost`), `Signer` (`signing`: privval and
WAL fsyncs, the restart `SignGuard`, halts), `BlockMaker` (building and executing blocks
under one lock), `BlockCommitter` (storing decided blocks, riding out a full disk),
`LedgerWork` (their worker-thread trips), `Background` (spawned tasks and worker-thread
trips that `stop` waits for), `WalReplay` (`replay`: the WAL's entries of heights not
decided yet), `HeightParams` (`heightparams`: each height's parameters and the intervals
they imply), `ClockCheck` and `Timeouts` (`clock`). The driver's own signing steps — the
core's signatures through the `Signer`, the quiet start's held signatures, the guard's
ticks — are the `DriverSigning` part it inherits (`driversigning`).

Pipelined heights (`pipeline`, ADR 0030): once a block is decided, if this node proposes
the next height's first round, `BlockMaker.prepare` builds that block on the decided
block's executed state while it is stored if the block is full (a block with room is
built at its height, with what arrived meanwhile); nothing is signed before the store,
and the prepared block is used only if the stored block is the one it was built on.

Time: `clock` is the wall clock, read only for a precommit's time (at least the block's
time + 1 ms: BFT time) and by `ClockCheck`; it never judges a block. `timers` gives
monotonic time, timeouts, sleeps and worker threads (`Timers.run_blocking`), so that the
deterministic simulator (`tianfu.testing.sim`) runs this driver on virtual time.

The parameters of height h are taken when the core is built for h and again before
`BlockCommitted` moves it on. Consensus does not import p2p, store or ledger: it uses the
protocols of `tianfu.consensus.interfaces`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine
from typing import Any, Generic, Never, NoReturn

from tianfu.consensus.background import Background
from tianfu.consensus.blockmaker import BlockMaker
from tianfu.consensus.clock import AsyncioTimers, ClockCheck, Timeouts, TimerHandle, Timers
from tianfu.consensus.committer import BlockCommitter
from tianfu.consensus.core import ConsensusCore
from tianfu.consensus.driversigning import DriverSigning
from tianfu.consensus.evidencebook import CAPACITY, EvidenceBook
from tianfu.consensus.heightparams import HeightParams
from tianfu.consensus.inbox import INTERNAL, NET, OWN, REPLAY, EventInbox, JumpTo
from tianfu.consensus.interfaces import (
    E,
    FrameNetwork,
    LedgerLike,
    MempoolLike,
    PipelineLedger,
    Verified,
)
from tianfu.consensus.ledgerwork import DriverError, DriverTools, LedgerWork
from tianfu.consensus.messages import (
    Action,
    BlockBytesWrong,
    Broadcast,
    CommitBlock,
    CommitReceived,
    CreateProposalBlock,
    Event,
    ExecuteBlock,
    ProposalReceived,
    RecordEvidence,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    Start,
    VoteReceived,
)
from tianfu.consensus.peers import (
    ConsensusView,
    PeerGossip,
    Verifier,
)
from tianfu.consensus.privval import FilePrivValidator
from tianfu.consensus.replay import WalReplay
from tianfu.consensus.signguard import SignGuard
from tianfu.consensus.signing import Signer, report_store_behind
from tianfu.consensus.timeline import HeightTimeline
from tianfu.consensus.wal import ConsensusWAL, WalProposal, append_kept, entry_to_log, kept
from tianfu.types import (
    PREVOTE,
    CommitCertificate,
    ConsensusParams,
    ValidatorSet,
    Vote,
)

log = logging.getLogger(__name__)

CLOCK_WARN_MS = 2_000  # a clock further than this from the network's time is logged
DOUBLE_SIGN_CHECK_HEIGHTS = 10  # stored certificates searched for our own signatures

__all__ = ["ConsensusDriver", "DriverError", "UnknownAction"]


class UnknownAction(DriverError):
    """The core returned an action the driver has no handler for (a programming error)."""


def _no_handler(action: Never) -> NoReturn:
    """`typing.assert_never` for actions: mypy checks the dispatch is exhaustive, and at
    run time an unknown action stops the driver (a `DriverError`) instead of being lost."""
    raise UnknownAction(f"the driver has no handler for {type(action).__name__}: {action!r}")


CoreFactory = Callable[[int, ValidatorSet], ConsensusCore]
Queued = tuple[Event | JumpTo, str]


class ConsensusDriver(DriverSigning, Generic[E]):
    def __init__(
        self,
        ledger: LedgerLike[E],
        mempool: MempoolLike,
        privval: FilePrivValidator | None,
        wal: ConsensusWAL,
        network: FrameNetwork,
        *,
        params: ConsensusParams | None = None,
        core_factory: CoreFactory | None = None,
        clock: Callable[[], float] = time.time,
        timers: Timers | None = None,
        verifier: Verifier | None = None,
        on_commit: Callable[[E], None] | None = None,
        verified: Verified | None = None,
        gossip_interval_ms: int | None = None,
        min_block_interval_ms: int | None = None,
        peer_rate: float = 500.0,
        peer_burst: float = 1000.0,
        max_inbound: int = 10_000,
        max_evidence: int = CAPACITY,
        commit_lock: threading.Lock | None = None,
        check_store: Callable[[], object] | None = None,
        double_sign_check_heights: int = DOUBLE_SIGN_CHECK_HEIGHTS,
        clock_warn_ms: int = CLOCK_WARN_MS,
        pipeline: bool = True,
    ) -> None:
        self.ledger = ledger
        self.mempool = mempool
        self.privval = privval
        self.wal = wal
        self.network = network
        self.heights = HeightParams(
            ledger.params, params, gossip_interval_ms, min_block_interval_ms
        )
        # Build the next height's block while the decided one is stored (a local choice:
        # the block is the same either way); only with a ledger that can (`build_on`).
        self.pipeline = pipeline and isinstance(ledger, PipelineLedger)
        self.params = params or ledger.genesis.params  # those of the height being decided
        self.chain_id = ledger.chain_id
        self.vote_domain = ledger.genesis.vote_domain  # what votes sign (ADR 0039)
        self.clock = clock
        self.timers: Timers = timers or AsyncioTimers()
        self.verified = verified
        self.my_key = privval.public_key if privval is not None else None
        self._custom_core = core_factory is not None
        self._core_factory = core_factory or self._default_core
        self.gossip_interval = 0.0
        self.min_block_interval = 0.0
        self.core: ConsensusCore | None = None
        self.stats: Counter[str] = Counter()
        self.gossip = PeerGossip(
            self,
            network,
            self.vote_domain,
            self.my_key,
            timers=self.timers,
            stats=self.stats,
            verifier=verifier,
            peer_rate=peer_rate,
            peer_burst=peer_burst,
        )
        self._apply_params(self.params)
        self.replay = WalReplay()  # the WAL's entries of heights not decided yet
        self.failed: BaseException | None = None
        self._evidence = EvidenceBook(max_evidence)
        self.inbox: EventInbox[Queued] = EventInbox(max_inbound)
        self.timeouts = Timeouts(self.timers)
        self._tasks: list[asyncio.Task[Any]] = []
        self.background = Background(self.timers, self.stats)
        self._ledger_lock: asyncio.Lock | None = None
        self._height_since = 0.0
        self._last_commit = 0.0
        self._stopping = False
        # The timer that makes the signatures the quiet start held, once it is over.
        self._held_wake: TimerHandle | None = None
        self._marking_synced = False  # a gossip tick's mark of heights block sync stored
        self.timeline = HeightTimeline()
        self.double_sign_check_heights = double_sign_check_heights
        self.signer = Signer(
            privval, wal, self.vote_domain, clock=clock, timers=self.timers, stats=self.stats
        )
        self.signer.powers = self._powers
        self.gossip.own = self.signer  # this key's messages its signer did not sign
        self.clock_check = ClockCheck(clock, self.timers, self.stats, clock_warn_ms)
        # Shared with block sync: whoever stores height h first wins, the other skips it.
        self.commit_lock = commit_lock or threading.Lock()
        self.work: LedgerWork[E] = LedgerWork(
            ledger, mempool, wal, self.commit_lock, verified, self.gossip.known
        )
        self.gossip.bytes_check = self.work.bytes_check
        tools = DriverTools(self.timers, self.stats, self._in_thread, self._mark)
        self.blocks: BlockMaker[E] = BlockMaker(mempool, self.work, tools)
        self.committer: BlockCommitter[E] = BlockCommitter(
            ledger,
            mempool,
            self.work,
            self.signer,
            tools,
            jump_to=self.jump_to,
            on_commit=on_commit,
            check_store=check_store,
            fetch=self.gossip.request_commit,
        )

    # ------------------------------------------------------------ GossipHost

    def consensus(self) -> ConsensusView | None:
        if self._stopping or not self.inbox.opened:
            return None
        return self.core

    def height_started(self) -> float:
        return self._height_since

    def sign_guard(self) -> SignGuard | None:
        return self.signer.guard

    def deliver(self, event: VoteReceived | ProposalReceived) -> bool:
        size = len(event.proposal.block) if isinstance(event, ProposalReceived) else 0
        if not self.inbox.offer((event, NET), size):
            return False
        if isinstance(event, VoteReceived) and self.core is not None:
            if event.vote.height == self.core.height:  # (on arrival, not when handled)
                self.clock_check.arrived(
                    event.vote, self.core.validators, self.gossip.verify, self.vote_domain
                )
        if isinstance(event, ProposalReceived) and self.core is not None:
            if event.proposal.height == self.core.height:
                self.timeline.mark("proposal_in", self.timers.now())
        return True

    def deliver_commit(self, event: CommitReceived) -> bool:
        size = len(event.block) + 128 * len(event.certificate.signatures)
        return self.inbox.offer((event, NET), size, first=True)

    def decided_bytes(self, height: int, block_hash: bytes, block: bytes) -> None:
        self.committer.offer(height, block_hash, block)

    def load_commit(self, height: int) -> tuple[bytes, CommitCertificate] | None:
        block = self.ledger.store.load_block_encoded(height)  # its stored bytes, not re-encoded
        cert = self.ledger.store.load_cert(height)
        return None if block is None or cert is None else (block, cert)

    def handle_frame(self, peer: Any, kind: int, payload: bytes) -> None:
        """The p2p handler for KIND_PROPOSAL / KIND_VOTE / KIND_COMMIT (never raises)."""
        self.gossip.handle_frame(peer, kind, payload)

    # ------------------------------------------------------------ not signing

    @property
    def halted(self) -> str | None:
        """Why this node signs nothing at the moment (None: it signs)."""
        return self.signer.halted

    def halt(self, source: str, reason: str) -> None:
        """Sign nothing (no vote, no proposal) until `resume(source)`. Missing a vote is
        always safe; the core counts the skipped signature as given and moves on."""
        self.signer.halt(source, reason)

    def resume(self, source: str) -> None:
        self.signer.resume(source)

    # ------------------------------------------------------------ parameters

    def params_at(self, height: int) -> ConsensusParams:
        """The parameters of `height`: the constructor's override, else `ledger.params`."""
        return self.heights.at(height)

    def _apply_params(self, params: ConsensusParams) -> None:
        self.params = params
        self.gossip.interval = self.gossip_interval = self.heights.gossip_interval(params)
        self.min_block_interval = self.heights.min_block_interval(params)

    def use_params_of(self, height: int) -> ConsensusParams:
        """Switch to the parameters of `height` (the driver's and the default core's)."""
        params = self.params_at(height)
        self._apply_params(params)
        if self.core is not None and not self._custom_core:
            self.core.params = params  # read by the core only when it schedules a timeout
        return params

    def _default_core(self, height: int, validators: ValidatorSet) -> ConsensusCore:
        return ConsensusCore(
            self.vote_domain,
            height,
            validators,
            self.my_key,
            params=self.params_at(height),
            verifier=self.gossip.verify,
            bytes_check=self.work.bytes_check,
        )

    @property
    def height(self) -> int:
        """The height being decided (committed height + 1)."""
        return self.core.height if self.core is not None else self.ledger.height + 1

    def pending_evidence(self) -> list[Any]:
        return self._evidence.pending()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Build the core for ledger.height + 1, replay the WAL into it, then go live."""
        self.inbox.open()
        self._ledger_lock = asyncio.Lock()
        self._height_since = self._last_commit = self.timers.now()
        self.timeline.begin(self._height_since)
        h = self.ledger.height + 1
        self._apply_params(self.params_at(h))
        self.core = self._core_factory(h, self.ledger.validator_set(h))
        self.signer.recover(
            self.ledger.store,
            self.ledger.height,
            self.core.validators,
            listen_s=max(2 * self.gossip_interval, 1.0),
            check_heights=self.double_sign_check_heights,
        )
        await self._feed(Start(), INTERNAL)
        report_store_behind(self.privval, h, self.replay.load(self.wal.all_entries(), h))
        for ev in self.replay.events(h):
            await self._feed(*ev)
        self._tasks = [
            asyncio.create_task(self._consume(), name="consensus-loop"),
            asyncio.create_task(self._gossip_loop(), name="consensus-gossip"),
        ]

    @property
    def replayed(self) -> int:
        """WAL entries replayed into the core so far."""
        return self.replay.count

    async def run(self) -> None:
        """Start and run until stopped; raises `DriverError` if the driver fails."""
        if not self._tasks:
            await self.start()
        await self._tasks[0]

    async def stop(self) -> None:
        """Stop all tasks and timers and wait for ledger work in worker threads to finish."""
        self._stopping = self.committer.stopping = True
        self.timeouts.cancel_all()
        if self._held_wake is not None:
            self._held_wake.cancel()
        await self.background.stop(*self._tasks)
        await self.blocks.settle()

    async def _gossip_loop(self) -> None:
        while not self._stopping:
            await self.timers.sleep(self.gossip_interval)
            try:
                self._guard_tick()
                self._mark_synced()
                self.gossip.tick()
            except Exception:  # a task's top level: log and keep gossiping
                log.exception("consensus gossip failed")

    # ------------------------------------------------------------ the loop

    def _post(self, event: Event) -> None:
        if not self._stopping:
            self.inbox.put((event, INTERNAL))

    async def _consume(self) -> None:
        while not self._stopping:
            event, origin = await self.inbox.get()
            if self._stopping:
                break
            try:
                if isinstance(event, JumpTo):
                    await self._jump(event.height)
                else:
                    await self._feed(event, origin)
            except DriverError as exc:
                self.failed = exc
                raise
            except Exception:  # a task's top level: log, drop the event, keep deciding
                log.exception("consensus event %s failed", type(event).__name__)
                self.stats["event_errors"] += 1
            await asyncio.sleep(0)  # let the network and timers run between events

    def jump_to(self, height: int) -> None:
        """Block sync stored blocks up to `height`: abandon older heights, decide height + 1."""
        if self._stopping or not self.inbox.opened:
            return
        self.committer.store_moved.set()
        self.inbox.put((JumpTo(height), INTERNAL))

    async def _jump(self, height: int) -> None:
        core = self.core
        if core is None or core.height > height or self.ledger.height < height:
            return
        self.timeouts.cancel_all()
        self.blocks.executed.clear()
        self.gossip.new_height()
        try:
            await self._in_thread(self.wal.end_height, height)
        except OSError:
            log.exception("consensus WAL rotation failed")
        await self._check_and_mark(core.height, height)
        self._apply_params(self.params_at(height + 1))
        self.core = self._core_factory(height + 1, self.ledger.validator_set(height + 1))
        self._height_since = self._last_commit = self.timers.now()
        self.timeline.begin(self._height_since)
        self.stats["jumps"] += 1
        log.info("block sync reached height %d: consensus continues at %d", height, height + 1)
        await self._feed(Start(), INTERNAL)
        for ev in self.replay.events(height + 1):
            await self._feed(*ev)

    async def _feed(self, event: Event, origin: str) -> None:
        queue: deque[tuple[Event, str]] = deque([(event, origin)])
        while queue and not self._stopping:
            ev, org = queue.popleft()
            for action in self._handle(ev, org):
                queue.extend(await self._act(action, org == REPLAY))

    def _handle(self, ev: Event, origin: str) -> list[Action]:
        """Feed one event to the core; log it to the WAL if the core kept it."""
        core = self.core
        assert core is not None
        entry = entry_to_log(core, ev, origin == NET, origin == INTERNAL)
        if entry.__class__ is WalProposal:
            self._mark("proposal_fed")
        actions = core.handle(ev)
        if entry is not None and kept(core, entry):
            append_kept(self.wal, entry, self.stats)
        return actions

    @property
    def _inflight(self) -> set[asyncio.Future[Any]]:
        """Worker-thread trips running."""
        return self.background.inflight

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.background.in_thread(fn, *args)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.background.spawn(coro)

    def _mark(self, point: str) -> None:
        """Timeline point of the current height (see `HeightTimeline`)."""
        self.timeline.mark(point, self.timers.now())

    async def _act(self, a: Action, replay: bool) -> list[tuple[Event, str]]:
        """Carry out one action of the core; returns events to feed back at once."""
        match a:
            case SignVote() | SignProposal():
                if self.halted is None and isinstance(a, SignVote) and a.type != PREVOTE:
                    self._mark("prevote_quorum")
                signed = await self._sign(a, replay)
                return [] if signed is None else [(signed, OWN)]
            case Broadcast(message=msg):
                self.gossip.broadcast_own(msg)
                if isinstance(msg, Vote):
                    self._mark("prevote_sent" if msg.type == PREVOTE else "precommit_sent")
                else:
                    self._mark("proposal_sent")
            case ScheduleTimeout():
                self._schedule(a)
            case ExecuteBlock():
                self._spawn(self._execute(a))
            case CreateProposalBlock():
                self._spawn(self._build(a))
            case CommitBlock():
                return await self._commit(a)
            case RecordEvidence():
                self._evidence.add(a.evidence)
                self.stats["evidence"] += 1
            case _:
                _no_handler(a)
        return []

    # ------------------------------------------------------------ ledger work

    def _current_height(self) -> int | None:
        return self.core.height if self.core is not None else None

    async def _execute(self, a: ExecuteBlock) -> None:
        assert self._ledger_lock is not None
        event = await self.blocks.execute(a, self._ledger_lock, self._current_height)
        if isinstance(event, BlockBytesWrong):
            self.gossip.release(a.block_hash)  # the next copy's bytes are decoded
        core = self.core
        if core is not None:  # executed blocks whose bytes the core forgot go too
            self.blocks.keep_executed(lambda h: bool(core.blocks.get(h)) or h == a.block_hash)
        if event is not None:
            self._post(event)

    async def _build(self, a: CreateProposalBlock) -> None:
        assert self._ledger_lock is not None
        if self.my_key is None:
            return  # (the core of a node without a key never proposes)
        if self.signer.signed_past_proposal(a.height, a.round):
            return  # the signer would refuse
        p = self.params_at(a.height)
        ready = await self.blocks.build(
            a,
            p,
            self.my_key,
            self._ledger_lock,
            self._current_height,
            idle_until=self._last_commit + p.empty_block_interval_ms / 1000,
            stopping=lambda: self._stopping,
        )
        if ready is not None:
            self._post(ready)

    @property
    def clock_offset_ms(self) -> int | None:
        """Our clock - the network's, at the last commit decided live."""
        return self.clock_check.offset_ms

    async def _commit(self, a: CommitBlock) -> list[tuple[Event, str]]:
        assert self._ledger_lock is not None
        executed = self.blocks.executed.get(a.block_hash)
        self._mark("decided")
        self.signer.own_in(a.certificate, "the decided certificate")
        await self._mark_decided(a.height, stored=False)  # (see `_mark_decided`)
        if executed is not None and self.pipeline:
            self._prepare_next(executed, a)
        try:
            stored = await self.committer.commit(a, executed, self._ledger_lock)
        except DriverError as exc:  # another block at this height: never go on
            self.failed = exc
            self._stopping = self.committer.stopping = True
            log.error("decided block %d conflicts with the stored one: stopping: %s", a.height, exc)
            raise
        if not stored:  # the core stays decided at this height: it signs nothing more here
            self._spawn(self._recover_store(a, executed))
            return []
        await self._mark_decided(a.height)  # (if the guard held the mark before the store)
        return await self._next_height(a)

    def _prepare_next(self, executed: E, a: CommitBlock) -> None:
        """Start building block `a.height` + 1 on the decided `executed` (see
        `BlockMaker.prepare`) if this node proposes its first round and may sign it."""
        if self.my_key is None or self.core is None or self.halted is not None:
            return
        h = a.height + 1
        if self.signer.signed_past_proposal(h, 0):
            return
        try:
            proposer = self.core.proposer_selection(self.ledger.validator_set(h), h, 0)
            if proposer == self.my_key:
                self.blocks.prepare(executed, a.certificate, self.params_at(h), self.my_key)
        except Exception:  # a task's top level: the block is built at its height instead
            log.exception("preparing block %d failed", h)

    async def _recover_store(self, a: CommitBlock, executed: E | None) -> None:
        assert self._ledger_lock is not None
        try:
            await self.committer.recover(a, executed, self._ledger_lock)
        except DriverError as exc:
            self.failed = exc
            log.error("decided block %d conflicts with the stored one: %s", a.height, exc)

    async def _next_height(self, a: CommitBlock) -> list[tuple[Event, str]]:
        self.blocks.executed.clear()
        self.blocks.decided(self.params_at(a.height), a.certificate.round)
        self.gossip.new_height()
        core, replayed = self.core, self.replay.decided(a.height)
        if core is not None and core.from_commit_received(a.block_hash):
            self.signer.caught_up()
        if core is not None and not replayed and not core.from_commit_received(a.block_hash):
            # (decided live: not a catch-up commit frame, nor from the WAL's old votes)
            self.clock_check.check_commit(a.certificate)
        try:  # the next height's timeouts, limits and intervals (a change from H signs H+2)
            self.use_params_of(a.height + 1)
        except Exception:  # a task's top level: keep the current parameters, log
            log.exception("reading the parameters of height %d failed", a.height + 1)
        self._mark("callbacks_done")
        wait = self._last_commit + self.min_block_interval - self.timers.now()
        if wait > 0:
            await self.timers.sleep(wait)
        self._last_commit = self._height_since = now = self.timers.now()
        self.timeline.next_height(now)
        committed = (a.committed(self.ledger.validator_set(a.height + 1)), INTERNAL)
        return [committed, *self.replay.events(a.height + 1)]
