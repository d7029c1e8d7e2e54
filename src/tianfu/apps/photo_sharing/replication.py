"""Photo blobs reach every node (`BlobReplicator`): announce what this node stored, fetch
what peers announce, check it exactly like an upload, answer peers' fetches.

A node that stored a checked blob (an upload, or a fetch) sends `BlobHave` to its peers. A
peer that lacks it asks one peer at a time (`BlobFetch`, the announcer first) and takes the
answer (`BlobData`) only if it asked that peer for that hash; then it looks the hash up in
its own committed state and runs the upload's checks (`routes.registration`,
`routes.check`): SHA-256, registered size, bounded decoding, pHash. A blob that fails is
dropped and counted (`stats["refused"]`) and the next peer is asked. A hash no committed
registration names is retried a few times (the announcer's node may be a block ahead), then
forgotten. A `GET` miss on a registered blob asks the peers too (a node that started late or
missed announcements catches up on demand).

Never trusting a peer: every frame is bounded by its type, frames from a peer pass a token
bucket (a flood is dropped and counted), at most `max_parallel` fetches run at once (so at
most that many blobs are held in memory), the wanted set is bounded, and serving a peer is
limited by the same bucket.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from tianfu.api.errors import ApiError
from tianfu.api.service import ChainService
from tianfu.apps.photo_sharing import media
from tianfu.apps.photo_sharing.blobs import SHA256_RE, BlobStore
from tianfu.codec import CodecError, check_version, decode, encode
from tianfu.p2p.protocol import PeerId
from tianfu.p2p.pull import Bucket, PullConfig, PullService, Want

log = logging.getLogger(__name__)

# Message kinds of the photo blobs (one byte on the wire; see tianfu.p2p.protocol).
KIND_BLOB_HAVE = 14  # BlobHave: this node now holds a checked blob
KIND_BLOB_FETCH = 15  # BlobFetch: ask a peer for a blob
KIND_BLOB_DATA = 16  # BlobData: the blob, or "unavailable"
KINDS = (KIND_BLOB_HAVE, KIND_BLOB_FETCH, KIND_BLOB_DATA)

OK, UNAVAILABLE = 0, 1
MAX_BLOB_BYTES = max(media.MAX_IMAGE_BYTES, media.MAX_THUMB_BYTES)
MAX_SMALL_FRAME = 128
MAX_DATA_FRAME = MAX_BLOB_BYTES + 128

Hash32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
U64 = Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1)]


class BlobMessage(msgspec.Struct, array_like=True, frozen=True):
    """A photo-blob frame: its format version first, checked when it is decoded."""

    version: int

    def validate(self) -> None:
        check_version(self)


class BlobHave(BlobMessage, frozen=True):
    sha256: Hash32


class BlobFetch(BlobMessage, frozen=True):
    request_id: U64
    sha256: Hash32


class BlobData(BlobMessage, frozen=True):
    request_id: U64
    sha256: Hash32
    status: Annotated[int, msgspec.Meta(ge=0, le=1)]
    data: Annotated[bytes, msgspec.Meta(max_length=MAX_BLOB_BYTES)] = b""

    def validate(self) -> None:
        super().validate()
        if self.status != OK and self.data:
            raise CodecError("a refusal carries no data")


@dataclass(frozen=True)
class ReplicationConfig(PullConfig):
    max_parallel: int = 2  # a blob can be large: fewer held in memory at once
    max_attempts: int = 6  # then the hash is forgotten (a later announcement or GET revives it)
    max_unregistered: int = 3  # lookups of a hash no registration names (the announcer may be
    # a block ahead), then it is forgotten
    peer_rate: float = 50.0  # frames per second accepted per peer (token bucket)
    peer_burst: int = 200


@dataclass
class _Want(Want):
    unregistered: int = 0  # lookups that found no registration of the hash


class BlobReplicator(PullService[str, BlobData]):
    """The node's photo-blob distribution (handlers for KINDS, a task started and stopped with
    the node)."""

    kinds: tuple[int, ...] = KINDS
    task_name = "photo-blobs"

    def __init__(
        self,
        service: ChainService,
        store: BlobStore,
        network: Any,  # tianfu.p2p.protocol.Network
        config: ReplicationConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config: ReplicationConfig
        super().__init__(network, config or ReplicationConfig(), clock)
        self.service = service
        self.store = store
        self.stats: Counter[str] = Counter()

    # -- what the node tells us (any thread) --------------------------------------------------
    def _new_want(self) -> Want:
        return _Want()

    def want(self, sha256: str, prefer: str = "") -> None:
        """Fetch `sha256` from the peers unless this node holds it (bounded; any thread)."""
        if not SHA256_RE.match(sha256) or self.store.has(sha256):
            return
        if not self._want(sha256, prefer):
            self.stats["wanted_full"] += 1

    def announce(self, sha256: str) -> None:
        """Tell every peer that this node holds a checked blob (any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        payload = encode(BlobHave(1, bytes.fromhex(sha256)))
        loop.call_soon_threadsafe(self.network.broadcast, KIND_BLOB_HAVE, payload)

    # -- frames from peers (event loop) -------------------------------------------------------
    def _admit(self, peer: PeerId) -> Bucket | None:
        b = self._bucket(peer, self.config.peer_rate, self.config.peer_burst)
        if not b.limit.take(self.clock()):
            self.stats["rate_limited"] += 1
            return None
        return b

    def handle(self, peer: PeerId, kind: int, payload: bytes) -> None:
        try:
            if kind == KIND_BLOB_DATA:  # answers are checked against our own requests
                resp = decode(payload, BlobData, max_size=MAX_DATA_FRAME)
                if not self._answer(peer, resp.request_id, resp.sha256.hex(), resp):
                    self.stats["unsolicited"] += 1  # only what this node asked for is looked at
                return
            bucket = self._admit(peer)
            if bucket is None:
                return
            if kind == KIND_BLOB_HAVE:
                have = decode(payload, BlobHave, max_size=MAX_SMALL_FRAME)
                self.want(have.sha256.hex(), prefer=peer.address)
            elif kind == KIND_BLOB_FETCH:
                req = decode(payload, BlobFetch, max_size=MAX_SMALL_FRAME)
                if bucket.serving >= self.config.max_parallel:
                    self.stats["rate_limited"] += 1
                    return
                bucket.serving += 1
                self._spawn(self._serve(peer, req, bucket))
        except CodecError as exc:
            self.stats["malformed"] += 1
            log.debug("malformed photo-blob frame from %s: %s", peer.name, exc)

    async def _serve(self, peer: PeerId, req: BlobFetch, bucket: Bucket) -> None:
        try:
            data = await asyncio.to_thread(self.store.load, req.sha256.hex())
            status = OK if data is not None else UNAVAILABLE
            answer = BlobData(1, req.request_id, req.sha256, status, data or b"")
            self.network.send(peer.address, KIND_BLOB_DATA, encode(answer))
            self.stats["served"] += 1
        finally:
            bucket.serving -= 1

    # -- fetching -------------------------------------------------------------------------------
    def _request(self, request_id: int, key: str) -> tuple[int, bytes]:
        return KIND_BLOB_FETCH, encode(BlobFetch(1, request_id, bytes.fromhex(key)))

    async def _fetch(self, sha256: str) -> None:
        done = unregistered = False
        try:
            if await asyncio.to_thread(self.store.has, sha256):
                done = True
                return
            try:
                kind, record = await asyncio.to_thread(registration, self.service, sha256)
            except ApiError as exc:
                unregistered = exc.status == 404
                self.stats["unregistered" if unregistered else "lookup_failed"] += 1
                return
            prefer = self._preferred(sha256)
            peers = sorted(self.network.peers(), key=lambda p: (p.address != prefer, p.name))
            for peer in peers:
                resp = await self._ask(peer, sha256)
                if resp is None or resp.status != OK:
                    continue
                try:
                    await asyncio.to_thread(check, kind, record, resp.data)
                    await asyncio.to_thread(self.store.save, sha256, resp.data)
                except (media.MediaError, ValueError) as exc:
                    self.stats["refused"] += 1
                    log.warning("photo blob %s from %s refused: %s", sha256, peer.name, exc)
                    continue
                self.stats["fetched"] += 1
                done = True
                self.announce(sha256)
                break
        except OSError as exc:  # this node's disk
            log.error("cannot store photo blob %s: %s", sha256, exc)
        finally:
            self._finish(sha256, done, unregistered)

    def _finish(self, sha256: str, done: bool, unregistered: bool) -> None:
        with self._lock:
            entry = self._wanted.get(sha256)
            if done or not isinstance(entry, _Want):
                self._wanted.pop(sha256, None)
            else:
                self._failed(entry)
                entry.unregistered += unregistered
                cfg = self.config
                if entry.failures >= cfg.max_attempts or entry.unregistered >= cfg.max_unregistered:
                    self._wanted.pop(sha256, None)
                    self.stats["given_up"] += 1
                else:
                    self._back_off(entry)
        self._poke()


def registration(service: ChainService, sha256: str) -> tuple[str, dict[str, Any]]:
    """("image" | "thumbnail", the photo record) of the committed registration naming it
    (ApiError 404 when none does or the contract is not deployed, 503 when unreadable)."""
    from tianfu.api.service import NotFound, QueryFailed
    from tianfu.apps.photo_sharing import NAME

    try:
        record = service.query(NAME, "by_sha256", [sha256])
        if isinstance(record, dict):
            return "image", record
        record = service.query(NAME, "by_thumb", [sha256])
    except NotFound:
        raise ApiError(404, f"the {NAME} contract is not deployed on this chain") from None
    except QueryFailed as exc:
        raise ApiError(503, f"cannot read the {NAME} registrations: {exc}") from None
    if isinstance(record, dict):
        return "thumbnail", record
    raise ApiError(
        404,
        f"no committed {NAME} registration names {sha256}: register the photo first, "
        "then upload its image and thumbnail",
    )


def check(kind: str, record: dict[str, Any], data: bytes) -> None:
    """The checks of an upload: SHA-256, registered size, bounded decoding, pHash
    (`media.MediaError` when the bytes are not the registered ones)."""
    if kind == "image":
        media.check_image(data, record["sha256"], record["size"], record["phash"])
    else:
        media.check_thumbnail(data, record["thumb_sha256"], record["thumb_size"], record["phash"])
