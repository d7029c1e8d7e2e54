"""One connection per pair of nodes: what a peer sends on the connection that is replaced
or loses the tie-break still arrives, and a peer redialing holds at most two connections."""

from __future__ import annotations

import asyncio

import pytest
from tests.integration.p2pkit import (
    A1,
    B2,
    Node,
    World,
    closed_by_remote,
    raw_peer,
    run,
    started,
    stopped,
    tls_server,
    wait_until,
)

from tianfu.p2p.framing import (
    encode_frame,
)
from tianfu.p2p.protocol import KIND_VOTE

pytestmark = pytest.mark.timeout(300)


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
