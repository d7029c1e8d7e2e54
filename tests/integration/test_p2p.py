"""The p2p transport over real mutual-TLS connections on 127.0.0.1 (free ports): mesh,
broadcast and send, one connection per pair, queues, reconnects, rate limits."""

from __future__ import annotations

import asyncio

import pytest
from tests.integration.p2pkit import (
    A1,
    A2,
    B1,
    B2,
    WAIT_S,
    Node,
    World,
    linked,
    raw_peer,
    run,
    started,
    stopped,
    wait_until,
)

from tianfu.p2p.framing import (
    read_frame,
)
from tianfu.p2p.protocol import KIND_TXS, KIND_VOTE, PeerId

pytestmark = pytest.mark.timeout(300)


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

            # Exactly one connection per pair, agreed by both ends. Every node dialed every
            # other: a late duplicate may still be arriving at one end and being resolved
            # while the frames above flowed on the first, so the ends agree once it is.
            def one_per_pair() -> bool:
                return all(
                    len(node.net.peers()) == 2
                    and all(
                        next(n for n in nodes if n.address == peer)
                        .net.connections()
                        .get(node.address)
                        == dialer
                        for peer, dialer in node.net.connections().items()
                    )
                    for node in nodes
                )

            await wait_until(one_per_pair, what="one agreed connection per pair")
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
            await linked(a1, b1)
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
