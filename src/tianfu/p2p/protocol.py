"""The p2p protocol the rest of the node sees: message kinds, peer identity, the `Network` interface.

The transport (`tianfu.p2p.network`) delivers frames `(kind, payload)` from peers whose
identity comes from their mutual-TLS certificate. Consensus, sync and the mempool each
own their message kinds and decode payloads themselves (with `tianfu.codec.decode`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Message kinds (one byte on the wire).
KIND_TXS = 1  # msgpack list of encoded transactions (gossip)
KIND_PROPOSAL = 2  # consensus.messages.Proposal
KIND_VOTE = 3  # types.Vote
KIND_STATUS = 4  # sync: a peer's latest height
KIND_BLOCKS_REQUEST = 5  # sync: ask for blocks with certificates
KIND_BLOCKS_RESPONSE = 6  # sync: blocks with certificates
KIND_EVIDENCE = 7  # double-sign evidence
KIND_COMMIT = 8  # a committed block + certificate (for peers stuck at that height)
KIND_PRIVATE_FETCH = 9  # private data: ask a granted peer for a blob (privdata.messages)
KIND_PRIVATE_DATA = 10  # private data: the blob, or "unavailable"
KIND_PRIVATE_HAVE = 11  # private data: this node now holds a blob (sent to granted peers)
# 12-13: the observer port's handshake (tianfu.p2p.observer).
# 14-16: photo_sharing's blobs (tianfu.apps.photo_sharing.replication: have, fetch, data).


@dataclass(frozen=True)
class PeerId:
    """A peer as named by its node certificate."""

    address: str  # tianfu.execution.contract_api.address_of(scheme, public key) of the node key
    org: str
    name: str
    public_key: bytes  # the node key (equals the validator key for validators)


# Called on the event loop for every frame received from an authenticated peer.
Handler = Callable[[PeerId, int, bytes], None]


class Network(Protocol):
    def broadcast(self, kind: int, payload: bytes) -> None:
        """Queue a frame to every connected peer (never blocks; bounded per-peer queues)."""
        ...

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        """Queue a frame to one peer by address (dropped if not connected)."""
        ...

    def peers(self) -> list[PeerId]: ...
