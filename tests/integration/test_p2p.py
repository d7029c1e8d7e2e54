"""The p2p transport over real mutual-TLS connections on 127.0.0.1 (free ports)."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from tianfu.crypto.suite import ECDSA_P256
from tianfu.identity import Identity, OrgCA
from tianfu.p2p.framing import (
    HELLO_PAYLOAD,
    KIND_HELLO,
    FrameTooLargeError,
    encode_frame,
    read_frame,
)
from tianfu.p2p.network import TlsNetwork
from tianfu.p2p.protocol import KIND_TXS, KIND_VOTE, PeerId
from tianfu.p2p.tls import make_context

pytestmark = pytest.mark.timeout(300)

ORG_A = OrgCA.create("OrgA")  # Ed25519 CA
ORG_B = OrgCA.create("OrgB", ECDSA_P256)  # ECDSA CA
ORG_X = OrgCA.create("Outsider")  # never a member
A1 = ORG_A.issue("a1", "node")
A2 = ORG_A.issue("a2", "node")
B1 = ORG_B.issue("b1", "node", ECDSA_P256)  # an ECDSA P-256 node key
B2 = ORG_B.issue("b2", "node")


class World:
    """The chain state the transport reads: member CAs and the revocation list."""

    def __init__(self) -> None:
        self.orgs = {"OrgA": ORG_A.cert_der, "OrgB": ORG_B.cert_der}
        self.revoked: set[str] = set()

    def cas(self) -> dict[str, bytes]:
        return dict(self.orgs)

    def is_revoked(self, address: str) -> bool:
        return address in self.revoked


class Node:
    """A TlsNetwork with a recording handler."""

    def __init__(self, world: World, identity: Identity, port: int = 0, **kwargs: Any) -> None:
        self.identity = identity
        self.frames: list[tuple[str, int, bytes]] = []
        self.events: list[tuple[str, bool]] = []
        self.fail_on: bytes | None = None
        kwargs.setdefault("dial_backoff", (0.05, 0.3))
        kwargs.setdefault("handshake_timeout", 10.0)
        self.net = TlsNetwork(
            identity,
            world.cas,
            world.is_revoked,
            self._handle,
            ("127.0.0.1", port),
            [],
            on_peer=lambda peer, up: self.events.append((peer.address, up)),
            **kwargs,
        )

    def _handle(self, peer: PeerId, kind: int, payload: bytes) -> None:
        if payload == self.fail_on:
            raise RuntimeError("handler bug")
        self.frames.append((peer.address, kind, payload))

    @property
    def address(self) -> str:
        return self.net.address

    @property
    def endpoint(self) -> tuple[str, int]:
        return self.net.listen_address

    def got(self, payload: bytes) -> list[str]:
        return [src for src, _, p in self.frames if p == payload]

    def peer_addresses(self) -> set[str]:
        return {p.address for p in self.net.peers()}


# Deadlines for what a test waits for: generous, so that a busy machine only makes the test
# slower, never failing (each wait ends as soon as its condition holds).
WAIT_S = 60.0


async def wait_until(pred: Callable[[], bool], timeout: float = WAIT_S, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or pred}")
        await asyncio.sleep(0.01)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 240))


async def started(*nodes: Node) -> None:
    for node in nodes:
        await node.net.start()


async def stopped(*nodes: Node) -> None:
    for node in nodes:
        await node.net.stop()


async def raw_peer(
    identity: Identity, world: World, endpoint: tuple[str, int]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-driven peer: TLS with `identity`, HELLO exchanged, then whatever the test does."""
    ctx = make_context(identity, world.cas(), server=False)
    reader, writer = await asyncio.open_connection(*endpoint, ssl=ctx, server_hostname="")
    writer.write(encode_frame(KIND_HELLO, HELLO_PAYLOAD))
    await writer.drain()
    assert await read_frame(reader, 64) == (KIND_HELLO, HELLO_PAYLOAD)
    return reader, writer


async def closed_by_remote(reader: asyncio.StreamReader, timeout: float = WAIT_S) -> bool:
    """True when the remote closes the stream within `timeout` (data read is discarded)."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except (ConnectionError, OSError):
        return True
    return True


def test_mesh_of_three_nodes_from_two_orgs_broadcast_and_send() -> None:
    async def body() -> None:
        world = World()
        a1, a2, b1 = Node(world, A1), Node(world, A2), Node(world, B1)
        nodes = (a1, a2, b1)
        await started(*nodes)
        try:
            for node in nodes:  # everyone dials everyone: duplicates must resolve
                node.net.set_peers([n.endpoint for n in nodes if n is not node])
            everyone = {n.address for n in nodes}
            for node in nodes:
                await wait_until(lambda n=node: n.peer_addresses() == everyone - {n.address})
            # identities come from the certificates
            by_addr = {p.address: p for p in a1.net.peers()}
            assert by_addr[b1.address] == PeerId(b1.address, "OrgB", "b1", B1.keypair.public_key)
            assert by_addr[a2.address] == PeerId(a2.address, "OrgA", "a2", A2.keypair.public_key)
            assert len(B1.keypair.public_key) == 33  # really the ECDSA node
            for node in nodes:
                node.net.broadcast(KIND_VOTE, b"from " + node.identity.info.name.encode())
            for node in nodes:
                for other in nodes:
                    if other is not node:
                        msg = b"from " + other.identity.info.name.encode()
                        await wait_until(lambda n=node, m=msg: len(n.got(m)) == 1)
                        assert node.got(msg) == [other.address]
            a1.net.send(b1.address, KIND_TXS, b"only for b1")
            b1.net.send(a2.address, KIND_TXS, b"only for a2")
            await wait_until(lambda: b1.got(b"only for b1") and a2.got(b"only for a2"))
            # A frame sent after them on the same connections arrives after any copy would.
            a1.net.broadcast(KIND_VOTE, b"barrier a1")
            b1.net.broadcast(KIND_VOTE, b"barrier b1")
            await wait_until(lambda: a2.got(b"barrier a1") and a1.got(b"barrier b1"))
            assert a2.got(b"only for b1") == [] and a1.got(b"only for a2") == []
            assert [k for s, k, p in b1.frames if p == b"only for b1"] == [KIND_TXS]
            # still exactly one connection per pair, agreed by both ends
            for node in nodes:
                assert len(node.net.peers()) == 2
                for peer, dialer in node.net.connections().items():
                    other = next(n for n in nodes if n.address == peer)
                    assert other.net.connections()[node.address] == dialer
        finally:
            await stopped(*nodes)

    run(body)


def test_simultaneous_dials_keep_the_connection_dialed_by_the_lower_address() -> None:
    async def body() -> None:
        world = World()
        a1, b2 = Node(world, A1), Node(world, B2)
        await started(a1, b2)
        try:
            a1.net.set_peers([b2.endpoint])
            b2.net.set_peers([a1.endpoint])
            await wait_until(lambda: a1.peer_addresses() == {b2.address})
            await wait_until(lambda: b2.peer_addresses() == {a1.address})
            lower = min(a1.address, b2.address)
            await wait_until(  # both dials finish and resolve to the same connection
                lambda: (
                    a1.net.connections() == {b2.address: lower}
                    and b2.net.connections() == {a1.address: lower}
                )
            )
            a1.net.send(b2.address, KIND_VOTE, b"x")
            b2.net.send(a1.address, KIND_VOTE, b"y")
            await wait_until(lambda: b2.got(b"x") == [a1.address] and a1.got(b"y") == [b2.address])
            # each side saw the peer come up, and never go down for good
            assert a1.events[-1] == (b2.address, True)
            assert b2.events[-1] == (a1.address, True)
        finally:
            await stopped(a1, b2)

    run(body)


def test_node_of_a_non_member_ca_is_refused_at_handshake() -> None:
    async def body() -> None:
        world = World()
        outsider_world = World()
        outsider_world.orgs["Outsider"] = ORG_X.cert_der  # it trusts us; we do not trust it
        a1 = Node(world, A1)
        x = Node(outsider_world, ORG_X.issue("x1", "node"))
        await started(a1, x)
        try:
            x.net.set_peers([a1.endpoint])
            await wait_until(lambda: x.net.stats["dial_failures"] >= 2)
            x.net.broadcast(KIND_VOTE, b"let me in")
            assert x.net.stats["frames_out"] == 0  # no connection to send it on
            assert a1.net.peers() == [] and x.net.peers() == []
            assert a1.frames == []
            assert a1.net.stats["handshakes_failed"] >= 2
            # and the other way round: a1 dialing the outsider does not accept it either
            a1.net.set_peers([x.endpoint])
            await wait_until(lambda: a1.net.stats["dial_failures"] >= 1)
            assert a1.net.peers() == [] and x.frames == []
            # once the organisation is admitted on chain, the next handshake succeeds
            world.orgs["Outsider"] = ORG_X.cert_der
            await wait_until(lambda: a1.peer_addresses() == {x.address}, what="admission")
        finally:
            await stopped(a1, x)

    run(body)


def test_certificate_of_kind_member_is_refused() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1)
        member = Node(world, ORG_A.issue("alice", "member"))
        await started(a1, member)
        try:
            member.net.set_peers([a1.endpoint])
            await wait_until(lambda: a1.net.stats["peers_rejected"] >= 2)
            assert a1.net.peers() == [] and member.net.peers() == []
            # a raw client with that certificate gets no HELLO and no frame through
            ctx = make_context(member.identity, world.cas(), server=False)
            reader, writer = await asyncio.open_connection(
                *a1.endpoint, ssl=ctx, server_hostname=""
            )
            writer.write(encode_frame(KIND_HELLO, HELLO_PAYLOAD) + encode_frame(KIND_VOTE, b"hi"))
            assert await closed_by_remote(reader)
            writer.close()
            assert a1.frames == []
        finally:
            await stopped(a1, member)

    run(body)


def test_revoked_peer_is_disconnected_its_frames_ignored_and_not_readmitted() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1, check_interval=60.0)  # only the per-frame check acts here
        b1 = Node(world, B1)
        await started(a1, b1)
        try:
            b1.net.set_peers([a1.endpoint])
            await wait_until(lambda: a1.peer_addresses() == {b1.address})
            b1.net.send(a1.address, KIND_VOTE, b"before")
            await wait_until(lambda: a1.got(b"before") == [b1.address])
            world.revoked.add(b1.address)  # the chain revokes b1
            b1.net.send(a1.address, KIND_VOTE, b"after")
            await wait_until(lambda: a1.net.peers() == [])
            assert a1.got(b"after") == []
            assert a1.net.stats["dropped_revoked"] == 1
            assert (b1.address, False) in a1.events
            rejected = a1.net.stats["peers_rejected"]
            # b1 redials: each attempt is refused (two of them seen, not a time waited)
            await wait_until(lambda: a1.net.stats["peers_rejected"] >= rejected + 2, what="redial")
            assert a1.net.peers() == [] and a1.got(b"after") == []
        finally:
            await stopped(a1, b1)

    run(body)


def test_periodic_check_disconnects_a_silent_revoked_peer_and_a_removed_org() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1, check_interval=0.05)
        a2, b1 = Node(world, A2), Node(world, B1)
        await started(a1, a2, b1)
        try:
            a2.net.set_peers([a1.endpoint])
            b1.net.set_peers([a1.endpoint])
            await wait_until(lambda: a1.peer_addresses() == {a2.address, b1.address})
            world.revoked.add(a2.address)
            await wait_until(lambda: a1.peer_addresses() == {b1.address})
            del world.orgs["OrgB"]  # OrgB leaves the consortium
            await wait_until(lambda: a1.net.peers() == [])
            assert a1.net.stats["peers_evicted"] == 2
        finally:
            await stopped(a1, a2, b1)

    run(body)


def test_oversized_frame_closes_only_that_connection() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1, max_frame=1024)
        a2 = Node(world, A2, max_frame=1 << 20)
        b1 = Node(world, B1)
        await started(a1, a2, b1)
        try:
            a2.net.set_peers([a1.endpoint])
            b1.net.set_peers([a1.endpoint])
            await wait_until(lambda: a1.peer_addresses() == {a2.address, b1.address})
            a2.net.send(a1.address, KIND_TXS, b"z" * 2000)  # a2 allows it, a1 does not
            await wait_until(lambda: a1.net.stats["dropped_oversize"] == 1)
            assert a1.frames == []
            b1.net.send(a1.address, KIND_TXS, b"still fine")
            await wait_until(lambda: a1.got(b"still fine") == [b1.address])
            assert b1.address in a1.peer_addresses()
            # a header announcing 2 GiB is refused before any body is read
            reader, writer = await raw_peer(B2, world, a1.endpoint)
            writer.write(struct.pack(">IB", 0x7FFFFFFF, KIND_TXS))
            assert await closed_by_remote(reader)
            writer.close()
            assert a1.net.stats["dropped_oversize"] == 2
            # sending an oversized frame is the caller's error
            with pytest.raises(FrameTooLargeError):
                a1.net.broadcast(KIND_TXS, b"z" * 1025)
            with pytest.raises(ValueError):
                a1.net.broadcast(KIND_HELLO, b"")
        finally:
            await stopped(a1, a2, b1)

    run(body)


def test_garbage_and_non_tls_clients_do_not_hurt_the_server() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1, handshake_timeout=2.0)
        b1 = Node(world, B1)
        await started(a1, b1)
        try:
            host, port = a1.endpoint
            # plain HTTP, random bytes, and a client that says nothing at all
            for data in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", bytes(range(256)) * 8, b""):
                reader, writer = await asyncio.open_connection(host, port)
                if data:
                    writer.write(data)
                    await writer.drain()
                assert await closed_by_remote(reader)
                writer.close()
            # a valid peer that breaks the protocol after HELLO (a second HELLO)
            reader, writer = await raw_peer(B2, world, a1.endpoint)
            writer.write(encode_frame(KIND_HELLO, HELLO_PAYLOAD))
            assert await closed_by_remote(reader)
            writer.close()
            assert a1.net.stats["dropped_malformed"] == 1
            assert a1.net.stats["handshakes_failed"] >= 3
            # the server still works
            b1.net.set_peers([a1.endpoint])
            await wait_until(lambda: a1.peer_addresses() == {b1.address})
            b1.net.broadcast(KIND_VOTE, b"ok")
            await wait_until(lambda: a1.got(b"ok") == [b1.address])
        finally:
            await stopped(a1, b1)

    run(body)


def test_queue_overflow_drops_oldest_and_stays_bounded() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1, max_frame=1 << 16, queue_frames=100, queue_bytes=1 << 20)
        await a1.net.start()
        try:
            # a peer that connects and then stops reading
            reader, writer = await raw_peer(B2, world, a1.endpoint)
            await wait_until(lambda: len(a1.net.peers()) == 1)
            peer = a1.net.peers()[0].address
            total, size = 4000, 8192
            for start in range(0, total, 50):
                for seq in range(start, start + 50):
                    a1.net.send(peer, KIND_TXS, seq.to_bytes(4, "big") + bytes(size - 4))
                frames, nbytes = a1.net.queued(peer)
                assert frames <= 100 and nbytes <= 1 << 20
                await asyncio.sleep(0.001)
            assert a1.net.stats["dropped_overflow"] > 0
            # now read everything that got through
            got: list[int] = []
            while not got or got[-1] != total - 1:
                kind, payload = await asyncio.wait_for(read_frame(reader, 1 << 20), WAIT_S)
                assert kind == KIND_TXS
                got.append(int.from_bytes(payload[:4], "big"))
            writer.close()
            assert got == sorted(got) and len(got) < total
            assert len(got) + a1.net.stats["dropped_overflow"] == total
            # what was dropped is the oldest: the newest frames all arrived
            assert got[-100:] == list(range(total - 100, total))
        finally:
            await a1.net.stop()

    run(body)


def test_reconnects_after_the_remote_restarts() -> None:
    async def body() -> None:
        world = World()
        a1, b1 = Node(world, A1), Node(world, B1)
        await started(a1, b1)
        port = b1.endpoint[1]
        try:
            a1.net.set_peers([b1.endpoint])
            await wait_until(lambda: a1.peer_addresses() == {b1.address})
            await b1.net.stop()
            await wait_until(lambda: a1.net.peers() == [])
            failures = a1.net.stats["dial_failures"]
            await wait_until(lambda: a1.net.stats["dial_failures"] > failures)  # while it is down
            b1 = Node(world, B1, port=port)
            await b1.net.start()
            await wait_until(lambda: a1.peer_addresses() == {b1.address}, what="reconnect")
            assert a1.net.stats["reconnects"] >= 1
            assert a1.net.stats["dial_failures"] >= 1
            a1.net.broadcast(KIND_VOTE, b"welcome back")
            await wait_until(lambda: b1.got(b"welcome back") == [a1.address])
            assert a1.events == [(b1.address, True), (b1.address, False), (b1.address, True)]
        finally:
            await stopped(a1, b1)

    run(body)


def test_rate_limit_and_handler_errors() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1, rate_limit=(5.0, 20.0))
        b1 = Node(world, B1)
        a1.fail_on = b"boom"
        await started(a1, b1)
        try:
            b1.net.set_peers([a1.endpoint])
            await wait_until(lambda: a1.peer_addresses() == {b1.address})
            b1.net.send(a1.address, KIND_VOTE, b"boom")
            b1.net.send(a1.address, KIND_VOTE, b"after boom")
            await wait_until(lambda: a1.got(b"after boom") == [b1.address])
            assert a1.net.stats["handler_errors"] == 1
            loop = asyncio.get_running_loop()
            started_at = loop.time()
            for i in range(200):
                b1.net.send(a1.address, KIND_TXS, b"flood %d" % i)
            await wait_until(lambda: a1.net.stats["frames_in"] == 202)
            window = loop.time() - started_at  # the flood arrived within this many seconds
            delivered = len(a1.frames) - 1
            # the burst (20, two used by the frames above unless refilled since), plus what
            # the bucket refilled (5 per second) while the flood was arriving
            assert 18 <= delivered <= 20 + 5 * window + 1
            assert a1.net.stats["dropped_rate"] == 202 - 2 - delivered
            assert a1.peer_addresses() == {b1.address}  # rate limiting does not disconnect
        finally:
            await stopped(a1, b1)

    run(body)


def test_unknown_peer_send_is_counted_not_raised() -> None:
    async def body() -> None:
        a1 = Node(World(), A1)
        await a1.net.start()
        try:
            a1.net.send("nobody", KIND_VOTE, b"x")
            a1.net.broadcast(KIND_VOTE, b"x")
            assert a1.net.stats["dropped_no_peer"] == 1
            assert a1.net.stats["frames_out"] == 0
        finally:
            await a1.net.stop()

    run(body)


async def tls_server(
    identity: Identity, world: World
) -> tuple[asyncio.Server, asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]:
    """A hand-driven peer's listener: each connection it accepts exchanges HELLOs and is
    put on the queue."""
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await read_frame(reader, 64) == (KIND_HELLO, HELLO_PAYLOAD)
        writer.write(encode_frame(KIND_HELLO, HELLO_PAYLOAD))
        await writer.drain()
        await accepted.put((reader, writer))

    ctx = make_context(identity, world.cas(), server=True)
    server = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=ctx)
    return server, accepted


def test_frames_the_peer_sends_on_a_replaced_connection_are_delivered() -> None:
    """The peer dials again (same dialer: the new connection replaces the old one) but
    sends one more frame on the old connection, as a peer that has not switched yet does."""

    async def body() -> None:
        world = World()
        node = Node(world, A1)
        await started(node)
        try:
            _, old = await raw_peer(B2, world, node.endpoint)
            await wait_until(lambda: node.peer_addresses() == {B2.info.address})
            _, new = await raw_peer(B2, world, node.endpoint)
            await wait_until(lambda: node.net.stats["duplicates_closed"] == 1)
            old.write(encode_frame(KIND_VOTE, b"late, on the old connection"))
            new.write(encode_frame(KIND_VOTE, b"on the new connection"))
            await old.drain()
            await new.drain()
            await wait_until(lambda: node.got(b"on the new connection") == [B2.info.address])
            await wait_until(lambda: node.got(b"late, on the old connection") == [B2.info.address])
            assert node.peer_addresses() == {B2.info.address}
            assert node.events == [(B2.info.address, True)]  # never reported down
            old.close()
            new.close()
        finally:
            await stopped(node)

    run(body)


@pytest.mark.parametrize("node_dials_first", [False, True])
def test_frames_in_flight_on_the_connection_that_loses_the_tie_break_are_delivered(
    node_dials_first: bool,
) -> None:
    """Both sides dial; the node keeps the connection it dialed (its address is the lower)
    and the peer, which has not seen that connection yet, still sends on the one it dialed.
    Whether the losing connection was there first (it is replaced) or came second (it is
    refused as a duplicate), what the peer sends on it must arrive."""

    async def body() -> None:
        world = World()
        low, high = sorted([A1, B2], key=lambda ident: ident.info.address)
        node = Node(world, low)
        server, accepted = await tls_server(high, world)
        await started(node)
        try:
            if node_dials_first:
                node.net.set_peers([server.sockets[0].getsockname()[:2]])
                await accepted.get()
                await wait_until(
                    lambda: node.net.connections() == {high.info.address: node.address}
                )
                _, losing = await raw_peer(high, world, node.endpoint)
            else:
                _, losing = await raw_peer(high, world, node.endpoint)
                await wait_until(lambda: node.peer_addresses() == {high.info.address})
                node.net.set_peers([server.sockets[0].getsockname()[:2]])
                await accepted.get()
            await wait_until(lambda: node.net.stats["duplicates_closed"] == 1)
            assert node.net.connections() == {high.info.address: node.address}
            losing.write(encode_frame(KIND_VOTE, b"sent before the peer switched"))
            await losing.drain()
            await wait_until(
                lambda: node.got(b"sent before the peer switched") == [high.info.address]
            )
            assert node.events == [(high.info.address, True)]
            losing.close()
        finally:
            await stopped(node)
            server.close()

    run(body)


def test_reconnecting_does_not_refill_a_peers_rate_limit() -> None:
    """A peer that spent its burst and dials again gets no new burst: the token bucket
    belongs to the peer, not to the connection."""

    async def body() -> None:
        world = World()
        node = Node(world, A1, rate_limit=(0.001, 3.0))  # a burst of 3, next token in 1000 s
        await started(node)
        try:
            sent = 0
            for attempt in range(3):
                _, writer = await raw_peer(B2, world, node.endpoint)
                await wait_until(lambda: node.peer_addresses() == {B2.info.address})
                for i in range(4):
                    writer.write(encode_frame(KIND_TXS, b"flood %d.%d" % (attempt, i)))
                await writer.drain()
                sent += 4
                await wait_until(lambda s=sent: node.net.stats["frames_in"] == s)
                writer.close()
            assert len(node.frames) == 3
            assert node.net.stats["dropped_rate"] == sent - 3
        finally:
            await stopped(node)

    run(body)


def test_idle_connections_from_one_host_do_not_use_up_the_handshake_slots() -> None:
    """Slowloris: one host opens TCP connections and never starts TLS. It holds at most its
    share of the pending handshakes; a member from another host still connects."""

    async def body() -> None:
        world = World()
        node = Node(world, A1, max_pending_handshakes=8, max_pending_per_host=4)
        await started(node)
        idle: list[socket.socket] = []
        try:
            loop = asyncio.get_running_loop()
            for _ in range(8):
                s = socket.socket()
                s.setblocking(False)
                s.bind(("127.0.0.2", 0))  # another host (all of 127/8 is loopback)
                await loop.sock_connect(s, node.endpoint)
                idle.append(s)
            await wait_until(lambda: node.net.stats["handshakes_failed"] == 4)  # refused
            _, writer = await raw_peer(B2, world, node.endpoint)  # from 127.0.0.1
            await wait_until(lambda: node.peer_addresses() == {B2.info.address})
            writer.close()
        finally:
            for s in idle:
                s.close()
            await stopped(node)

    run(body)


def test_a_peer_redialing_in_a_loop_holds_at_most_two_connections() -> None:
    """Each new connection of a peer replaces its current one, which is retired (read until
    the linger ends); retiring another closes the earlier retired one at once."""

    async def body() -> None:
        world = World()
        node = Node(world, A1, retire_linger=600.0)  # only the bound closes them here
        await started(node)
        readers: list[asyncio.StreamReader] = []
        try:
            for i in range(5):
                reader, _ = await raw_peer(B2, world, node.endpoint)
                readers.append(reader)
                await wait_until(lambda n=i: node.net.stats["duplicates_closed"] == n)
            for reader in readers[:3]:  # closed by the node
                assert await closed_by_remote(reader)
            assert node.peer_addresses() == {B2.info.address}
            assert node.net.stats["handshakes_failed"] == 0
        finally:
            await stopped(node)

    run(body)


def test_an_organisation_connects_at_most_max_peers_per_org_nodes() -> None:
    """A member organisation can issue itself any number of node certificates; each
    connected peer costs a bounded outbound queue, so one organisation's peers are capped
    (the others' are not affected)."""

    async def body() -> None:
        world = World()
        node = Node(world, A1, max_peers_per_org=2)
        await started(node)
        try:
            extra = ORG_B.issue("b3", "node")
            writers = []
            for ident in (B1, B2):
                _, writer = await raw_peer(ident, world, node.endpoint)
                writers.append(writer)
            await wait_until(lambda: node.peer_addresses() == {B1.info.address, B2.info.address})
            reader, writer = await raw_peer(extra, world, node.endpoint)
            assert await closed_by_remote(reader)  # a third node of OrgB is refused
            assert extra.info.address not in node.peer_addresses()
            assert node.net.stats["peers_rejected"] == 1
            _, writer_a2 = await raw_peer(A2, world, node.endpoint)  # OrgA: still welcome
            await wait_until(lambda: A2.info.address in node.peer_addresses())
            for w in [*writers, writer, writer_a2]:
                w.close()
        finally:
            await stopped(node)

    run(body)
