"""The networked consensus driver: runs a `ConsensusCore` on asyncio with ledger, signer, WAL and peers.

One consumer task feeds the core one event at a time and carries out its actions in order
(the contract is the docstring of `tianfu.consensus.core`). Slow work runs in worker
threads: block building and execution (`ledger.build_block` / `ledger.execute`, one at a
time under a lock), signing (the privval fsyncs) and committing. Their results come back
as events through an internal queue that has priority over network input.

Signing: `SignVote` / `SignProposal` -> `FilePrivValidator` (persists before it returns)
-> WAL append + fsync -> the signed message is fed back to the core, which answers with
`Broadcast`. A precommit of a block carries this node's clock, at least the block's time
+ 1 ms (BFT time, `tianfu.types.block`). When the signer state may be older than what the
key signed (`FilePrivValidator.recovery`, a signer behind the store or behind its own
messages in the WAL), a `SignGuard` first learns how far the key and the network got and
holds signing until the network has moved past it (`tianfu.consensus.signguard`).

Clock: at each commit the driver compares its clock with the network's time (the median
of the decided certificate's precommit times); `clock_offset_ms` is the difference, logged
at WARNING when it exceeds `clock_warn_ms`. The clock is never used to judge a block.

Inbound frames (`handle_frame`, the p2p handler), catch-up answers and gossip are in
`tianfu.consensus.peers` (the `PeerMessages` mixin of the driver).

Parameters: the timeouts, block limits and intervals of height h are `ledger.params(h)`
(governance state of h - 2, ADR 0012), taken when the core is built for h and again
before each `BlockCommitted` moves it to the next height; a `params` given to the
constructor overrides them at every height (tests and simulations).

Layering: consensus does not import p2p; the kind numbers (`tianfu.consensus.peers`,
re-exported here) equal `tianfu.p2p.protocol.KIND_*` (a test checks it) and `network` is any
object with `broadcast(kind, payload)` and `send(address, kind, payload)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from tianfu.codec import CodecError, encode
from tianfu.consensus.core import ConsensusCore
from tianfu.consensus.culprit import build_dropping_culprit
from tianfu.consensus.messages import (
    MAX_BLOCK_BYTES,
    BlockCommitted,
    BlockExecuted,
    Broadcast,
    CommitBlock,
    CreateProposalBlock,
    Event,
    ExecuteBlock,
    ProposalBlockReady,
    ProposalReceived,
    RecordEvidence,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    SkipToRound,
    Start,
    TimeoutFired,
    VoteReceived,
)
from tianfu.consensus.peers import (  # noqa: F401 (re-exported: this module's interface)
    INTERNAL,
    KIND_COMMIT,
    KIND_PROPOSAL,
    KIND_VOTE,
    MAX_COMMIT_FRAME,
    MAX_OWN_KEPT,
    MAX_PROPOSAL_FRAME,
    MAX_RELAY,
    MAX_VOTE_FRAME,
    NET,
    OWN,
    REPLAY,
    CommitFrame,
    PeerMessages,
    TokenBucket,
)
from tianfu.consensus.privval import STEP_PROPOSAL, DoubleSignRefused, FilePrivValidator
from tianfu.consensus.signguard import SignGuard, restart_guard
from tianfu.consensus.timeline import HeightTimeline
from tianfu.consensus.wal import (
    ConsensusWAL,
    WalEntry,
    WALError,
    WalExecuted,
    WalProposal,
    WalTimeout,
    WalVote,
    entry_event,
)
from tianfu.types import (
    PRECOMMIT,
    PREVOTE,
    Block,
    CommitCertificate,
    ConsensusParams,
    ValidatorSet,
    Vote,
)
from tianfu.types.block import block_time_of, decode_block, median_time

log = logging.getLogger(__name__)

CLOCK_WARN_MS = 2_000  # a clock further than this from the network's time is logged
DOUBLE_SIGN_CHECK_HEIGHTS = 10  # stored certificates searched for our own signatures


class _JumpTo:
    """Internal marker: block sync has stored blocks up to `height`."""

    def __init__(self, height: int) -> None:
        self.height = height


class DriverError(Exception):
    """The driver cannot go on (a different block is stored at a decided height: a fork)."""


STORE_RETRY_S = (0.5, 5.0)  # first and longest wait between attempts to store a decided block


class LedgerLike(Protocol):
    chain_id: str
    genesis: Any
    store: Any  # load_block(h), load_cert(h)

    @property
    def height(self) -> int: ...
    def validator_set(self, height: int) -> ValidatorSet: ...
    # Optional: `params(height) -> ConsensusParams` (else the genesis parameters are used).
    def build_block(self, txs: list, proposer: bytes, verified: Any = None) -> Any: ...
    def execute(self, block: Block, verified: Any = None) -> Any: ...
    def commit(self, executed: Any, cert: CommitCertificate) -> None: ...


class FrameNetwork(Protocol):
    def broadcast(self, kind: int, payload: bytes) -> None: ...
    def send(self, peer: str, kind: int, payload: bytes) -> None: ...


CoreFactory = Callable[[int, ValidatorSet], ConsensusCore]


class ConsensusDriver(PeerMessages):
    def __init__(
        self,
        ledger: LedgerLike,
        mempool: Any,
        privval: FilePrivValidator | None,
        wal: ConsensusWAL,
        network: FrameNetwork,
        *,
        params: ConsensusParams | None = None,
        core_factory: CoreFactory | None = None,
        clock: Callable[[], float] = time.time,
        on_commit: Callable[[Any], None] | None = None,
        verified: Callable[[bytes], bool] | None = None,
        gossip_interval_ms: int | None = None,
        min_block_interval_ms: int | None = None,
        peer_rate: float = 500.0,
        peer_burst: float = 1000.0,
        max_inbound: int = 10_000,
        max_evidence: int = 256,
        commit_lock: threading.Lock | None = None,
        check_store: Callable[[], object] | None = None,
        double_sign_check_heights: int = DOUBLE_SIGN_CHECK_HEIGHTS,
        clock_warn_ms: int = CLOCK_WARN_MS,
    ) -> None:
        self.ledger = ledger
        self.mempool = mempool
        self.privval = privval
        self.wal = wal
        self.network = network
        self._fixed_params = params
        self.params = params or ledger.genesis.params  # those of the height being decided
        self.chain_id = ledger.chain_id
        self.clock = clock
        self.on_commit = on_commit
        self.verified = verified
        self.my_key = privval.public_key if privval is not None else None
        self._custom_core = core_factory is not None
        self._core_factory = core_factory or self._default_core
        self._gossip_ms = gossip_interval_ms
        self._min_interval_ms = min_block_interval_ms
        self.gossip_interval = 0.0
        self.min_block_interval = 0.0
        self._apply_params(self.params)
        self.peer_rate, self.peer_burst = peer_rate, peer_burst
        self.max_inbound = max_inbound
        self.core: ConsensusCore | None = None
        self.stats: Counter[str] = Counter()
        self.replayed = 0
        self.failed: BaseException | None = None
        self._evidence: deque[Any] = deque(maxlen=max_evidence)
        self._verify_cache: OrderedDict[tuple[bytes, bytes, bytes], bool] = OrderedDict()
        self._buckets: dict[str, TokenBucket] = {}
        self._answered: dict[tuple[str, int], float] = {}
        self._requested: dict[tuple[str, int], float] = {}
        self._internal: deque[tuple[Event, str]] = deque()
        self._inbound: deque[tuple[Event, str]] = deque()
        self._wake: asyncio.Event | None = None
        self._timers: dict[tuple[int, int, int], asyncio.TimerHandle] = {}
        self._executed: dict[bytes, Any] = {}
        self._own: list[tuple[int, int, bytes]] = []  # (round, kind, payload) of this height
        self._tasks: list[asyncio.Task[Any]] = []
        self._spawned: set[asyncio.Task[Any]] = set()
        self._inflight: set[asyncio.Future[Any]] = set()
        self._ledger_lock: asyncio.Lock | None = None
        self._progress: tuple[int, int, int] = (0, -1, 0)
        self._height_since = 0.0
        self._last_commit = 0.0
        self._stopping = False
        self.timeline = HeightTimeline()
        self.double_sign_check_heights = double_sign_check_heights
        self.guard: SignGuard | None = None
        self.clock_warn_ms = clock_warn_ms
        self.clock_offset_ms: int | None = None  # our clock - the network's, at the last commit
        self._clock_warned = -1e9
        # Shared with block sync: whoever stores height h first wins, the other skips it.
        self.commit_lock = commit_lock or threading.Lock()
        # Checks the store (worker thread; raises if damaged) before voting resumes after a
        # failed write. It takes `commit_lock` itself if it needs a still store.
        self.check_store = check_store
        self._halts: dict[str, str] = {}  # why this node does not sign now, by source
        self._store_moved = asyncio.Event()  # block sync stored blocks: retry a failed store now

    # ------------------------------------------------------------ not signing

    @property
    def halted(self) -> str | None:
        """Why this node signs nothing at the moment (None: it signs)."""
        return "; ".join(self._halts.values()) if self._halts else None

    def halt(self, source: str, reason: str) -> None:
        """Sign nothing (no vote, no proposal) until `resume(source)`. Missing a vote is
        always safe; the core counts the skipped signature as given and moves on."""
        if self._halts.get(source) != reason:
            log.error("not signing: %s", reason)
        self._halts[source] = reason

    def resume(self, source: str) -> None:
        if self._halts.pop(source, None) is not None and not self._halts:
            log.warning("signing again")

    # ------------------------------------------------------------ public

    def params_at(self, height: int) -> ConsensusParams:
        """The parameters of `height`: the constructor's override, else `ledger.params`."""
        if self._fixed_params is not None:
            return self._fixed_params
        per_height = getattr(self.ledger, "params", None)
        if callable(per_height):
            params: ConsensusParams = per_height(height)
            return params
        params = self.ledger.genesis.params
        return params

    def _apply_params(self, params: ConsensusParams) -> None:
        self.params = params
        self.gossip_interval = (self._gossip_ms or params.timeout_vote_ms) / 1000
        interval = self._min_interval_ms
        self.min_block_interval = (
            params.block_interval_ms if interval is None else interval
        ) / 1000

    def use_params_of(self, height: int) -> ConsensusParams:
        """Switch to the parameters of `height` (the driver's and the default core's)."""
        params = self.params_at(height)
        self._apply_params(params)
        if self.core is not None and not self._custom_core:
            self.core.params = params  # read by the core only when it schedules a timeout
        return params

    def _default_core(self, height: int, validators: ValidatorSet) -> ConsensusCore:
        return ConsensusCore(
            self.chain_id,
            height,
            validators,
            self.my_key,
            params=self.params_at(height),
            verifier=self._verify,
        )

    @property
    def height(self) -> int:
        """The height being decided (committed height + 1)."""
        return self.core.height if self.core is not None else self.ledger.height + 1

    def pending_evidence(self) -> list[Any]:
        return list(self._evidence)

    def _advance_signer_from_wal(self) -> None:
        """If the WAL holds a message of ours newer than the signer's state (the state's
        newest copy was lost), the signer takes it as its last signed position."""
        pv = self.privval
        if pv is None:
            return
        best: tuple[tuple[int, int, int], bytes, bytes, int] | None = None
        for e in self.wal.all_entries():
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

    def _make_guard(self, now: float) -> SignGuard | None:
        """A `SignGuard` if the signer state may be older than what the key signed."""
        pv, core = self.privval, self.core
        if pv is None or core is None:
            return None
        own = [
            (m.height, m.round)
            for e in self.wal.all_entries()
            if isinstance(e, WalVote | WalProposal)
            for m in (e.vote if isinstance(e, WalVote) else e.proposal,)
            if (m.validator if isinstance(m, Vote) else m.proposer) == pv.public_key
        ]
        store, top = self.ledger.store, self.ledger.height
        recent = range(max(1, top - self.double_sign_check_heights + 1), top + 1)
        certs = [store.load_cert(h) for h in recent]
        certs += [getattr(store.load_header(h + 1), "last_commit", None) for h in recent]
        guard = restart_guard(
            my_key=pv.public_key,
            recovery=pv.recovery,
            last_hrs=pv.last_hrs(),
            own_in_wal=own,
            store_height=top,
            certificates=[c for c in certs if c is not None],
            powers={v.public_key: v.power for v in core.validators.validators},
            now=now,
            listen_s=max(2 * self.gossip_interval, 1.0),
        )
        if guard is not None:
            self.stats["sign_guard"] += 1
        return guard

    async def start(self) -> None:
        """Build the core for ledger.height + 1, replay the WAL into it, then go live."""
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._ledger_lock = asyncio.Lock()
        self._height_since = self._last_commit = loop.time()
        self.timeline.begin(self._height_since)
        h = self.ledger.height + 1
        self._apply_params(self.params_at(h))
        self.core = self._core_factory(h, self.ledger.validator_set(h))
        self.guard = self._make_guard(self._height_since)
        self._advance_signer_from_wal()
        await self._feed(Start(), INTERNAL)
        _, entries = self.wal.records()
        for entry in entries:
            if entry.height != self.core.height:
                continue
            event = entry_event(entry)
            self.replayed += 1
            await self._feed(event, REPLAY)
        self._tasks = [
            asyncio.create_task(self._consume(), name="consensus-loop"),
            asyncio.create_task(self._gossip(), name="consensus-gossip"),
        ]

    async def run(self) -> None:
        """Start and run until stopped; raises `DriverError` if the driver fails."""
        if not self._tasks:
            await self.start()
        await self._tasks[0]

    async def stop(self) -> None:
        """Stop all tasks and timers and wait for ledger work in worker threads to finish."""
        self._stopping = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        tasks = [*self._tasks, *self._spawned]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    # ------------------------------------------------------------ the loop

    def _post(self, event: Event) -> None:
        if self._stopping or self._wake is None:
            return
        self._internal.append((event, INTERNAL))
        self._wake.set()

    async def _consume(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            if self._internal:
                event, origin = self._internal.popleft()
            elif self._inbound:
                event, origin = self._inbound.popleft()
            else:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                if isinstance(event, _JumpTo):
                    await self._jump(event.height)
                else:
                    await self._feed(event, origin)
            except DriverError:
                raise
            except Exception:  # a task's top level: log, drop the event, keep deciding
                log.exception("consensus event %s failed", type(event).__name__)
                self.stats["event_errors"] += 1
            await asyncio.sleep(0)  # let the network and timers run between events

    def jump_to(self, height: int) -> None:
        """Block sync stored blocks up to `height`: abandon older heights, decide height + 1."""
        if self._stopping or self._wake is None:
            return
        self._store_moved.set()
        self._internal.append((_JumpTo(height), INTERNAL))  # type: ignore[arg-type]
        self._wake.set()

    async def _jump(self, height: int) -> None:
        core = self.core
        if core is None or core.height > height or self.ledger.height < height:
            return
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._executed.clear()
        self._own.clear()
        try:
            await self._in_thread(self.wal.end_height, height)
        except OSError:
            log.exception("consensus WAL rotation failed")
        self._apply_params(self.params_at(height + 1))
        self.core = self._core_factory(height + 1, self.ledger.validator_set(height + 1))
        self._height_since = self._last_commit = asyncio.get_running_loop().time()
        self.timeline.begin(self._height_since)
        self.stats["jumps"] += 1
        log.info("block sync reached height %d: consensus continues at %d", height, height + 1)
        await self._feed(Start(), INTERNAL)

    def _store(self, executed: Any, certificate: CommitCertificate) -> bool:
        """Store a decided block unless block sync already stored it; False if it had."""
        header = executed.block.header
        with self.commit_lock:
            if self.ledger.height >= header.height:
                stored = self.ledger.store.load_header(header.height)
                if stored is not None and stored.hash == header.hash:
                    return False
                raise DriverError(f"a different block is already stored at height {header.height}")
            self.ledger.commit(executed, certificate)
            return True

    async def _feed(self, event: Event, origin: str) -> None:
        queue: deque[tuple[Event, str]] = deque([(event, origin)])
        while queue and not self._stopping:
            ev, org = queue.popleft()
            for action in self._handle(ev, org):
                queue.extend(await self._act(action, org == REPLAY))

    def _handle(self, ev: Event, origin: str) -> list[Any]:
        core = self.core
        assert core is not None
        entry: WalEntry | None = None
        if origin == NET and isinstance(ev, VoteReceived | ProposalReceived):
            msg = ev.vote if isinstance(ev, VoteReceived) else ev.proposal
            if msg.height == core.height and not self._known(msg):
                entry = WalVote(msg) if isinstance(msg, Vote) else WalProposal(msg)
                if entry.__class__ is WalProposal:
                    self._mark("proposal_fed")
        elif origin == INTERNAL and isinstance(ev, TimeoutFired):
            if (ev.height, ev.round) == (core.height, core.round) and core.decided is None:
                entry = WalTimeout(ev.height, ev.round, int(ev.step))
        elif origin == INTERNAL and isinstance(ev, BlockExecuted):
            if ev.height == core.height and core.decided is None:
                entry = WalExecuted(ev.height, ev.block_hash, ev.valid)
        actions = core.handle(ev)
        if entry is not None:
            if isinstance(entry, WalVote | WalProposal) and not self._known(
                entry.vote if isinstance(entry, WalVote) else entry.proposal
            ):
                entry = None  # the core did not keep it: nothing to replay
            if entry is not None:
                self._wal_append(entry, sync=False)
        return actions

    def _wal_append(self, entry: WalEntry, *, sync: bool) -> None:
        try:
            self.wal.append(entry, sync=sync)
        except OSError:
            log.exception("consensus WAL write failed")
            self.stats["wal_errors"] += 1

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn` in a worker thread; a cancelled caller does not abandon the thread."""
        self.stats["thread_hops"] += 1
        fut = asyncio.ensure_future(asyncio.to_thread(fn, *args))
        self._inflight.add(fut)
        fut.add_done_callback(self._inflight.discard)
        return await asyncio.shield(fut)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    def _mark(self, point: str) -> None:
        """Timeline point of the current height (see `HeightTimeline`)."""
        self.timeline.mark(point, asyncio.get_running_loop().time())

    async def _act(self, a: Any, replay: bool) -> list[tuple[Event, str]]:
        if isinstance(a, SignVote | SignProposal):
            if self._halts:
                self.stats["sign_halted"] += 1
                return []
            if isinstance(a, SignVote) and a.type != PREVOTE:
                self._mark("prevote_quorum")
            return await self._sign(a, replay)
        if isinstance(a, Broadcast):
            self._broadcast(a.message)
            msg = a.message
            if isinstance(msg, Vote):
                self._mark("prevote_sent" if msg.type == PREVOTE else "precommit_sent")
            else:
                self._mark("proposal_sent")
        elif isinstance(a, ScheduleTimeout):
            self._schedule(a)
        elif isinstance(a, ExecuteBlock):
            self._spawn(self._execute(a))
        elif isinstance(a, CreateProposalBlock):
            self._spawn(self._build(a))
        elif isinstance(a, CommitBlock):
            return await self._commit(a)
        elif isinstance(a, RecordEvidence):
            self._evidence.append(a.evidence)
            self.stats["evidence"] += 1
        return []

    # ------------------------------------------------------------ signing and sending

    async def _sign(self, a: SignVote | SignProposal, replay: bool) -> list[tuple[Event, str]]:
        pv = self.privval
        if pv is None:
            return []
        if isinstance(a, SignVote):
            step = 1 if a.type == PREVOTE else 2
        else:
            step = STEP_PROPOSAL
        last = pv.last_hrs()
        if replay and last is not None and (a.height, a.round, step) < last:
            return []  # signed before the crash; the WAL holds that message, replayed next
        guard = self.guard
        if guard is not None:
            if guard.finished(a.height):
                self.guard = None
            elif not guard.allows(a.height, a.round, asyncio.get_running_loop().time()):
                self.stats["sign_held"] += 1
                self._guard_tick()
                log.info(
                    "not signing at height %d round %d: signer state recovery (%s) holds "
                    "signing until %s",
                    a.height,
                    a.round,
                    guard.reason,
                    "the network has been heard" if guard.listening else guard.first_allowed(),
                )
                return []
        time_ms = 0
        if isinstance(a, SignVote) and a.type == PRECOMMIT and a.block_hash:
            try:
                block_ms = self._block_time(a.block_hash)
            except CodecError:  # (a block the core holds always decodes: it was executed)
                log.error("no time for block %s: not precommitting it", a.block_hash.hex()[:12])
                return []
            time_ms = max(int(self.clock() * 1000), block_ms + 1)
        try:  # one worker-thread trip for the signer's fsync and the WAL's
            event, wal_error = await self._in_thread(self._sign_sync, pv, a, time_ms)
        except DoubleSignRefused as exc:
            log.warning("signer refused: %s", exc)
            self.stats["sign_refused"] += 1
            return []
        if wal_error is not None:
            log.error("consensus WAL write failed: %s", wal_error)
            self.stats["wal_errors"] += 1
        self.stats["signed"] += 1
        return [(event, OWN)]

    def _guard_tick(self) -> None:
        """A recovering node in a round it may not sign in moves to the first it may."""
        guard, core = self.guard, self.core
        if guard is None or core is None or core.decided is not None or self._stopping:
            return
        if not guard.settle(asyncio.get_running_loop().time()):
            return
        r = guard.first_round(core.height)
        if r is not None and r > core.round:
            log.info("signer state recovery: moving to round %d of height %d", r, core.height)
            self._post(SkipToRound(core.height, r))

    def _block_time(self, block_hash: bytes) -> int:
        """The header time of a block of the current height that the core holds."""
        executed = self._executed.get(block_hash)
        if executed is not None:
            t: int = executed.block.header.time_ms
            return t
        assert self.core is not None
        return block_time_of(self.core.blocks.get(block_hash, b""))

    def _sign_sync(
        self, pv: FilePrivValidator, a: SignVote | SignProposal, time_ms: int = 0
    ) -> tuple[Event, OSError | None]:
        """(worker thread) Sign (the signer persists first), then append to the WAL and
        fsync: both durable before the message is fed back, hence before `Broadcast`."""
        if isinstance(a, SignVote):
            vote = pv.sign_vote(self.chain_id, a.height, a.round, a.type, a.block_hash, time_ms)
            entry: WalEntry = WalVote(vote)
            event: Event = VoteReceived(vote)
        else:
            p = pv.sign_proposal(
                self.chain_id, a.height, a.round, a.pol_round, a.block_hash, a.block
            )
            entry, event = WalProposal(p), ProposalReceived(p)
        try:
            self.wal.append(entry, sync=True)
        except OSError as exc:  # logged by the caller; the signature stands
            return event, exc
        return event, None

    def _schedule(self, a: ScheduleTimeout) -> None:
        core = self.core
        assert core is not None
        loop = asyncio.get_running_loop()
        for key in [k for k in self._timers if k[:2] < (core.height, core.round)]:
            self._timers.pop(key).cancel()
        key = (a.height, a.round, int(a.step))
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        event = TimeoutFired(a.height, a.round, a.step)

        def fire() -> None:
            self._timers.pop(key, None)
            self._post(event)

        self._timers[key] = loop.call_later(a.delay_ms / 1000, fire)

    # ------------------------------------------------------------ ledger work

    def _execute_sync(self, block_bytes: bytes, block_hash: bytes) -> Any:
        # Transactions already in our mempool (decoded, checked, hashed) are reused.
        block = decode_block(
            block_bytes,
            self.mempool.get,
            max_size=MAX_BLOCK_BYTES,
        )
        if block.hash != block_hash:
            raise ValueError("block does not hash to the proposal's hash")
        # (The block's time is checked by the ledger against the median time of the
        # certificate its header carries: no clock is consulted.)
        return self.ledger.execute(block, self.verified)

    async def _execute(self, a: ExecuteBlock) -> None:
        assert self._ledger_lock is not None and self.core is not None
        valid = False
        if a.block:
            try:
                async with self._ledger_lock:
                    if self.core.height != a.height:
                        return
                    self._mark("exec_begin")
                    executed = await self._in_thread(self._execute_sync, a.block, a.block_hash)
                    self._mark("executed")
                valid = True
                if self.core.height == a.height:
                    self._executed[a.block_hash] = executed
            except ValueError as exc:  # CodecError and the ledger's InvalidBlock
                log.info("block %d %s is invalid: %s", a.height, a.block_hash.hex()[:12], exc)
            except Exception:  # a task's top level: treat as invalid, log
                log.exception("executing block %d failed", a.height)
        self.stats["executed"] += 1
        self._post(BlockExecuted(a.height, a.block_hash, valid))

    def _build_sync(self, txs: list) -> tuple[Any, bytes, Any, str]:
        """(worker thread) The proposal block of `txs` and its bytes. If no block of them
        builds, the longest prefix before the transaction that makes building fail; that
        transaction is returned too (to drop, with the error), else None
        (`tianfu.consensus.culprit`)."""
        assert self.my_key is not None
        key = self.my_key

        def attempt(candidates: list) -> Any:
            return self.ledger.build_block(candidates, key, self.verified)

        built = build_dropping_culprit(attempt, txs)
        data = encode(built.result.block)
        if len(data) > MAX_BLOCK_BYTES:  # no one transaction's fault: max_block_bytes bounds it
            raise ValueError(
                f"the block encodes to {len(data)} bytes; a proposal carries at most "
                f"{MAX_BLOCK_BYTES}"
            )
        return built.result, data, built.culprit, built.error

    async def _build(self, a: CreateProposalBlock) -> None:
        assert self._ledger_lock is not None and self.core is not None
        last = self.privval.last_hrs() if self.privval is not None else None
        if last is not None and last >= (a.height, a.round, STEP_PROPOSAL):
            return  # already signed at or past this proposal: the signer would refuse
        p = self.params_at(a.height)
        # Idle chain: wait (bounded, well inside the others' propose timeout) for transactions
        # rather than fill the ledger with empty blocks.
        loop = asyncio.get_running_loop()
        deadline = self._last_commit + p.empty_block_interval_ms / 1000
        while not len(self.mempool) and loop.time() < deadline and not self._stopping:
            if self.core is None or self.core.height != a.height:
                return
            await asyncio.sleep(0.01)
        self._mark("build")
        txs = self.mempool.take(p.max_block_txs, p.max_block_bytes)
        try:
            async with self._ledger_lock:
                if self.core.height != a.height:
                    return
                executed, data, culprit, error = await self._in_thread(self._build_sync, txs)
                self._mark("built")
        except Exception:  # even an empty block failed (a task's top level): no proposal
            log.exception("building block %d failed", a.height)
            return
        dropped = []
        for h, why in getattr(executed.result, "dropped", []):
            log.info("dropping transaction %s: %s", h.hex(), why)
            dropped.append(h)
        if culprit is not None:
            log.warning(
                "dropping transaction %s: a block holding it cannot be built (%s)",
                culprit.hash.hex(),
                error,
            )
            dropped.append(culprit.hash)
        if dropped:
            self.mempool.remove(dropped)
        if self.core.height != a.height:
            return
        block_hash = executed.block.hash
        self._executed[block_hash] = executed
        self.stats["built"] += 1
        self._post(ProposalBlockReady(a.height, a.round, block_hash, data))

    def _check_clock(self, cert: CommitCertificate) -> None:
        """Compare our clock with the network's time: the decided certificate's median."""
        try:
            network_ms = median_time(cert, self.ledger.validator_set(cert.height))
        except ValueError:
            return
        offset = int(self.clock() * 1000) - network_ms
        self.clock_offset_ms = offset
        if abs(offset) > self.clock_warn_ms:
            self.stats["clock_skewed"] += 1
            now = asyncio.get_running_loop().time()
            if now - self._clock_warned >= 10.0:
                self._clock_warned = now
                log.warning(
                    "this node's clock is %d ms %s the network's time (median of the precommit "
                    "times of height %d; bound %d ms): fix its time synchronisation",
                    abs(offset),
                    "ahead of" if offset > 0 else "behind",
                    cert.height,
                    self.clock_warn_ms,
                )

    def _commit_sync(self, executed: Any, a: CommitBlock) -> tuple[Any, bool, Exception | None]:
        """(worker thread) Re-execute if the decided block is not the one executed, store
        it, then mark the height ended in the WAL — in that order, in one thread trip."""
        if executed is None or executed.block.hash != a.block_hash:
            executed = self._execute_sync(a.block, a.block_hash)
        stored_here = self._store(executed, a.certificate)
        try:
            self.wal.end_height(a.height)
        except (OSError, WALError) as exc:  # the block is stored: not fatal
            return executed, stored_here, exc
        return executed, stored_here, None

    async def _commit(self, a: CommitBlock) -> list[tuple[Event, str]]:
        assert self._ledger_lock is not None
        executed = self._executed.get(a.block_hash)
        self._mark("decided")
        try:
            async with self._ledger_lock:
                executed, stored_here, wal_error = await self._in_thread(
                    self._commit_sync, executed, a
                )
            self._mark("stored")
        except DriverError as exc:  # another block at this height: never go on
            self.failed = exc
            self._stopping = True
            log.error("decided block %d conflicts with the stored one: stopping: %s", a.height, exc)
            raise
        except Exception as exc:  # the store could not take it (disk full, I/O error, ...)
            self.stats["store_failures"] += 1
            self.halt("store", f"cannot store decided block {a.height}: {exc}")
            self._spawn(self._recover_store(a, executed))
            return []  # the core stays decided at this height: it signs nothing more here
        if wal_error is not None:
            log.error("consensus WAL rotation failed: %s", wal_error)
            self.stats["wal_errors"] += 1
        self._after_store(executed, stored_here)
        return await self._next_height(a)

    async def _recover_store(self, a: CommitBlock, executed: Any) -> None:
        """Retry storing a decided block (backing off) until it is stored — by us, or by
        block sync meanwhile — then check the store, and only then sign again."""
        assert self._ledger_lock is not None
        delay, longest = STORE_RETRY_S
        failures = 0
        while not self._stopping:
            self._store_moved.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._store_moved.wait(), delay)
            delay = min(delay * 2, longest)
            try:
                async with self._ledger_lock:
                    stored_here = False
                    if self.ledger.height < a.height:
                        executed, stored_here, _ = await self._in_thread(
                            self._commit_sync, executed, a
                        )
                    if self.check_store is not None:
                        await self._in_thread(self.check_store)
            except DriverError as exc:
                self.failed = exc
                log.error("decided block %d conflicts with the stored one: %s", a.height, exc)
                return
            except Exception as exc:  # still cannot write (or the check failed): wait more
                failures += 1
                if failures == 1 or failures % 12 == 0:
                    log.warning(
                        "still cannot store decided block %d (%d attempts): %s",
                        a.height,
                        failures,
                        exc,
                    )
                continue
            if stored_here:
                self._after_store(executed, stored_here)
            log.warning(
                "store writable again: block %d stored%s; resuming consensus at %d",
                a.height,
                " and the store checked" if self.check_store is not None else "",
                self.ledger.height + 1,
            )
            self.resume("store")
            self.jump_to(self.ledger.height)
            return

    def _after_store(self, executed: Any, stored_here: bool) -> None:
        self.mempool.remove([t.hash for t in executed.block.txs])
        self.stats["committed"] += 1
        if self.on_commit is not None and stored_here:
            try:
                self.on_commit(executed)
            except Exception:  # a callback's failure must not stop consensus
                log.exception("on_commit callback failed")

    async def _next_height(self, a: CommitBlock) -> list[tuple[Event, str]]:
        self._executed.clear()
        self._own.clear()
        if self.core is not None and not self.core.from_commit_received(a.block_hash):
            self._check_clock(a.certificate)  # (decided live: not a catch-up commit frame)
        try:  # the next height's timeouts, limits and intervals (a change from H signs H+2)
            self.use_params_of(a.height + 1)
        except Exception:  # a task's top level: keep the current parameters, log
            log.exception("reading the parameters of height %d failed", a.height + 1)
        self._mark("callbacks_done")
        loop = asyncio.get_running_loop()
        wait = self._last_commit + self.min_block_interval - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_commit = self._height_since = now = loop.time()
        self.timeline.end(now)
        line = self.timeline.line(now)
        if line:
            log.info("consensus timeline: %s", line)
        self.timeline.begin(now)
        return [(BlockCommitted(a.height, self.ledger.validator_set(a.height + 1)), INTERNAL)]
