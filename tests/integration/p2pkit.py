"""Helpers of the p2p transport tests: member CAs and node identities, a `World` of chain
state, a recording `Node`, hand-driven peers, and waits with deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from tianfu.crypto.suite import ECDSA_P256
from tianfu.identity import Identity, OrgCA
from tianfu.p2p.framing import (
    HELLO_PAYLOAD,
    KIND_HELLO,
    encode_frame,
    read_frame,
)
from tianfu.p2p.network import TlsNetwork
from tianfu.p2p.protocol import PeerId
from tianfu.p2p.tls import make_context

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


async def linked(node: Node, *dialers: Node) -> None:
    """Wait until `node` and each of `dialers` see each other as peers. A connection is
    registered on its two ends at different moments, and a frame sent from an end that has
    not registered it yet is dropped (`dropped_no_peer`): a test that sends from a dialer
    waits for both ends, not only for the one it then reads."""
    want = {d.address for d in dialers}

    def both_ends() -> bool:
        return node.peer_addresses() == want and all(
            node.address in d.peer_addresses() for d in dialers
        )

    await wait_until(both_ends, what="both ends of the links to " + node.address)


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
