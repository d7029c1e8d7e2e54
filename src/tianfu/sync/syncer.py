"""Block sync: catch up with peers by fetching blocks with commit certificates and checking each.

A node that is behind asks a peer that is ahead for the next blocks. Nothing a peer says
is trusted: every block must be exactly the next height, carry a commit certificate with
more than 2/3 of the validators' power for that very header (`verify_commit`), and
re-execute to the header's roots (`Ledger.execute`) before it is committed. A peer that
sends anything else is banned for a while and the rest of its batch is discarded.

The same object answers other peers' requests from the local store, with a bounded
number of blocks and bytes per response, a per-peer rate limit and threads of its own
(`tianfu.sync.serving`: a bounded number of answers at once), and broadcasts this
node's status (height, head hash) every `status_interval_s` and after each commit.

Coordination with consensus (docs/adr/0013-block-sync.md): consensus handles a gap of
one height (`KIND_COMMIT`); this syncer takes over when the best peer is more than
`consensus_gap` heights ahead. `on_sync_started(height, target)` tells the node to
abandon consensus for the old height, `on_caught_up(height)` to restart it at height+1.
Blocks are verified, executed and committed in a worker thread (`tianfu.sync.apply`) under
`commit_lock`, the lock the consensus driver must also hold while it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, TypeVar

from tianfu.codec import CodecError, decode, encode
from tianfu.consensus.messages import MAX_BLOCK_BYTES  # the largest block a proposal carries
from tianfu.crypto import CertificateError
from tianfu.execution.errors import host_read_failure
from tianfu.ledger import InvalidBlock, Ledger
from tianfu.ledger.ledger import ExecutedBlock
from tianfu.p2p.protocol import (
    KIND_BLOCKS_REQUEST,
    KIND_BLOCKS_RESPONSE,
    KIND_STATUS,
    Network,
    PeerId,
)
from tianfu.ratelimit import TokenBucket
from tianfu.store import StoreError
from tianfu.sync import checkproc, precheck, serving
from tianfu.sync.apply import PeerMisbehaved, SyncError, apply_items
from tianfu.sync.messages import (
    MAX_BLOCKS_PER_MESSAGE,
    BlocksRequest,
    BlocksResponse,
    BlockWithCert,
    Status,
)
from tianfu.sync.session import (
    Ahead,
    Outcome,
    PeerState,
    PendingRequest,
    Session,
    SyncConfig,
)

__all__ = ["BlockSyncer", "PeerMisbehaved", "SyncConfig", "SyncError"]

log = logging.getLogger(__name__)

MAX_STATUS_BYTES = 128
MAX_REQUEST_BYTES = 64
RESPONSE_SLACK_BYTES = 1 << 20  # headers, certificates and framing beyond the block bytes


M = TypeVar("M")


def _decode_or_drop(payload: bytes, typ: type[M], max_size: int, what: str, addr: str) -> M | None:
    """A peer's message of type `typ`, or None (logged, dropped) if it does not decode."""
    try:
        return decode(payload, typ, max_size=max_size)
    except CodecError as exc:
        log.debug("malformed %s from %s: %s", what, addr, exc)
        return None


@dataclass(eq=False)
class BlockSyncer:
    """Fetches, checks and applies blocks from peers; answers their requests; see module doc."""

    ledger: Ledger
    network: Network
    _: KW_ONLY
    on_commit: Callable[[ExecutedBlock], None]
    # Blocks asked for per request, applied as one store transaction (at most
    # MAX_BLOCKS_PER_MESSAGE; a response also stops at `max_response_bytes`).
    max_batch: int = 100
    request_timeout_s: float = 5.0
    config: SyncConfig = field(default_factory=SyncConfig)
    on_sync_started: Callable[[int, int], None] | None = None
    on_caught_up: Callable[[int], None] | None = None
    commit_lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Callable[[], float] = time.monotonic
    # Whether a peer is an outsider (`serving.MAX_SERVING_OUTSIDERS`); None: nobody is.
    outsider: Callable[[PeerId], bool] | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.max_batch <= MAX_BLOCKS_PER_MESSAGE:
            raise ValueError(f"max_batch must be between 1 and {MAX_BLOCKS_PER_MESSAGE}")
        TokenBucket(self.config.serve_rate, self.config.serve_burst, now=0.0)  # validates them
        # Any block the chain certifies, not one within the genesis's `max_block_bytes`:
        # governance may raise it, and a valid block over the genesis's limit made every
        # honest peer's answer "malformed" (each banned in turn: no catching up past it).
        self.max_response_in = (
            self.config.max_response_bytes + MAX_BLOCK_BYTES + RESPONSE_SLACK_BYTES
        )
        self._peers: dict[str, PeerState] = {}
        self._pending: dict[str, PendingRequest] = {}
        self._rr = 0
        self._syncing = False
        self._session: Session | None = None
        self._applied_total = 0
        self._last_rate = 0.0
        self._wakeup: asyncio.Event | None = None
        self._inflight: asyncio.Future[Outcome] | None = None
        # The next batch, requested while one is applied: (peer, request, its fetch).
        self._prefetch: Ahead | None = None  # the next batch, asked for while one is applied
        self._server = serving.RequestServer(
            self.network, lambda req: self.response_for(req), self._peers
        )
        # Our store refused a block (disk full, damage): no peer's fault, nothing is
        # fetched until `store_retry_s` has passed. `store_error` says why (None: fine).
        self.store_error: str | None = None
        self.store_failures = 0
        self._store_retry_at = 0.0
        self._store_failed_height = 0  # the block whose store failed (`store_error`)

    # -- state the node reads ---------------------------------------------------------------
    @property
    def syncing(self) -> bool:
        """True from the moment a long gap is seen until this node has caught up."""
        return self._syncing

    def target_height(self) -> int:
        """The highest height reported by a connected peer that is not banned."""
        now = self.clock()
        return max((p.height for p in self._peers.values() if p.banned_until <= now), default=0)

    def behind_by(self) -> int:
        return max(0, self.target_height() - self.ledger.height)

    @property
    def progress(self) -> dict[str, Any]:
        """Height, target, blocks applied by sync (in total) and the rate of the last session."""
        rate = self._last_rate
        s = self._session
        if s is not None and s.applied:
            rate = s.rate(self.clock())
        return {
            "syncing": self._syncing,
            "height": self.ledger.height,
            "target": self.target_height(),
            "applied": self._applied_total,
            "rate": rate,  # blocks per second
        }

    def peer_heights(self) -> dict[str, int]:
        return {addr: p.height for addr, p in self._peers.items()}

    def banned_peers(self) -> dict[str, str]:
        """Peers banned now, with the reason."""
        now = self.clock()
        return {a: p.ban_reason for a, p in self._peers.items() if p.banned_until > now}

    # -- frames from the router -------------------------------------------------------------
    def handle(self, peer: PeerId, kind: int, payload: bytes) -> None:
        """Take one frame of a sync kind from an authenticated peer (on the event loop)."""
        addr = peer.address
        if kind == KIND_STATUS:
            self._on_status(addr, payload)
        elif kind == KIND_BLOCKS_REQUEST:
            outsider = self.outsider is not None and self.outsider(peer)
            self._on_request(addr, payload, outsider)
        elif kind == KIND_BLOCKS_RESPONSE:
            self._on_response(addr, payload)

    def _peer(self, addr: str) -> PeerState:
        p = self._peers.get(addr)
        if p is None:
            cfg = self.config
            p = self._peers[addr] = PeerState(
                TokenBucket(cfg.serve_rate, cfg.serve_burst, self.clock())
            )
        return p

    def _on_status(self, addr: str, payload: bytes) -> None:
        st = _decode_or_drop(payload, Status, MAX_STATUS_BYTES, "status", addr)
        if st is None:
            return
        p = self._peer(addr)
        p.height, p.head_hash = st.height, st.head_hash
        if st.height > self.ledger.height and self._wakeup is not None:
            self._wakeup.set()

    def _on_response(self, addr: str, payload: bytes) -> None:
        pending = self._pending.get(addr)
        if pending is None or pending.future.done():
            log.debug("unsolicited blocks response from %s dropped", addr)
            return
        try:
            resp = decode(payload, BlocksResponse, max_size=self.max_response_in)
        except CodecError as exc:
            pending.future.set_exception(PeerMisbehaved(f"malformed blocks response: {exc}"))
            return
        pending.future.set_result(resp)

    # -- answering requests -----------------------------------------------------------------
    def _on_request(self, addr: str, payload: bytes, outsider: bool = False) -> None:
        req = _decode_or_drop(payload, BlocksRequest, MAX_REQUEST_BYTES, "blocks request", addr)
        if req is None:
            return
        p = self._peer(addr)
        now = self.clock()
        if p.banned_until > now or p.serving:
            return
        if not p.limit.take(now):
            log.debug("blocks request from %s over the rate limit", addr)
            return
        self._server.serve(addr, req, p, outsider)

    @property
    def dropped_busy(self) -> int:
        """Requests dropped: `serving.MAX_SERVING` answers were in preparation (or the
        outsiders' share of them)."""
        return self._server.dropped_busy

    def response_for(self, req: BlocksRequest) -> bytes:
        """The encoded response to `req` from the local store: consecutive blocks from
        `req.from_height`, at most `req.count`, stopping before `max_response_bytes` (but
        always at least one block, if we have it), from the stored bytes."""
        blocks = self.ledger.store.load_blocks_encoded(req.from_height, req.count)
        return serving.encode_response(blocks, self.config.max_response_bytes)

    # -- status -----------------------------------------------------------------------------
    def status(self) -> Status:
        head = self.ledger.head()
        return Status(head.height, head.hash) if head is not None else Status(0, b"")

    def broadcast_status(self) -> None:
        self.network.broadcast(KIND_STATUS, encode(self.status()))

    def notify_committed(self, height: int) -> None:
        """Another component (consensus) committed `height`: tell the peers at once. A
        store failure of block sync at or below `height` is over: the store took it."""
        if self.store_error is not None and height >= self._store_failed_height:
            log.warning(
                "block sync: the store took block %d (consensus): writes work again", height
            )
            self.store_error = None
            self._store_retry_at = 0.0
        self.broadcast_status()

    def _prune_peers(self) -> None:
        connected = {p.address for p in self.network.peers()}
        for addr in [a for a in self._peers if a not in connected]:
            del self._peers[addr]

    # -- syncing ----------------------------------------------------------------------------
    def _update_mode(self) -> bool:
        """Start or end a sync session as the gap says; True while syncing."""
        height = self.ledger.height
        target = self.target_height()
        if self._syncing:
            if target <= height:
                self._finish(height)
            return self._syncing
        if target - height > self.config.consensus_gap:
            self._syncing = True
            self._session = Session(height, self.clock())
            log.info("syncing: at height %d, peers are at %d", height, target)
            if self.config.check_ahead and self.config.check_in_process:
                checkproc.shared().ready()  # starts the checking process in the background
            if self.on_sync_started is not None:
                self.on_sync_started(height, target)
        return self._syncing

    def _finish(self, height: int) -> None:
        s = self._session
        if s is not None and s.applied:
            self._last_rate = s.rate(self.clock())
        self._syncing = False
        self._session = None
        self._drop_prefetch()
        log.info("caught up at height %d", height)
        if self.on_caught_up is not None:
            self.on_caught_up(height)

    def _pick_peer(self, height: int) -> str | None:
        now = self.clock()
        connected = {p.address for p in self.network.peers()}
        ahead = sorted(
            addr
            for addr, p in self._peers.items()
            if p.height > height
            and p.banned_until <= now
            and p.cooldown_until <= now
            and addr in connected
            and addr not in self._pending
        )
        if not ahead:
            return None
        self._rr += 1
        return ahead[self._rr % len(ahead)]

    def ban(self, addr: str, reason: str) -> None:
        p = self._peer(addr)
        p.banned_until = self.clock() + self.config.ban_s
        p.ban_reason = reason
        p.delivered = False
        log.warning("peer %s banned for %.0f s: %s", addr, self.config.ban_s, reason)

    async def sync_from_peers_once(self) -> int:
        """Fetch and apply one batch from one peer that is ahead; return blocks applied.

        While a batch is applied, the next one is requested from the same peer (one request
        ahead at most); the next call applies it if it still follows our height and the
        peer was not banned meanwhile, else drops it."""
        self._update_mode()
        if self.clock() < self._store_retry_at:
            self._drop_prefetch()
            return 0
        height = self.ledger.height
        checks: precheck.Checks | None = None
        fetched = await self._take_prefetch(height)
        if fetched is None:
            addr = self._pick_peer(height)
            if addr is None:
                return 0
            req = BlocksRequest(height + 1, min(self.max_batch, self._peers[addr].height - height))
            resp = await self._fetch(addr, req)
            if resp is None:
                return 0
        else:
            addr, req, resp, checks = fetched
        if not resp.items:
            # It does not have what it claimed: believe its next status, not the last one.
            peer = self._peers[addr]
            peer.height = min(peer.height, height)
            return 0
        self._prefetch_after(addr, req, len(resp.items))
        applied = await self._apply_batch(addr, req, resp.items, checks)
        self._update_mode()
        return applied

    async def _fetch(self, addr: str, req: BlocksRequest) -> BlocksResponse | None:
        """Ask `addr` for `req`; its response, or None (a timeout puts the peer in cooldown,
        a malformed response bans it)."""
        peer = self._peer(addr)
        future: asyncio.Future[BlocksResponse] = asyncio.get_running_loop().create_future()
        pending = PendingRequest(req, future)
        self._pending[addr] = pending
        try:
            self.network.send(addr, KIND_BLOCKS_REQUEST, encode(req))
            return await asyncio.wait_for(future, self.request_timeout_s)
        except TimeoutError:
            log.info("peer %s did not answer blocks from %d in time", addr, req.from_height)
            peer.cooldown_until = self.clock() + self.config.cooldown_s
            return None
        except PeerMisbehaved as exc:
            self.ban(addr, str(exc))
            return None
        finally:
            if self._pending.get(addr) is pending:
                del self._pending[addr]

    def _prefetch_after(self, addr: str, req: BlocksRequest, got: int) -> None:
        """Request the batch after `req`'s (of which `got` blocks came) from `addr`, if it
        has more, answered in full, and a batch of its was applied whole before."""
        peer = self._peers.get(addr)
        start = req.from_height + got
        if (
            peer is None
            or not peer.delivered
            or got != req.count
            or peer.height < start
            or addr in self._pending
        ):
            return
        self._drop_prefetch()
        ahead = Ahead(addr, BlocksRequest(start, min(self.max_batch, peer.height - start + 1)))
        ahead.task = asyncio.ensure_future(self._fetch_ahead(ahead))
        self._prefetch = ahead

    async def _fetch_ahead(self, ahead: Ahead) -> BlocksResponse | None:
        """Fetch the batch asked for ahead, and start its checks in the checking process
        if it is ready (against the validator sets known now: a guess, as for any batch)."""
        resp = await self._fetch(ahead.addr, ahead.request)
        config = self.config
        if resp is not None and resp.items and config.check_ahead and config.check_in_process:
            process = checkproc.shared()
            if process.ready():
                ledger, start = self.ledger, ahead.request.from_height
                guesses = precheck.guesses(ledger, resp.items, start, known=ledger.height + 2)
                ahead.checks = process.submit(
                    resp.items, start, guesses, ledger.executor, config.check_wait_s
                )
        return resp

    async def _take_prefetch(
        self, height: int
    ) -> tuple[str, BlocksRequest, BlocksResponse, precheck.Checks | None] | None:
        """The batch requested ahead (and its checks, if started), if it follows `height`
        and its peer is still good."""
        ahead, self._prefetch = self._prefetch, None
        if ahead is None or ahead.task is None:
            return None
        peer = self._peers.get(ahead.addr)
        usable = (
            ahead.request.from_height == height + 1
            and peer is not None
            and peer.banned_until <= self.clock()
            and ahead.addr in {p.address for p in self.network.peers()}
        )
        if not usable:
            ahead.drop()
            with contextlib.suppress(asyncio.CancelledError):
                await ahead.task
            return None
        resp = await ahead.task
        return None if resp is None else (ahead.addr, ahead.request, resp, ahead.checks)

    def _drop_prefetch(self) -> None:
        if self._prefetch is not None:
            self._prefetch.drop()
            self._prefetch = None

    async def _apply_batch(
        self,
        addr: str,
        req: BlocksRequest,
        items: list[BlockWithCert],
        checks: precheck.Checks | None = None,
    ) -> int:
        """Apply `items` (the answer to `req` from `addr`; `checks`: those started ahead)."""
        if len(items) > req.count:
            if checks is not None:
                checks.cancel()
            self.ban(addr, f"sent {len(items)} blocks for a request of {req.count}")
            return 0
        # Verification, execution and commits run in a worker thread; the shield lets a
        # batch that is being written finish (and be announced) even if run() is cancelled.
        self._inflight = asyncio.ensure_future(
            asyncio.to_thread(self._apply_items, items, req.from_height, checks)
        )
        inflight = self._inflight
        try:
            outcome = await asyncio.shield(inflight)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                for executed in (await inflight).applied:
                    self._committed(executed)
            raise
        for executed in outcome.applied:
            self._committed(executed)
        if outcome.applied and self.store_error is not None:
            log.warning(
                "block sync stores blocks again (block %d)", outcome.applied[0].block.header.height
            )
            self.store_error = None
        exc, h = outcome.failure, outcome.failed_height
        if exc is None and len(outcome.applied) == len(items):
            self._peer(addr).delivered = True
        if isinstance(exc, StoreError) or (exc is not None and host_read_failure(exc)):
            self._store_failed(h, exc)  # our own store or host: the peer is not to blame
        elif isinstance(exc, (CertificateError, InvalidBlock, PeerMisbehaved)):
            self.ban(addr, f"block {h}: {exc}")
        return len(outcome.applied)

    def _store_failed(self, height: int, exc: Exception) -> None:
        self.store_failures += 1
        self._store_retry_at = self.clock() + self.config.store_retry_s
        self._store_failed_height = height
        message = f"cannot store block {height}: {exc}"
        if message != self.store_error:
            log.error("block sync %s (retrying every %.0f s)", message, self.config.store_retry_s)
        self.store_error = message

    def _apply_items(
        self, items: list[BlockWithCert], from_height: int, ahead: precheck.Checks | None = None
    ) -> Outcome:
        """(worker thread) Verify, execute and commit `items` in order, from `from_height`,
        up to the first that fails, as one store transaction (`apply.apply_items`)."""
        return apply_items(self.ledger, self.commit_lock, self.config, items, from_height, ahead)

    def _committed(self, executed: ExecutedBlock) -> None:
        self._applied_total += 1
        if self._session is not None:
            self._session.applied += 1
        try:
            self.on_commit(executed)
        except Exception:  # the block is stored; a failing listener must not stop sync
            log.exception("on_commit failed for block %d", executed.block.header.height)

    # -- the task ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Broadcast status periodically; sync whenever a peer is far enough ahead."""
        self._wakeup = asyncio.Event()
        next_status = 0.0
        interval = self.config.status_interval_s
        while True:
            try:
                now = time.monotonic()
                if now >= next_status:
                    self._prune_peers()
                    self.broadcast_status()
                    next_status = now + interval
                if self._update_mode():
                    applied = await self.sync_from_peers_once()
                    if applied:
                        self.broadcast_status()
                        continue
                    pause = self.config.retry_pause_s
                else:
                    pause = next_status - time.monotonic()
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), max(pause, 0.0))
            except asyncio.CancelledError:
                self._drop_prefetch()
                raise
            except Exception:  # a task's top level: log and keep the node alive
                log.exception("block sync step failed")
                await asyncio.sleep(interval)

    async def drain(self) -> None:
        """Wait for a block being written and for answers being prepared (on shutdown)."""
        if self._inflight is not None:
            with contextlib.suppress(Exception):
                await self._inflight
        await self._server.drain()
