"""Mutual-TLS material of the p2p transport: TLS 1.3 contexts and the peer-certificate check.

Both sides present a node certificate and require one from the other (`CERT_REQUIRED`).
OpenSSL checks the chain against the member organisations' CA certificates; then
`verify_peer` re-checks the certificate with `tianfu.identity.verify_cert` against the
CA of the organisation it names, requires kind "node", refuses revoked addresses and our
own address, and returns the `PeerId` read from the certificate. Hostnames are not
checked: a node's identity is its certificate, not a DNS name.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping

from tianfu.identity import Identity, IdentityError, cert_info, der_to_pem, verify_cert
from tianfu.p2p.framing import CertificateTimeError, PeerRejectedError, SelfConnectionError
from tianfu.p2p.protocol import PeerId

log = logging.getLogger(__name__)

TrustedCas = Mapping[str, bytes]  # organisation name -> CA certificate DER


def _ca_pem(cas: TrustedCas) -> str:
    pems = []
    for org in sorted(cas):
        try:
            pems.append(der_to_pem(cas[org]).decode("ascii"))
        except IdentityError as exc:  # one malformed CA on chain must not stop the others
            log.warning("ignoring the unusable CA certificate of %r: %s", org, exc)
    if not pems:
        raise PeerRejectedError("no usable organisation CA: cannot authenticate any peer")
    return "".join(pems)


def make_context(identity: Identity, cas: TrustedCas, *, server: bool) -> ssl.SSLContext:
    """A TLS 1.3-only context presenting `identity` and trusting exactly `cas`."""
    if not cas:
        raise PeerRejectedError("no trusted organisation CA: cannot authenticate any peer")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False  # identity is the certificate, not DNS (ADR 0011)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if server:
        ctx.num_tickets = 0  # no session resumption: every connection shows its certificate
    # ssl can only load a key from a file: write it to a private temporary directory
    # (mode 0700, key 0600) for the duration of the call.
    with tempfile.TemporaryDirectory(prefix="tianfu-tls-") as tmp:
        key_path = os.path.join(tmp, "key.pem")
        cert_path = os.path.join(tmp, "cert.pem")
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(identity.keypair.private_pem())
        with open(cert_path, "wb") as f:
            f.write(der_to_pem(identity.cert_der))
        ctx.load_cert_chain(cert_path, key_path)
    ctx.load_verify_locations(cadata=_ca_pem(cas))
    return ctx


class ContextCache:
    """Server and client contexts for the current set of trusted CAs, rebuilt when it changes."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self._key: tuple[tuple[str, bytes], ...] | None = None
        self._server: ssl.SSLContext | None = None
        self._client: ssl.SSLContext | None = None

    def get(self, cas: TrustedCas, *, server: bool) -> ssl.SSLContext:
        key = tuple(sorted((org, bytes(der)) for org, der in cas.items()))
        if key != self._key or self._server is None or self._client is None:
            self._server = make_context(self._identity, cas, server=True)
            self._client = make_context(self._identity, cas, server=False)
            self._key = key
        return self._server if server else self._client


def verify_peer(
    der: bytes | None,
    cas: TrustedCas,
    is_revoked: Callable[[str], bool],
    own_address: str,
    at_ms: int | None = None,
) -> PeerId:
    """The `PeerId` named by a peer's certificate, or `PeerRejectedError` saying why not."""
    if not der:
        raise PeerRejectedError("peer presented no certificate")
    try:
        org = cert_info(der).org
    except IdentityError as exc:
        raise PeerRejectedError(f"unreadable peer certificate: {exc}") from None
    ca = cas.get(org)
    if ca is None:
        raise PeerRejectedError(f"organisation {org!r} is not a member")
    now = int(time.time() * 1000) if at_ms is None else at_ms
    try:
        info = verify_cert(der, ca, at_ms=now)
    except IdentityError as exc:
        _raise_if_time_only(der, ca, now, exc)
        raise PeerRejectedError(f"peer certificate not valid: {exc}") from None
    if info.kind != "node":
        raise PeerRejectedError(f"certificate of kind {info.kind!r} is not a node certificate")
    address = info.address
    if address == own_address:
        raise SelfConnectionError("connected to ourselves")
    if is_revoked(address):
        raise PeerRejectedError(f"peer {address} is revoked")
    return PeerId(address=address, org=info.org, name=info.name, public_key=info.public_key)


def _raise_if_time_only(der: bytes, ca: bytes, now_ms: int, exc: IdentityError) -> None:
    """`CertificateTimeError` if the certificate checked against `ca` fails only because
    `now_ms` is outside its (or the CA's) validity period; else nothing."""
    try:
        info = verify_cert(der, ca)  # everything but the validity period
        ca_info = cert_info(ca)
    except IdentityError:
        return
    first = max(info.not_before_ms, ca_info.not_before_ms)
    last = min(info.not_after_ms, ca_info.not_after_ms)
    if now_ms < first:
        raise CertificateTimeError(f"peer certificate not valid: {exc}", "not yet valid")
    if now_ms > last:
        raise CertificateTimeError(f"peer certificate not valid: {exc}", "expired")


def no_longer_admitted(
    peer: PeerId,
    ca_der: bytes,
    not_after_ms: int,
    cas: TrustedCas,
    is_revoked: Callable[[str], bool],
    now_ms: int,
) -> str | None:
    """Why a connected peer (its organisation's CA then, its certificate's expiry) is no
    longer admitted now, or None: revoked, CA no longer trusted (or changed), expired."""
    if is_revoked(peer.address):
        return "revoked"
    if cas.get(peer.org) != ca_der:
        return "its organisation's CA is no longer trusted"
    if now_ms > not_after_ms:
        return "its certificate expired"
    return None


def peer_certificate(writer: asyncio.StreamWriter) -> bytes | None:
    """The DER certificate the peer presented in a completed TLS handshake.

    A connection lost before or during the handshake can still come back from the loop as
    a transport (uvloop wakes the handshake's waiter without an error when the connection
    is closed before the handshake began): that is a failed handshake, not a peer without
    a certificate, and raises `ConnectionResetError`.
    """
    ssl_object = writer.get_extra_info("ssl_object")
    if ssl_object is None or writer.transport.is_closing():
        raise ConnectionResetError("the connection closed before the TLS handshake completed")
    try:
        der: bytes | None = ssl_object.getpeercert(binary_form=True)
    except ValueError:  # "handshake not done yet"
        raise ConnectionResetError("the TLS handshake did not complete") from None
    return der
