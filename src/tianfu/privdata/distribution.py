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
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tianfu.codec import CodecError, decode, encode
from tianfu.p2p.protocol import (
    KIND_PRIVATE_DATA,
    KIND_PRIVATE_FETCH,
    KIND_PRIVATE_HAVE,
    Network,
    PeerId,
)
from tianfu.p2p.pull import Bucket, PullConfig, PullService
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
class DistributionConfig(PullConfig):
    backoff_max_s: float = 120.0  # a blob no granted peer has yet (its writer never handed it over)
    reconcile_s: float = 60.0
    serve_rate: float = 20.0  # requests per second answered per peer (token bucket)
    serve_burst: int = 40
    max_wanted: int = 10_000
    max_queued_blocks: int = 1_000


class Distributor(PullService[tuple[str, str], FetchResponse]):
    """The node's private-data distribution (handlers for the private-data kinds, a task
    started and stopped with the node)."""

    task_name = "private-data"

    def __init__(
        self,
        node: PrivateDataNode,
        network: Network,
        config: DistributionConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config: DistributionConfig
        super().__init__(network, config or DistributionConfig(), clock)
        self.node = node
        self._updates: deque[dict[bytes, bytes | None]] = deque()
        self._overflowed = False
        self._next_reconcile = 0.0
        node.fetcher = self

    # -- what the node tells us (any thread) ------------------------------------------------
    def want(self, contract: str, content_hash: str, prefer: str = "") -> None:
        """Fetch the blob from a granted peer, unless this node holds it (a peer's `Have` for
        a blob it fetched from this node, a block's update examined after the member's put).
        When the wanted set is full, the periodic reconciliation asks again later."""
        if self.node.store.has(contract, content_hash):
            return
        self._want((contract, content_hash), prefer)

    def forget(self, contract: str, content_hash: str) -> None:
        with self._lock:
            self._wanted.pop((contract, content_hash), None)

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
                # Not ours to take unless asked for: content is stored only when asked for.
                resp = decode(payload, FetchResponse, max_size=MAX_FETCH_RESPONSE_BYTES)
                self._answer(peer, resp.request_id, (resp.contract, resp.hash.hex()), resp)
            elif kind == KIND_PRIVATE_HAVE:
                have = decode(payload, Have, max_size=MAX_FETCH_REQUEST_BYTES)
                self.want(have.contract, have.hash.hex(), prefer=peer.address)
        except CodecError as exc:
            log.debug("malformed private-data frame from %s: %s", peer.name, exc)

    def _on_fetch(self, peer: PeerId, req: FetchRequest) -> None:
        cfg = self.config
        b = self._bucket(peer, cfg.serve_rate, cfg.serve_burst)
        if b.serving >= cfg.max_parallel or not b.limit.take(self.clock()):
            log.debug("private fetch from %s over its rate limit", peer.name)
            return
        b.serving += 1
        self._spawn(self._serve(peer, req, b))

    async def _serve(self, peer: PeerId, req: FetchRequest, bucket: Bucket) -> None:
        try:
            blob = await asyncio.to_thread(
                self.node.blob_for_peer, peer.org, req.contract, req.hash.hex()
            )
            status = OK if blob is not None else UNAVAILABLE
            answer = FetchResponse(1, req.request_id, req.contract, req.hash, status, blob or b"")
            self.network.send(peer.address, KIND_PRIVATE_DATA, encode(answer))
        finally:
            bucket.serving -= 1

    # -- the task -------------------------------------------------------------------------------
    async def _step(self) -> None:
        if self.clock() >= self._next_reconcile or self._overflowed:
            self._overflowed = False
            self._updates.clear()
            await asyncio.to_thread(self.node.reconcile)
            self._next_reconcile = self.clock() + self.config.reconcile_s
        while self._updates:
            updates = self._updates.popleft()
            await asyncio.to_thread(self.node.apply_updates, updates)
        self._start_due()

    def _request(self, request_id: int, key: tuple[str, str]) -> tuple[int, bytes]:
        return KIND_PRIVATE_FETCH, encode(
            FetchRequest(1, request_id, key[0], bytes.fromhex(key[1]))
        )

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
            for peer in self._candidates(record, self._preferred(key)):
                if self.node.store.has(contract, content_hash):  # put or fetched meanwhile
                    got = True
                    break
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
                    self._failed(entry)
                    self._back_off(entry)
            self._poke()
