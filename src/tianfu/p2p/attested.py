"""The p2p handshake of an SM2 chain: TLS 1.3 with a standard transport key, bound to the
node's SM2 certificate by SM2 signatures (ADR 0022).

OpenSSL's TLS 1.3 has no SM2 signature scheme, and OpenSSL 3 checks an SM2 certificate
signature with an empty user id where GM/T 0015 certificates use "1234567812345678", so
TLS itself cannot authenticate a node of an SM2 chain. Instead:

- Each node makes a transport key (Ed25519) and a self-signed certificate for it when it
  starts. TLS 1.3 runs with it (server side only; neither side asks OpenSSL to check a
  chain): the channel is encrypted and the server has proved it holds that key.
- The server's first frame (kind 0) names its SM2 node certificate, an SM2 signature of
  its node key over the transport certificate (the attestation, made once at start) and a
  fresh 32-byte nonce. The client checks the node certificate exactly as ADR 0011 does
  (`tls.verify_peer`: member organisation, CA from chain state, kind node, not revoked),
  then the attestation against the transport certificate the TLS handshake showed.
- The client answers with its SM2 node certificate and an SM2 signature over the server's
  transport certificate and the nonce. The server checks the certificate the same way and
  the signature against its own transport certificate and the nonce it sent: a signature
  made for another connection (another server, or another nonce) does not verify, so a
  node in the middle cannot relay one.
- The server then sends the usual HELLO; each side counts the connection only once it
  has checked the other (the client after that HELLO), as in ADR 0011.

Every signed message is a domain-separated SM3 hash (`tianfu.codec.hash_domain` under the
SM2 suite), so these signatures can never be mistaken for a transaction's or a vote's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import ssl
import tempfile
from collections.abc import Callable
from typing import Any

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from tianfu.codec import CodecError, decode, encode, hash_domain_with
from tianfu.crypto import SM2, SM2_SUITE, get_suite
from tianfu.identity import CertInfo, Identity
from tianfu.p2p.framing import (
    HELLO_PAYLOAD,
    KIND_HELLO,
    MalformedFrameError,
    PeerRejectedError,
    encode_frame,
    read_frame,
)
from tianfu.p2p.protocol import PeerId

PROTOCOL = b"tianfu-p2p/1+sm2"
ATTEST_TAG = "tianfu/p2p/transport/v1"  # the node key vouches for a transport certificate
CLIENT_TAG = "tianfu/p2p/client/v1"  # the client's node key, for one server and nonce
NONCE_SIZE = 32
MAX_HELLO = 8192  # two certificates' worth, far above what a valid frame needs

CheckPeer = Callable[[bytes | None], PeerId]  # a node certificate -> PeerId, or raises


class ServerHello(msgspec.Struct, array_like=True, frozen=True):
    protocol: bytes
    node_cert: bytes
    attestation: bytes  # SM2 over H(ATTEST_TAG, transport certificate)
    nonce: bytes

    def validate(self) -> None:
        if self.protocol != PROTOCOL or len(self.nonce) != NONCE_SIZE:
            raise ValueError("not a tianfu SM2 server hello")


class ClientHello(msgspec.Struct, array_like=True, frozen=True):
    protocol: bytes
    node_cert: bytes
    signature: bytes  # SM2 over H(CLIENT_TAG, server's transport certificate, nonce)

    def validate(self) -> None:
        if self.protocol != PROTOCOL:
            raise ValueError("not a tianfu SM2 client hello")


def _digest(tag: str, *parts: bytes) -> bytes:
    return hash_domain_with(SM2_SUITE.hash, tag, *parts)


def attestation_message(transport_cert: bytes) -> bytes:
    return _digest(ATTEST_TAG, transport_cert)


def client_message(server_transport_cert: bytes, nonce: bytes) -> bytes:
    return _digest(CLIENT_TAG, server_transport_cert, nonce)


def _transport_certificate() -> tuple[ed25519.Ed25519PrivateKey, bytes]:
    """A fresh Ed25519 key and a self-signed certificate for it. It lives as long as the
    node process; its validity period is not what makes it trusted (the attestation is)."""
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tianfu transport")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, None)
    )
    return key, cert.public_bytes(serialization.Encoding.DER)


def _context(key: ed25519.Ed25519PrivateKey, cert_der: bytes, *, server: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    # Authentication is the SM2 exchange above, bound to the server's transport
    # certificate; OpenSSL checks no chain.
    ctx.verify_mode = ssl.CERT_NONE
    if server:
        ctx.num_tickets = 0  # no resumption: every connection shows its certificate
        with tempfile.TemporaryDirectory(prefix="tianfu-tls-") as tmp:
            key_path = os.path.join(tmp, "key.pem")
            cert_path = os.path.join(tmp, "cert.pem")
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(
                    key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
            with open(cert_path, "wb") as f:
                f.write(
                    x509.load_der_x509_certificate(cert_der).public_bytes(
                        serialization.Encoding.PEM
                    )
                )
            ctx.load_cert_chain(cert_path, key_path)
    return ctx


class AttestedTransport:
    """TLS contexts and the SM2 handshake of a node whose identity is an SM2 certificate.

    `get(cas, server=...)` has the shape of `tls.ContextCache.get`: the contexts do not
    depend on the trusted CAs (those are applied by `check_peer` on the node certificates).
    """

    def __init__(self, identity: Identity) -> None:
        if identity.keypair.scheme != SM2:
            raise ValueError("an attested transport is for an SM2 node identity")
        self._identity = identity
        key, self.transport_cert = _transport_certificate()
        self._server = _context(key, self.transport_cert, server=True)
        self._client = _context(key, self.transport_cert, server=False)
        self._attestation = identity.keypair.sign(attestation_message(self.transport_cert))

    def get(self, cas: Any, *, server: bool) -> ssl.SSLContext:
        return self._server if server else self._client

    async def handshake(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer_transport_cert: bytes | None,
        check_peer: CheckPeer,
        *,
        server: bool,
        timeout: float,
    ) -> tuple[PeerId, CertInfo]:
        """Authenticate the peer of a TLS connection; (its PeerId, its node certificate).

        Raises `PeerRejectedError` for a peer that is not a valid node, and
        `MalformedFrameError`, `CodecError` or a timeout for one that breaks the protocol.
        """
        if server:
            return await self._as_server(reader, writer, check_peer, timeout)
        return await self._as_client(reader, writer, peer_transport_cert, check_peer, timeout)

    async def _as_server(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        check_peer: CheckPeer,
        timeout: float,
    ) -> tuple[PeerId, CertInfo]:
        nonce = secrets.token_bytes(NONCE_SIZE)
        hello = ServerHello(PROTOCOL, self._identity.cert_der, self._attestation, nonce)
        writer.write(encode_frame(KIND_HELLO, encode(hello)))
        await writer.drain()
        answer = await _read_hello(reader, ClientHello, timeout)
        peer, info = _checked(check_peer, answer.node_cert)
        message = client_message(self.transport_cert, nonce)
        if not get_suite(SM2).verify(info.public_key, message, answer.signature):
            raise PeerRejectedError(
                f"peer {peer.address} did not sign this connection with its node key"
            )
        writer.write(encode_frame(KIND_HELLO, HELLO_PAYLOAD))
        await writer.drain()
        return peer, info

    async def _as_client(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        server_transport_cert: bytes | None,
        check_peer: CheckPeer,
        timeout: float,
    ) -> tuple[PeerId, CertInfo]:
        if not server_transport_cert:
            raise PeerRejectedError("the peer presented no transport certificate")
        hello = await _read_hello(reader, ServerHello, timeout)
        peer, info = _checked(check_peer, hello.node_cert)
        message = attestation_message(server_transport_cert)
        if not get_suite(SM2).verify(info.public_key, message, hello.attestation):
            raise PeerRejectedError(
                f"peer {peer.address}'s node key does not vouch for its TLS certificate"
            )
        signature = self._identity.keypair.sign(client_message(server_transport_cert, hello.nonce))
        answer = ClientHello(PROTOCOL, self._identity.cert_der, signature)
        writer.write(encode_frame(KIND_HELLO, encode(answer)))
        await writer.drain()
        kind, payload = await asyncio.wait_for(read_frame(reader, len(HELLO_PAYLOAD)), timeout)
        if kind != KIND_HELLO or payload != HELLO_PAYLOAD:
            raise MalformedFrameError("the peer did not complete our protocol's HELLO")
        return peer, info


def _checked(check_peer: CheckPeer, node_cert: bytes) -> tuple[PeerId, CertInfo]:
    from tianfu.identity import cert_info

    peer = check_peer(node_cert)  # verify_peer: raises PeerRejectedError with the reason
    info = cert_info(node_cert)
    if info.scheme != SM2:
        raise PeerRejectedError("the peer's node certificate does not hold an SM2 key")
    return peer, info


async def _read_hello(reader: asyncio.StreamReader, typ: type[Any], timeout: float) -> Any:
    kind, payload = await asyncio.wait_for(read_frame(reader, MAX_HELLO), timeout)
    if kind != KIND_HELLO:
        raise MalformedFrameError("the peer's first frame is not our protocol's HELLO")
    try:
        return decode(payload, typ, max_size=MAX_HELLO)
    except CodecError as exc:
        raise MalformedFrameError(f"malformed HELLO: {exc}") from None
