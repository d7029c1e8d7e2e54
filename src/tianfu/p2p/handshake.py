"""After TLS: check the peer's node certificate, then exchange HELLOs (ADR 0011, ADR 0022).

Each end checks the other's certificate (`tls.verify_peer`) before it sends its HELLO;
a connection counts once both HELLOs crossed. A node of an SM2 chain runs TLS with a
transport key its node certificate vouches for, and both ends prove their node keys in
the HELLO exchange of `AttestedTransport` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tianfu.identity import cert_info
from tianfu.p2p.attested import AttestedTransport
from tianfu.p2p.framing import (
    HELLO_PAYLOAD,
    KIND_HELLO,
    MalformedFrameError,
    encode_frame,
    read_frame,
)
from tianfu.p2p.protocol import PeerId
from tianfu.p2p.tls import ContextCache, TrustedCas, peer_certificate, verify_peer


async def authenticate(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    cas: TrustedCas,
    contexts: ContextCache | AttestedTransport,
    is_revoked: Callable[[str], bool],
    own_address: str,
    *,
    server: bool,
    timeout: float,
) -> tuple[PeerId, int]:
    """(peer, its certificate's not_after ms) of a connection whose TLS handshake is done;
    `PeerRejectedError` if its certificate does not admit it."""
    der = peer_certificate(writer)
    if isinstance(contexts, AttestedTransport):  # a node of an SM2 chain
        peer, info = await contexts.handshake(
            reader,
            writer,
            der,
            lambda node_cert: verify_peer(node_cert, cas, is_revoked, own_address),
            server=server,
            timeout=timeout,
        )
        return peer, info.not_after_ms
    peer = verify_peer(der, cas, is_revoked, own_address)
    assert der is not None
    writer.write(encode_frame(KIND_HELLO, HELLO_PAYLOAD))
    await writer.drain()
    kind, payload = await asyncio.wait_for(read_frame(reader, len(HELLO_PAYLOAD)), timeout)
    if kind != KIND_HELLO or payload != HELLO_PAYLOAD:
        raise MalformedFrameError("the peer's first frame is not our protocol's HELLO")
    return peer, cert_info(der).not_after_ms
