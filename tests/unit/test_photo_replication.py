"""Photo blobs between nodes over an in-memory network: a checked blob announced by one node
reaches every node, a GET miss catches up from the peers, and a hostile peer (wrong bytes,
bytes that fail the upload's checks, oversized frames, unregistered hashes, unsolicited
data, floods) never gets anything stored and is counted."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tianfu.api.errors import install_error_handlers
from tianfu.apps import photo_sharing
from tianfu.apps.photo_sharing import BLOB_PREFIX, demo, media
from tianfu.apps.photo_sharing.blobs import BlobStore
from tianfu.apps.photo_sharing.replication import (
    KIND_BLOB_DATA,
    KIND_BLOB_FETCH,
    KIND_BLOB_HAVE,
    MAX_BLOB_BYTES,
    OK,
    BlobData,
    BlobFetch,
    BlobHave,
    BlobReplicator,
    ReplicationConfig,
)
from tianfu.apps.photo_sharing.routes import blob_router
from tianfu.apps.photo_sharing.sdk import PhotoSharing
from tianfu.codec import decode, encode
from tianfu.p2p.protocol import PeerId
from tianfu.testing.appchain import AppChain

CONFIG = ReplicationConfig(fetch_timeout_s=2.0, backoff_min_s=0.05, backoff_max_s=0.2)
LIC = {"kind": "cc-by", "terms": ""}
Handler = Callable[[PeerId, int, bytes], None]


class Hub:
    """Delivers frames between in-memory nodes on the running loop; records every frame."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[PeerId, Handler]] = {}
        self.frames: list[tuple[str, str, int, bytes]] = []  # (from, to, kind, payload)

    def add(self, peer: PeerId, handler: Handler) -> None:
        self.nodes[peer.address] = (peer, handler)


class FakeNetwork:
    def __init__(self, hub: Hub, me: PeerId) -> None:
        self.hub, self.me = hub, me

    def peers(self) -> list[PeerId]:
        return [p for p, _ in self.hub.nodes.values() if p.address != self.me.address]

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        to, handler = self.hub.nodes[peer]
        self.hub.frames.append((self.me.name, to.name, kind, payload))
        asyncio.get_running_loop().call_soon(handler, self.me, kind, payload)

    def broadcast(self, kind: int, payload: bytes) -> None:
        for p in self.peers():
            self.send(p.address, kind, payload)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("photonet"))
    c.deploy(photo_sharing.NAME, photo_sharing.source())
    yield c
    c.close()


def _peer(i: int) -> PeerId:
    return PeerId(f"{i:040x}", f"org{i}", f"node{i}", bytes(32))


def _nodes(
    chain: AppChain, tmp: Path, hub: Hub, n: int = 4, config: ReplicationConfig = CONFIG
) -> list[BlobReplicator]:
    out = []
    for i in range(1, n + 1):
        peer = _peer(i)
        rep = BlobReplicator(
            chain.service, BlobStore(tmp / f"n{i}"), FakeNetwork(hub, peer), config
        )
        hub.add(peer, rep.handle)
        out.append(rep)
    return out


def _register(chain: AppChain, seed: int) -> media.PreparedPhoto:
    photo = media.prepare(demo.original(seed))
    PhotoSharing(chain.client(chain.identity("org1", "replicated"))).register_prepared(photo, "t")
    return photo


def _register_junk(chain: AppChain) -> bytes:
    """Registers the hashes of bytes that are no image: a node must never keep them."""
    junk = secrets.token_bytes(5000)
    r = chain.call(
        chain.identity("org2", "junk-registrant"),
        photo_sharing.NAME,
        "register",
        hashlib.sha256(junk).hexdigest(),
        len(junk),
        "0123456789abcdef",
        secrets.token_hex(32),
        100,
        "junk",
        LIC,
    )
    assert r.ok, r.error
    return junk


async def _until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def _run(nodes: list[BlobReplicator], body: Callable[[], Any]) -> None:
    async def run() -> None:
        for r in nodes:
            await r.start()
        try:
            await body()
        finally:
            for r in nodes:
                await r.stop()

    asyncio.run(run())


def test_a_checked_blob_reaches_every_node(chain: AppChain, tmp_path: Path) -> None:
    photo = _register(chain, 9101)
    hub = Hub()
    nodes = _nodes(chain, tmp_path, hub)
    first = nodes[0]

    async def body() -> None:
        for sha, data in ((photo.sha256, photo.image), (photo.thumb_sha256, photo.thumbnail)):
            first.store.save(sha, data)
            first.announce(sha)
        await _until(
            lambda: all(
                n.store.has(photo.sha256) and n.store.has(photo.thumb_sha256) for n in nodes
            )
        )
        await _until(lambda: all(n.wanted_count() == 0 for n in nodes))

    _run(nodes, body)
    for n in nodes:
        assert n.store.load(photo.sha256) == photo.image
        assert n.store.load(photo.thumb_sha256) == photo.thumbnail
        assert n.stats["refused"] == 0
    assert sum(n.stats["fetched"] for n in nodes) == 6  # 3 nodes x (image, thumbnail)


def test_a_get_miss_on_a_registered_blob_fetches_it_from_the_peers(
    chain: AppChain, tmp_path: Path
) -> None:
    """A node that missed the announcements (started late): its GET answers 404 and asks its
    peers; a later GET serves the bytes. A GET of an unregistered hash asks nobody."""
    photo = _register(chain, 9102)
    hub = Hub()
    holder, late = _nodes(chain, tmp_path, hub, n=2)
    holder.store.save(photo.sha256, photo.image)  # never announced
    api = FastAPI()
    install_error_handlers(api)
    api.include_router(blob_router(chain.service, late.store, late))
    http = TestClient(api)
    url = f"{BLOB_PREFIX}/{photo.sha256}"

    async def body() -> None:
        miss = await asyncio.to_thread(http.get, url)
        assert miss.status_code == 404 and "asking its peers" in miss.json()["error"]
        await _until(lambda: late.store.has(photo.sha256))
        got = await asyncio.to_thread(http.get, url)
        assert got.status_code == 200 and got.content == photo.image
        stranger = await asyncio.to_thread(http.get, f"{BLOB_PREFIX}/{'ab' * 32}")
        assert stranger.status_code == 404 and "no committed" in stranger.json()["error"]

    _run([holder, late], body)
    assert late.wanted_count() == 0
    fetches = [
        decode(p, BlobFetch).sha256.hex() for _, _, k, p in hub.frames if k == KIND_BLOB_FETCH
    ]
    assert fetches == [photo.sha256]


def _hostile(hub: Hub, answer: Callable[[BlobFetch], bytes | None]) -> PeerId:
    """A peer that answers every fetch with what `answer` makes of it."""
    me = _peer(66)
    net = FakeNetwork(hub, me)

    def handle(peer: PeerId, kind: int, payload: bytes) -> None:
        if kind == KIND_BLOB_FETCH:
            out = answer(decode(payload, BlobFetch))
            if out is not None:
                net.send(peer.address, KIND_BLOB_DATA, out)

    hub.add(me, handle)
    return me


def test_wrong_bytes_and_bytes_failing_the_checks_are_refused_and_counted(
    chain: AppChain, tmp_path: Path
) -> None:
    photo = _register(chain, 9103)
    junk = _register_junk(chain)
    junk_sha = hashlib.sha256(junk).hexdigest()
    other = media.prepare(demo.original(9104)).image
    hub = Hub()
    (victim,) = _nodes(chain, tmp_path, hub, n=1)

    def answer(req: BlobFetch) -> bytes:
        # The registered photo: another picture's bytes. The junk: exactly the registered
        # SHA-256 and size, but no image (the upload's decoding check refuses it).
        data = junk if req.sha256.hex() == junk_sha else other
        return encode(BlobData(1, req.request_id, req.sha256, OK, data))

    evil = _hostile(hub, answer)

    async def body() -> None:
        for sha in (photo.sha256, junk_sha):
            victim.handle(evil, KIND_BLOB_HAVE, encode(BlobHave(1, bytes.fromhex(sha))))
        await _until(lambda: victim.stats["given_up"] == 2)

    _run([victim], body)
    assert not victim.store.has(photo.sha256) and not victim.store.has(junk_sha)
    assert victim.stats["refused"] == 2 * CONFIG.max_attempts
    assert victim.stats["fetched"] == 0 and victim.wanted_count() == 0
    assert not [p for p in (tmp_path / "n1").rglob("*") if p.is_file()]


def test_oversized_malformed_and_unsolicited_frames_store_nothing(
    chain: AppChain, tmp_path: Path
) -> None:
    photo = _register(chain, 9105)
    hub = Hub()
    quick = ReplicationConfig(fetch_timeout_s=0.3, backoff_min_s=0.05, backoff_max_s=0.2)
    (victim,) = _nodes(chain, tmp_path, hub, n=1, config=quick)
    # Always too much: a blob over the bound, so the frame is refused while decoding.
    evil = _hostile(
        hub,
        lambda req: encode(
            BlobData(1, req.request_id, req.sha256, OK, b"\0" * (MAX_BLOB_BYTES + 1))
        ),
    )

    async def body() -> None:
        # The real bytes, but nobody asked: dropped.
        pushed = BlobData(1, 7, bytes.fromhex(photo.sha256), OK, photo.image)
        victim.handle(evil, KIND_BLOB_DATA, encode(pushed))
        victim.handle(evil, KIND_BLOB_HAVE, b"\x93\x01\x02")  # not a BlobHave
        victim.handle(evil, KIND_BLOB_FETCH, b"\xff" * 10_000)
        victim.handle(evil, KIND_BLOB_HAVE, encode(BlobHave(1, bytes.fromhex(photo.sha256))))
        await _until(lambda: victim.stats["given_up"] == 1)

    _run([victim], body)
    assert not victim.store.has(photo.sha256)
    assert victim.stats["unsolicited"] == 1
    assert victim.stats["malformed"] == 2 + quick.max_attempts  # every oversized answer too
    assert victim.stats["fetched"] == 0


def test_an_unregistered_hash_is_never_fetched_and_is_forgotten(
    chain: AppChain, tmp_path: Path
) -> None:
    hub = Hub()
    (victim,) = _nodes(chain, tmp_path, hub, n=1)
    evil = _hostile(hub, lambda req: None)
    fake = secrets.token_bytes(32)

    async def body() -> None:
        victim.handle(evil, KIND_BLOB_HAVE, encode(BlobHave(1, fake)))
        await _until(lambda: victim.stats["given_up"] == 1)

    _run([victim], body)
    assert victim.stats["unregistered"] == CONFIG.max_unregistered
    assert victim.wanted_count() == 0
    assert not [f for f in hub.frames if f[2] == KIND_BLOB_FETCH]


def test_a_flood_is_rate_limited_and_the_wanted_set_stays_bounded(
    chain: AppChain, tmp_path: Path
) -> None:
    photo = _register(chain, 9106)
    config = ReplicationConfig(
        fetch_timeout_s=2.0,
        backoff_min_s=0.05,
        backoff_max_s=0.2,
        peer_rate=1.0,
        peer_burst=50,
        max_wanted=20,
        max_parallel=2,
    )
    hub = Hub()
    (victim,) = _nodes(chain, tmp_path, hub, n=1, config=config)
    victim.store.save(photo.sha256, photo.image)
    answers: list[BlobData] = []

    evil = _peer(66)

    def collect(peer: PeerId, kind: int, payload: bytes) -> None:
        if kind == KIND_BLOB_DATA:
            answers.append(decode(payload, BlobData))

    hub.add(evil, collect)

    async def body() -> None:
        for _ in range(5_000):
            victim.handle(evil, KIND_BLOB_HAVE, encode(BlobHave(1, secrets.token_bytes(32))))
        assert victim.wanted_count() <= config.max_wanted
        victim._buckets.clear()  # a fresh bucket for the fetch flood
        request = encode(BlobFetch(1, 1, bytes.fromhex(photo.sha256)))
        for _ in range(1_000):
            victim.handle(evil, KIND_BLOB_FETCH, request)
        await _until(lambda: victim.stats["served"] == len(answers) and len(answers) > 0)
        await _until(lambda: victim.wanted_count() == 0)

    _run([victim], body)
    # Per peer: at most the burst of frames taken, at most max_parallel served at once.
    assert victim.stats["rate_limited"] >= 5_000 - config.peer_burst + 1_000 - config.peer_burst
    assert len(answers) == config.max_parallel
    assert all(a.data == photo.image for a in answers)
    assert victim.stats["wanted_full"] > 0


def test_a_node_with_peers_gets_the_replicator_and_its_kinds_are_free(
    chain: AppChain, tmp_path: Path
) -> None:
    """The application hook: with a network, photo_sharing adds a p2p service whose kinds
    no core message kind uses; without one (an observer, a solo node), routes only."""
    from tianfu.apps.registry import mount_apps
    from tianfu.p2p import protocol as p2p

    core = {v for k, v in vars(p2p).items() if k.startswith("KIND_")} | {12, 13}
    services = mount_apps(FastAPI(), chain.service, tmp_path, FakeNetwork(Hub(), _peer(1)))
    assert [type(s) for s in services] == [BlobReplicator]
    assert set(services[0].kinds) == {14, 15, 16} and not core & set(services[0].kinds)
    assert mount_apps(FastAPI(), chain.service, tmp_path, None) == []
