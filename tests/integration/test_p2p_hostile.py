"""Hostile peers and clients of the p2p transport: oversized frames, garbage, redialing for
a fresh rate limit, connections that hold handshake slots."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct

import pytest
from tests.integration.p2pkit import (
    A1,
    A2,
    B1,
    B2,
    Node,
    World,
    closed_by_remote,
    linked,
    raw_peer,
    run,
    started,
    stopped,
    wait_until,
)

from tianfu.p2p.framing import (
    HELLO_PAYLOAD,
    KIND_HELLO,
    FrameTooLargeError,
    encode_frame,
)
from tianfu.p2p.protocol import KIND_TXS, KIND_VOTE

pytestmark = pytest.mark.timeout(300)


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
            await linked(a1, a2, b1)
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
            await linked(a1, b1)
            b1.net.broadcast(KIND_VOTE, b"ok")
            await wait_until(lambda: a1.got(b"ok") == [b1.address])
        finally:
            await stopped(a1, b1)

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


def test_idle_connections_from_many_hosts_give_way_to_a_new_handshake() -> None:
    """Slowloris from several hosts: together they hold every handshake slot (each host
    within its share) and never start TLS. A member dialing then takes the slot of the
    oldest idle handshake once that has had its grace; it used to be refused until the
    idle connections' handshake timeout (here 60 s) ran out."""

    async def body() -> None:
        world = World()
        node = Node(
            world, A1, max_pending_handshakes=8, max_pending_per_host=2, handshake_timeout=60.0
        )
        await started(node)
        idle: list[socket.socket] = []
        try:
            loop = asyncio.get_running_loop()
            for host in range(2, 6):  # 127.0.0.2 .. 127.0.0.5: 4 hosts x 2 = all 8 slots
                for _ in range(2):
                    s = socket.socket()
                    s.setblocking(False)
                    s.bind((f"127.0.0.{host}", 0))
                    await loop.sock_connect(s, node.endpoint)
                    idle.append(s)
            deadline = loop.time() + 30.0
            writer = None
            while writer is None and loop.time() < deadline:
                try:
                    _, writer = await raw_peer(B2, world, node.endpoint)  # from 127.0.0.1
                except (OSError, ssl.SSLError, asyncio.IncompleteReadError):
                    await asyncio.sleep(0.2)  # refused: the slots are taken; dial again
            assert writer is not None, node.net.stats
            await wait_until(lambda: node.peer_addresses() == {B2.info.address})
            assert node.net.stats["handshakes_evicted"] >= 1
            writer.close()
        finally:
            for s in idle:
                s.close()
            await stopped(node)

    run(body)


def test_ipv6_addresses_of_one_64_share_one_hosts_handshake_slots() -> None:
    """Handshake slots are shared per host before any byte is read; an IPv6 host is its
    /64 (one subscriber's allocation: the addresses inside it cost nothing more), as on
    the observer port. Each address of a /64 counted as a host of its own, so one /64
    could take every slot of the members' port with `max_pending_per_host` each."""

    async def body() -> None:
        node = Node(World(), A1, max_pending_handshakes=8, max_pending_per_host=2)
        await started(node)
        pairs = [socket.socketpair() for _ in range(4)]
        try:
            for i, (ours, _) in enumerate(pairs):
                node.net._accept(ours, f"2001:db8::{i + 1}")  # four addresses of one /64
            assert len(node.net._slots) == 2
            assert node.net.stats["handshakes_failed"] == 2  # refused before any byte
        finally:
            for _, theirs in pairs:
                theirs.close()
            await stopped(node)

    run(body)
