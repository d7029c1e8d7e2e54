"""Distribution of private content between nodes over an in-memory network: a granted node
fetches it, a node of an organisation never granted gets nothing even when it asks,
unsolicited or wrong content is never stored, announcements reach granted peers only, and
revocation and purge delete the copies."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tianfu.client.private import PrivateData
from tianfu.codec import decode, encode
from tianfu.contracts.examples import example_source
from tianfu.p2p.protocol import (
    KIND_PRIVATE_DATA,
    KIND_PRIVATE_FETCH,
    KIND_PRIVATE_HAVE,
    PeerId,
)
from tianfu.privdata import REGISTRY, registry_source
from tianfu.privdata.distribution import DistributionConfig, Distributor
from tianfu.privdata.messages import OK, UNAVAILABLE, FetchRequest, FetchResponse, Have
from tianfu.privdata.node import PrivateDataNode
from tianfu.privdata.store import Tampered
from tianfu.testing.appchain import AppChain

CONFIG = DistributionConfig(fetch_timeout_s=2.0, backoff_min_s=0.05, backoff_max_s=0.2)


class Hub:
    """Delivers frames between in-memory nodes on the running loop; records every frame."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[PeerId, Distributor]] = {}
        self.frames: list[tuple[str, str, int, bytes]] = []  # (from, to, kind, payload)

    def network(self, me: PeerId) -> FakeNetwork:
        return FakeNetwork(self, me)


class FakeNetwork:
    def __init__(self, hub: Hub, me: PeerId) -> None:
        self.hub, self.me = hub, me

    def peers(self) -> list[PeerId]:
        return [p for p, _ in self.hub.nodes.values() if p.address != self.me.address]

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        self.hub.frames.append((self.me.name, self.hub.nodes[peer][0].name, kind, payload))
        target = self.hub.nodes[peer][1]
        asyncio.get_running_loop().call_soon(target.handle, self.me, kind, payload)

    def broadcast(self, kind: int, payload: bytes) -> None:
        for p in self.peers():
            self.send(p.address, kind, payload)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("pdnet"))
    c.deploy(REGISTRY, registry_source())
    c.deploy("notes", example_source("private_notes"))
    for org in c.orgs:
        PrivateData(c.client(c.admin(org))).register_node_key()
    yield c
    c.close()


def _nodes(chain: AppChain, tmp: Path, hub: Hub) -> dict[str, Distributor]:
    out = {}
    for i, org in enumerate(chain.orgs, 1):
        node = PrivateDataNode.open(tmp / org, chain.ledger, {org})
        peer = PeerId(f"{i:040x}", org, f"node{i}", bytes(32))
        dist = Distributor(node, hub.network(peer), CONFIG)
        hub.nodes[peer.address] = (peer, dist)
        out[org] = dist
    return out


async def _until(check, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def _write(chain: AppChain, orgs: list[str]):  # type: ignore[no-untyped-def]
    who = chain.identity("org1", "writer")
    p = PrivateData(chain.client(who))
    sealed = p.seal(b"private " + secrets.token_bytes(16), orgs)
    chain.client(who).invoke("notes", "write", sealed.hash, sealed.size, sealed.readers)
    return who, sealed


def test_content_flows_to_granted_nodes_only(chain: AppChain, tmp_path: Path) -> None:
    who, sealed = _write(chain, ["org1", "org2"])
    h = sealed.hash
    hub = Hub()
    nodes = _nodes(chain, tmp_path, hub)
    n1, n2, n3, n4 = (nodes[o].node for o in chain.orgs)
    n1.store.save("notes", h, "org1", sealed.blob)  # the writer's node has it first

    async def run() -> None:
        for d in nodes.values():
            await d.start()
        try:
            await _until(lambda: n2.store.has("notes", h))
            # org3's node, never granted, asks anyway: every node answers "unavailable".
            asked = FetchRequest(1, 7, "notes", bytes.fromhex(h))
            for target in ("org1", "org2"):
                peer = next(p for p, d in hub.nodes.values() if d is nodes[target])
                nodes["org3"].network.send(peer.address, KIND_PRIVATE_FETCH, encode(asked))
            await _until(lambda: n1.stats["refused_peers"] + n2.stats["refused_peers"] == 2)
            # Content nobody asked for is dropped, even when it matches the hash.
            org1 = next(p for p, d in hub.nodes.values() if d is nodes["org1"])
            pushed = FetchResponse(1, 7, "notes", bytes.fromhex(h), OK, sealed.blob)
            nodes["org3"].handle(org1, KIND_PRIVATE_DATA, encode(pushed))
            nodes["org3"].handle(org1, KIND_PRIVATE_HAVE, encode(Have(1, "notes", bytes(32))))
            await asyncio.sleep(0.3)
        finally:
            for d in nodes.values():
                await d.stop()

    asyncio.run(run())
    assert n2.store.load("notes", h) == sealed.blob
    assert not n3.store.has("notes", h) and not n4.store.has("notes", h)
    assert n3.store.usage()["records"] == 0 and n4.store.usage()["records"] == 0
    # No frame ever carried the content to org3's or org4's node; announcements went to
    # granted peers only.
    for sender, to, kind, payload in hub.frames:
        if to in ("node3", "node4"):
            assert sealed.blob not in payload, (sender, to, kind)
            if kind == KIND_PRIVATE_DATA:
                assert decode(payload, FetchResponse).status == UNAVAILABLE
            assert kind != KIND_PRIVATE_HAVE, (sender, to)
    assert any(to == "node2" and k == KIND_PRIVATE_DATA for _, to, k, _ in hub.frames)
    assert not list((tmp_path / "org3").rglob(h)) and not list((tmp_path / "org4").rglob(h))


def test_damaged_content_is_never_passed_on_nor_taken(chain: AppChain, tmp_path: Path) -> None:
    _, sealed = _write(chain, ["org1", "org2"])
    h = sealed.hash
    hub = Hub()
    nodes = _nodes(chain, tmp_path, hub)
    n1, n2 = nodes["org1"].node, nodes["org2"].node
    # org1's node holds a damaged copy (its file changed on disk).
    n1.store.save("notes", h, "org1", sealed.blob)
    path = n1.store.path("notes", h)
    path.write_bytes(b"\x00" + sealed.blob[1:])

    async def run() -> None:
        for d in nodes.values():
            await d.start()
        try:
            await _until(lambda: n1.stats["tampered"] >= 1)
            assert not n2.store.has("notes", h)
            n1.store.save("notes", h, "org1", sealed.blob)  # a good copy again
            nodes["org1"].announce(n1.chain.record("notes", h))  # type: ignore[arg-type]
            await _until(lambda: n2.store.has("notes", h))
        finally:
            for d in nodes.values():
                await d.stop()

    asyncio.run(run())
    assert n2.store.load("notes", h) == sealed.blob
    # Content a peer sends that does not match the record is refused and counted.
    n3 = PrivateDataNode.open(tmp_path / "n3", chain.ledger, {"org2"})
    with pytest.raises(Tampered):
        n3.accept_fetched("notes", h, b"\x00" + sealed.blob[1:])
    with pytest.raises(Tampered):
        n3.accept_fetched("notes", h, sealed.blob[:-1])
    assert n3.stats["bad_from_peers"] == 2 and not n3.store.has("notes", h)


def test_revocation_and_purge_delete_the_copies(chain: AppChain, tmp_path: Path) -> None:
    who, sealed = _write(chain, ["org1", "org2"])
    h = sealed.hash
    n1 = PrivateDataNode.open(tmp_path / "a", chain.ledger, {"org1"})
    n2 = PrivateDataNode.open(tmp_path / "b", chain.ledger, {"org2"})
    for n in (n1, n2):
        n.store.save("notes", h, "org1", sealed.blob)
    updates: list[dict[bytes, bytes | None]] = []
    chain.client(who).invoke("notes", "revoke", h, "org2")
    updates.append({f"notes/pd:{h}".encode(): None})
    for n in (n1, n2):
        n.apply_updates(updates[-1])
    assert n1.store.has("notes", h) and not n2.store.has("notes", h)
    chain.client(who).invoke("notes", "purge", h)
    n1.apply_updates(updates[-1])
    assert not n1.store.has("notes", h)
    assert n1.stats["deleted"] == 1 and n2.stats["deleted"] == 1
    # A node that was down through the purge deletes its copy when it opens again.
    n3 = PrivateDataNode.open(tmp_path / "c", chain.ledger, {"org1"})
    n3.store.save("notes", h, "org1", sealed.blob)
    again = PrivateDataNode.open(tmp_path / "c", chain.ledger, {"org1"})
    assert not again.store.has("notes", h)


def _fetches_from(hub: Hub, sender: str, h: str) -> int:
    """How many requests for content `h` node `sender` sent."""
    return sum(
        1
        for frm, _, kind, payload in hub.frames
        if frm == sender
        and kind == KIND_PRIVATE_FETCH
        and decode(payload, FetchRequest).hash.hex() == h
    )


def test_a_node_holding_the_content_never_asks_for_it(chain: AppChain, tmp_path: Path) -> None:
    """The writer's node holds the content; org2's node fetches it and announces it to its
    granted peers, org1's node among them. The writer's node, which holds it, asks nobody
    for it: not on that announcement, nor when it is wanted again (a block's update, a
    retry) after its member's put."""
    _, sealed = _write(chain, ["org1", "org2"])
    h = sealed.hash
    hub = Hub()
    nodes = _nodes(chain, tmp_path, hub)
    d1 = nodes["org1"]
    n1, n2 = d1.node, nodes["org2"].node
    n1.store.save("notes", h, "org1", sealed.blob)  # the member's put, before the nodes start

    def have_reached_node1() -> bool:
        return any(
            frm == "node2" and to == "node1" and kind == KIND_PRIVATE_HAVE
            for frm, to, kind, _ in hub.frames
        )

    async def run() -> None:
        for d in nodes.values():
            await d.start()
        try:
            await _until(lambda: n2.store.has("notes", h))
            await _until(have_reached_node1)  # org2's node announced what it fetched
            d1.want("notes", h)  # wanted again (a block's update examined late, a retry)
            await asyncio.sleep(0.3)  # the fetch task runs every 0.5 s at the latest
            await _until(lambda: ("notes", h) not in d1._wanted)
        finally:
            for d in nodes.values():
                await d.stop()

    asyncio.run(run())
    assert _fetches_from(hub, "node1", h) == 0
    assert n2.stats["served"] == 0 and n1.stats["served"] == 1
    # A blob a peer sends for a record already held is not stored again nor announced.
    assert n2.accept_fetched("notes", h, sealed.blob) is None
