"""Who the p2p transport admits: member CAs, node certificates, revocation, the periodic
check of connected peers, and the cap of peers per organisation."""

from __future__ import annotations

import asyncio

import pytest
from tests.integration.p2pkit import (
    A1,
    A2,
    B1,
    B2,
    ORG_A,
    ORG_B,
    ORG_X,
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
    encode_frame,
)
from tianfu.p2p.protocol import KIND_VOTE
from tianfu.p2p.tls import make_context

pytestmark = pytest.mark.timeout(300)


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
            await linked(a1, b1)
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
