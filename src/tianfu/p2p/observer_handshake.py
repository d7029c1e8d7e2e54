"""The observer port's handshake messages: `ObserverHello` and `ObserverProof` (ADR 0025).

Both ends of an observer-port connection send a HELLO (protocol version, chain id, a fresh
nonce), then a proof: their key, a role and a signature over `proof_message` — the chain
id, the server's transport certificate and both nonces — so a proof made for another
connection does not verify. `tianfu.p2p.observer` runs the exchange.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

import msgspec

from tianfu.codec import hash_domain

KIND_OBSERVER_HELLO = 12  # ObserverHello: first frame on the observer port
KIND_OBSERVER_PROOF = 13  # ObserverProof: second frame on the observer port
OBSERVER_VERSION = 1
PROOF_TAG = "tianfu/p2p/observer/v1"
ROLES = ("observer", "validator")
MAX_HANDSHAKE_FRAME = 512


class ObserverHello(msgspec.Struct, array_like=True, frozen=True):
    version: int
    chain_id: Annotated[str, msgspec.Meta(max_length=64)]
    nonce: Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]

    def validate(self) -> None:
        if self.version != OBSERVER_VERSION:
            raise ValueError(f"unknown observer protocol version {self.version}")


class ObserverProof(msgspec.Struct, array_like=True, frozen=True):
    scheme: int
    public_key: Annotated[bytes, msgspec.Meta(max_length=65)]
    role: str
    signature: Annotated[bytes, msgspec.Meta(max_length=72)]

    def validate(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")


_Handshake = TypeVar("_Handshake", ObserverHello, ObserverProof)


def proof_message(
    chain_id: str, server_cert: bytes, their_nonce: bytes, own_nonce: bytes, role: str
) -> bytes:
    """What a side signs: bound to this connection (server certificate, both nonces)."""
    return hash_domain(
        PROOF_TAG, chain_id.encode(), server_cert, their_nonce, own_nonce, role.encode()
    )
