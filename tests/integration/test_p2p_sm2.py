"""The p2p transport of an SM2 chain over real TLS on 127.0.0.1: the TLS key attested by the
SM2 node certificate, both node keys proven per connection, the usual peer checks."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from tests.integration.p2pkit import (
    WAIT_S,
    Node,
    closed_by_remote,
    run,
    started,
    stopped,
    wait_until,
)

from tianfu.codec import decode, encode
from tianfu.crypto import SM2
from tianfu.identity import Identity, OrgCA
from tianfu.p2p.attested import (
    MAX_HELLO,
    PROTOCOL,
    ClientHello,
    ServerHello,
    attestation_message,
    client_message,
)
from tianfu.p2p.framing import HELLO_PAYLOAD, KIND_HELLO, encode_frame, read_frame
from tianfu.p2p.protocol import KIND_VOTE

pytestmark = pytest.mark.timeout(300)

ORG_A = OrgCA.create("OrgA", SM2)
ORG_B = OrgCA.create("OrgB", SM2)
ORG_X = OrgCA.create("Outsider", SM2)
A1 = ORG_A.issue("a1", "node", SM2)
B1 = ORG_B.issue("b1", "node", SM2)
B2 = ORG_B.issue("b2", "node", SM2)


class World:
    def __init__(self) -> None:
        self.orgs = {"OrgA": ORG_A.cert_der, "OrgB": ORG_B.cert_der}
        self.revoked: set[str] = set()

    def cas(self) -> dict[str, bytes]:
        return dict(self.orgs)

    def is_revoked(self, address: str) -> bool:
        return address in self.revoked


def _client_ctx() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def _raw_client(endpoint: tuple[str, int]) -> tuple[Any, Any, ServerHello, bytes]:
    """TLS to a node; (reader, writer, its ServerHello, its transport certificate)."""
    reader, writer = await asyncio.open_connection(*endpoint, ssl=_client_ctx(), server_hostname="")
    transport_cert = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    kind, payload = await asyncio.wait_for(read_frame(reader, MAX_HELLO), WAIT_S)
    assert kind == KIND_HELLO
    return reader, writer, decode(payload, ServerHello), transport_cert


def test_sm2_nodes_of_two_orgs_connect_and_exchange_frames() -> None:
    async def body() -> None:
        world = World()
        a1, b1, b2 = Node(world, A1), Node(world, B1), Node(world, B2)
        await started(a1, b1, b2)
        try:
            b1.net.set_peers([a1.endpoint, b2.endpoint])
            b2.net.set_peers([a1.endpoint])
            await wait_until(lambda: a1.peer_addresses() == {b1.address, b2.address})
            await wait_until(lambda: b1.peer_addresses() == {a1.address, b2.address})
            a1.net.broadcast(KIND_VOTE, b"sm2 vote")
            await wait_until(lambda: b1.got(b"sm2 vote") == [a1.address])
            await wait_until(lambda: b2.got(b"sm2 vote") == [a1.address])
            peer = next(p for p in b1.net.peers() if p.address == a1.address)
            assert (peer.org, peer.name, peer.public_key) == ("OrgA", "a1", A1.keypair.public_key)
            assert a1.net.stats["handshakes_failed"] == 0 and a1.net.stats["peers_rejected"] == 0
        finally:
            await stopped(a1, b1, b2)

    run(body)


def test_the_tls_certificate_is_attested_by_the_node_key() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1)
        await started(a1)
        try:
            reader, writer, hello, transport_cert = await _raw_client(a1.endpoint)
            cert = x509.load_der_x509_certificate(transport_cert)
            assert cert.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )  # an Ed25519 transport key
            assert hello.protocol == PROTOCOL and hello.node_cert == A1.cert_der
            from tianfu.crypto import get_suite

            sm2 = get_suite(SM2)
            assert sm2.verify(
                A1.keypair.public_key, attestation_message(transport_cert), hello.attestation
            )
            writer.close()
        finally:
            await stopped(a1)

    run(body)


def _answer(identity: Identity, transport_cert: bytes, nonce: bytes) -> bytes:
    sig = identity.keypair.sign(client_message(transport_cert, nonce))
    return encode_frame(KIND_HELLO, encode(ClientHello(PROTOCOL, identity.cert_der, sig)))


def test_a_client_proves_its_node_key_for_this_connection_only() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1)
        await started(a1)
        try:
            # A correct answer: the connection counts.
            reader, writer, hello, cert = await _raw_client(a1.endpoint)
            writer.write(_answer(B1, cert, hello.nonce))
            await writer.drain()
            assert await read_frame(reader, 64) == (KIND_HELLO, HELLO_PAYLOAD)
            await wait_until(lambda: a1.peer_addresses() == {B1.info.address})
            writer.close()
            await wait_until(lambda: a1.net.peers() == [])
            rejected = a1.net.stats["peers_rejected"]
            # A signature for another nonce (a replayed or relayed answer): refused.
            reader, writer, hello, cert = await _raw_client(a1.endpoint)
            writer.write(_answer(B1, cert, bytes(32)))
            writer.write(encode_frame(KIND_VOTE, b"smuggled"))
            await writer.drain()
            assert await closed_by_remote(reader)
            # A signature for another server's transport certificate: refused.
            reader, writer, hello, cert = await _raw_client(a1.endpoint)
            writer.write(_answer(B1, cert[:-1] + bytes([cert[-1] ^ 1]), hello.nonce))
            await writer.drain()
            assert await closed_by_remote(reader)
            # Another node's certificate without its key (signed by B2): refused.
            reader, writer, hello, cert = await _raw_client(a1.endpoint)
            sig = B2.keypair.sign(client_message(cert, hello.nonce))
            forged = ClientHello(PROTOCOL, B1.cert_der, sig)
            writer.write(encode_frame(KIND_HELLO, encode(forged)))
            await writer.drain()
            assert await closed_by_remote(reader)
            await wait_until(lambda: a1.net.stats["peers_rejected"] >= rejected + 3)
            assert a1.net.peers() == [] and a1.got(b"smuggled") == []
        finally:
            await stopped(a1)

    run(body)


def test_non_members_member_kind_and_revoked_nodes_are_refused() -> None:
    async def body() -> None:
        world = World()
        a1 = Node(world, A1)
        outsider = ORG_X.issue("x1", "node", SM2)
        member = ORG_B.issue("alice", "member", SM2)
        await started(a1)
        try:
            for ident in (outsider, member):
                reader, writer, hello, cert = await _raw_client(a1.endpoint)
                writer.write(_answer(ident, cert, hello.nonce))
                await writer.drain()
                assert await closed_by_remote(reader)
            world.revoked.add(B1.info.address)
            reader, writer, hello, cert = await _raw_client(a1.endpoint)
            writer.write(_answer(B1, cert, hello.nonce))
            await writer.drain()
            assert await closed_by_remote(reader)
            assert a1.net.peers() == [] and a1.net.stats["peers_rejected"] >= 3
            # A dialing node refuses a server whose organisation is not a member.
            x = Node(World(), outsider)
            await started(x)
            try:
                a1.net.set_peers([x.endpoint])
                await wait_until(lambda: a1.net.stats["peers_rejected"] >= 4)
                assert a1.net.peers() == [] and x.frames == []
            finally:
                await stopped(x)
        finally:
            await stopped(a1)

    run(body)
