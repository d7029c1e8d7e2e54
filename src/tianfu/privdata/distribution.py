"""Moving private content between nodes (`Distributor`): fetch by content hash from granted
peers, answer granted peers, announce what this node holds.

Pull, never push: a node asks for a blob only when its own organisation is granted, and it
stores only blobs it asked for (an unsolicited one is dropped). A node answers a request
only if the asking peer's organisation — taken from its mutual-TLS node certificate — is
granted by the record in the node's latest state; otherwise it answers "unavailable",
without saying why. `Have` goes only to peers whose organisation is granted, so an
organisation never granted never receives the content or learns which node holds it.

What to fetch comes from the committed blocks' state updates (examined in a worker thread),
from a full reconciliation now and then, and from `Have` announcements. Each wanted blob is
asked of one granted peer at a time (the writer's organisation first), with a timeout; when
every candidate failed it waits, doubling up to `backoff_max_s`. Serving is rate-limited per
peer, and at most `max_parallel` fetches run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tianfu.codec import CodecError, decode, encode
from tianfu.p2p.protocol import (
    KIND_PRIVATE_DATA,
    KIND_PRIVATE_FETCH,
    KIND_PRIVATE_HAVE,
    Network,
    PeerId,
)
from tianfu.privdata.messages import (
    MAX_FETCH_REQUEST_BYTES,
    MAX_FETCH_RESPONSE_BYTES,
    OK,
    UNAVAILABLE,
    FetchRequest,
    FetchResponse,
    Have,
)
from tianfu.privdata.node import PrivateDataNode
from tianfu.privdata.record import PrivateRecord
from tianfu.privdata.store import Tampered

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributionConfig:
    fetch_timeout_s: float = 10.0
    max_parallel: int = 4
    backoff_min_s: float = 0.5
    backoff_max_s: float = 120.0  # a blob no granted peer has yet (its writer never handed it over)
    reconcile_s: float = 60.0
    serve_rate: float = 20.0  # requests per second answered per peer (token bucket)
    serve_burst: int = 40
    max_wanted: int = 10_000
    max_queued_blocks: int = 1_000


@dataclass
class _Want:
    due: float = 0.0
    failures: int = 0
    prefer: str = ""  # a peer that announced it holds the blob
    running: bool = False


@dataclass
class _Bucket:
    tokens: float
    at: float
    serving: int = 0


@dataclass
class _Asked:
    peer: str
    key: tuple[str, str]
    future: asyncio.Future[FetchResponse] = field(repr=False)


class Distributor:
    def __init__(
        self,
        node: PrivateDataNode,
        network: Network,
        config: DistributionConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = node
        self.network = network
        self.config = config or DistributionConfig()
        self.clock = clock
        self._wanted: dict[tuple[str, str], _Want] = {}
        self._lock = threading.Lock()  # _wanted is touched from worker threads too
        self._updates: deque[dict[bytes, bytes | None]] = deque()
        self._overflowed = False
        self._asked: dict[int, _Asked] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        node.fetcher = self

    # -- what the node tells us (any thread) ------------------------------------------------
    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def want(self, contract: str, content_hash: str, prefer: str = "") -> None:
        key = (contract, content_hash)
        with self._lock:
            entry = self._wanted.get(key)
            if entry is None:
                if len(self._wanted) >= self.config.max_wanted:
                    return  # the periodic reconciliation asks again later
                entry = self._wanted[key] = _Want()
            if prefer:
                entry.prefer = prefer
                entry.due = 0.0
        self._poke()

    def forget(self, contract: str, content_hash: str) -> None:
        with self._lock:
            self._wanted.pop((contract, content_hash), None)

    def wanted_count(self) -> int:
        with self._lock:
            return len(self._wanted)

    def enqueue(self, updates: dict[bytes, bytes | None]) -> None:
        """A committed block's state updates (called on the event loop, for every block)."""
        if len(self._updates) >= self.config.max_queued_blocks:
            self._updates.clear()
            self._overflowed = True  # reconcile the whole state instead
        self._updates.append(updates)
        if self._wake is not None:
            self._wake.set()

    def announce(self, record: PrivateRecord) -> None:
        """Tell granted peers that this node holds the record's blob (any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        payload = encode(Have(1, record.contract, bytes.fromhex(record.hash)))

        def send() -> None:
            for peer in self.network.peers():
                if record.grants(peer.org):
                    self.network.send(peer.address, KIND_PRIVATE_HAVE, payload)

        loop.call_soon_threadsafe(send)

    # -- frames from peers (event loop) -------------------------------------------------------
    def handle(self, peer: PeerId, kind: int, payload: bytes) -> None:
        try:
            if kind == KIND_PRIVATE_FETCH:
                self._on_fetch(
                    peer, decode(payload, FetchRequest, max_size=MAX_FETCH_REQUEST_BYTES)
                )
            elif kind == KIND_PRIVATE_DATA:
                self._on_data(
                    peer, decode(payload, FetchResponse, max_size=MAX_FETCH_RESPONSE_BYTES)
                )
            elif kind == KIND_PRIVATE_HAVE:
                have = decode(payload, Have, max_size=MAX_FETCH_REQUEST_BYTES)
                self.want(have.contract, have.hash.hex(), prefer=peer.address)
        except CodecError as exc:
            log.debug("malformed private-data frame from %s: %s", peer.name, exc)

    def _on_fetch(self, peer: PeerId, req: FetchRequest) -> None:
        cfg = self.config
        now = self.clock()
        b = self._buckets.get(peer.address)
        if b is None:
            b = self._buckets[peer.address] = _Bucket(float(cfg.serve_burst), now)
        b.tokens = min(float(cfg.serve_burst), b.tokens + (now - b.at) * cfg.serve_rate)
        b.at = now
        if b.tokens < 1.0 or b.serving >= cfg.max_parallel:
            log.debug("private fetch from %s over its rate limit", peer.name)
            return
        b.tokens -= 1.0
        b.serving += 1
        self._spawn(self._serve(peer, req, b))

    async def _serve(self, peer: PeerId, req: FetchRequest, bucket: _Bucket) -> None:
        try:
            blob = await asyncio.to_thread(
                self.node.blob_for_peer, peer.org, req.contract, req.hash.hex()
            )
            status = OK if blob is not None else UNAVAILABLE
            answer = FetchResponse(1, req.request_id, req.contract, req.hash, status, blob or b"")
            self.network.send(peer.address, KIND_PRIVATE_DATA, encode(answer))
        finally:
            bucket.serving -= 1

    def _on_data(self, peer: PeerId, resp: FetchResponse) -> None:
        asked = self._asked.get(resp.request_id)
        if asked is None or asked.peer != peer.address:
            return  # not ours to take: content is stored only when asked for
        if asked.key != (resp.contract, resp.hash.hex()):
            return
        if not asked.future.done():
            asked.future.set_result(resp)

    # -- the task -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._runner = asyncio.create_task(self._run(), name="private-data")

    async def stop(self) -> None:
        self._stopping = True
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._loop = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("private-data task failed", exc_info=task.exception())

    async def _run(self) -> None:
        assert self._wake is not None
        next_reconcile = 0.0
        while not self._stopping:
            try:
                if self.clock() >= next_reconcile or self._overflowed:
                    self._overflowed = False
                    self._updates.clear()
                    await asyncio.to_thread(self.node.reconcile)
                    next_reconcile = self.clock() + self.config.reconcile_s
                while self._updates:
                    updates = self._updates.popleft()
                    await asyncio.to_thread(self.node.apply_updates, updates)
                self._start_due()
            except Exception:  # the task's top level: log, keep the node running
                log.exception("private data: distribution step failed")
            # `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` can swallow a
            # cancellation that arrives as the event is set, and the task would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await self._wake.wait()
            self._wake.clear()

    def _start_due(self) -> None:
        now = self.clock()
        running = 0
        due: list[tuple[str, str]] = []
        with self._lock:
            for key, w in self._wanted.items():
                if w.running:
                    running += 1
                elif w.due <= now:
                    due.append(key)
            for key in due[: max(0, self.config.max_parallel - running)]:
                self._wanted[key].running = True
                self._spawn(self._fetch(key))

    def _candidates(self, record: PrivateRecord, prefer: str) -> list[PeerId]:
        peers = [p for p in self.network.peers() if record.grants(p.org)]
        peers.sort(key=lambda p: (p.address != prefer, p.org != record.org, p.name))
        return peers

    async def _fetch(self, key: tuple[str, str]) -> None:
        contract, content_hash = key
        got = False
        try:
            record = await asyncio.to_thread(self.node.chain.record, contract, content_hash)
            if record is None or not record.granted(self.node.orgs):
                self.forget(contract, content_hash)
                return
            with self._lock:
                prefer = self._wanted[key].prefer if key in self._wanted else ""
            for peer in self._candidates(record, prefer):
                resp = await self._ask(peer, key)
                if resp is None or resp.status != OK:
                    continue
                try:
                    stored = await asyncio.to_thread(
                        self.node.accept_fetched, contract, content_hash, resp.blob
                    )
                except Tampered as exc:
                    log.warning("private content from %s refused: %s", peer.name, exc)
                    continue
                got = True
                if stored is not None:
                    self.announce(stored)
                break
        finally:
            with self._lock:
                entry = self._wanted.get(key)
                if got:
                    self._wanted.pop(key, None)
                elif entry is not None:
                    entry.running = False
                    entry.failures += 1
                    entry.prefer = ""
                    cfg = self.config
                    wait = min(cfg.backoff_max_s, cfg.backoff_min_s * 2 ** (entry.failures - 1))
                    entry.due = self.clock() + wait
            self._poke()

    async def _ask(self, peer: PeerId, key: tuple[str, str]) -> FetchResponse | None:
        request_id = secrets.randbits(63)
        future: asyncio.Future[FetchResponse] = asyncio.get_running_loop().create_future()
        self._asked[request_id] = _Asked(peer.address, key, future)
        try:
            req = FetchRequest(1, request_id, key[0], bytes.fromhex(key[1]))
            self.network.send(peer.address, KIND_PRIVATE_FETCH, encode(req))
            async with asyncio.timeout(self.config.fetch_timeout_s):
                return await future
        except TimeoutError:
            return None
        finally:
            self._asked.pop(request_id, None)
