"""The members' transport and the observer port as one `Network` (open profile, ADR 0025):
what sync and transaction gossip use on a validator that serves both. Frames go to both; a
peer is found on whichever holds it; a member peer is a gossip share group of its own and
never an outsider; bad signatures from an observer-port link strike it, from a member are
counted and logged."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from tianfu.p2p.protocol import PeerId

if TYPE_CHECKING:
    from tianfu.p2p.observer import ObserverTransport

log = logging.getLogger("tianfu.p2p.observer")  # its messages are the observer port's
MAX_MEMBERS_TRACKED = 1024  # member peers whose forged transactions are counted
FORGED_LOG_EVERY_S = 60.0  # a member peer's forged transactions are logged this seldom


class CombinedNetwork:
    """The member transport and the observer port as one `Network` (for sync and gossip):
    frames go to both; a peer is found on whichever holds it."""

    def __init__(self, members: object, observers: ObserverTransport) -> None:
        self._members = members
        self._observers = observers
        # Bad signatures per member peer, and when each was last logged (oldest first,
        # at most `MAX_MEMBERS_TRACKED`: an organisation issues itself node certificates).
        self.member_forged: dict[str, int] = {}
        self._forged_logged: dict[str, float] = {}

    def broadcast(self, kind: int, payload: bytes) -> None:
        self._members.broadcast(kind, payload)  # type: ignore[attr-defined]
        self._observers.broadcast(kind, payload)

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        if peer in self._observers.roles():
            self._observers.send(peer, kind, payload)
        else:
            self._members.send(peer, kind, payload)  # type: ignore[attr-defined]

    def peers(self) -> list[PeerId]:
        return [*self._members.peers(), *self._observers.peers()]  # type: ignore[attr-defined]

    def gossip_share(self, peer: PeerId) -> tuple[str, str]:
        """A member peer is a gossip share group of its own; see `ObserverTransport`."""
        if peer.address in self._observers.roles():
            return self._observers.gossip_share(peer)
        return peer.address, peer.address

    def is_outsider(self, peer: PeerId) -> bool:
        """A member peer is not; see `ObserverTransport`."""
        return peer.address in self._observers.roles() and self._observers.is_outsider(peer)

    def served(self, peer: PeerId, n: int) -> None:
        """`peer` sent `n` transactions gossip admitted: an observer-port link's key and
        host are credited (`ObserverTransport.served`); a member needs no credit."""
        if peer.org == "" or peer.address in self._observers.roles():
            self._observers.served(peer, n)

    def forged(self, peer: PeerId, n: int) -> None:
        """`peer` sent `n` transactions with bad signatures: an observer-port link is struck
        (`ObserverTransport.forged`); a member's is counted (`member_forged`) and logged at
        most once a minute, not banned — members are known organisations, their operators
        can be asked. The port is told by the peer's id (an observer-port peer has org ""),
        not by its link, which may have closed before gossip's verdict."""
        if peer.org == "" or peer.address in self._observers.roles():
            self._observers.forged(peer, n)
            return
        counts, logged = self.member_forged, self._forged_logged
        if peer.address not in counts and len(counts) >= MAX_MEMBERS_TRACKED:
            oldest = next(iter(counts))
            del counts[oldest]
            logged.pop(oldest, None)
        counts[peer.address] = total = counts.get(peer.address, 0) + n
        now = time.monotonic()
        last = logged.get(peer.address)
        if last is None or now - last >= FORGED_LOG_EVERY_S:
            logged[peer.address] = now
            log.warning(
                "member peer %s sent %d transaction(s) with a bad signature (%d in all; "
                "logged at most once a minute)",
                peer.address,
                n,
                total,
            )
