"""How the observer port answers its peers' conduct (ADR 0025): bans, strikes, and credits
for what a peer served. `ObserverTransport` (`tianfu.p2p.observer`) inherits it; the tables
are `tianfu.p2p.strikes.StrikeBook` and `tianfu.p2p.observer_room.Credits`."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod

from tianfu.p2p.observer_room import Credits, _Link
from tianfu.p2p.protocol import PeerId
from tianfu.p2p.strikes import HOST_KEY_STRIKES, StrikeBook, keys_of

log = logging.getLogger("tianfu.p2p.observer")  # what the port does, in its log
# What the credits of keys whose host is no longer known count for (never an address).
UNKNOWN_HOST = "unknown host"


class Conduct(ABC):
    """Bans, strikes and credits of the observer port's peers (its attributes, set by
    `ObserverTransport.__init__`); what it needs besides is `_close`."""

    _book: StrikeBook
    _credits: Credits
    _links: dict[str, _Link]
    _max_strikes: int
    _ban_s: float
    stats: dict[str, int]

    @abstractmethod
    def _close(self, link: _Link) -> None:
        """Close `link` and forget it."""

    def ban(self, who: str, seconds: float | None = None) -> None:
        """Refuse a key address or an IP for `seconds` (default `ban_s`); disconnect it and
        withdraw its credit."""
        self._credits.withdraw(who)
        self._book.ban(who, time.monotonic() + (self._ban_s if seconds is None else seconds))
        self.stats["bans"] += 1
        for link in list(self._links.values()):
            if who in (link.peer.address, link.host):
                log.warning("observer port: banned %s (%s)", who, link.peer.name)
                self._close(link)

    def is_banned(self, who: str) -> bool:
        return self._book.is_banned(who)

    def unban_all(self) -> None:
        """Lift every ban (the operator)."""
        self._book.unban_all()

    def strike(self, who: str, host: str | None, why: str) -> None:
        """One misbehaviour of a key address or an IP; at `max_strikes` it is banned. A
        failed handshake strikes the IP; a key's protocol violation strikes the key, and a
        banned key strikes its IP. Every strike of a key also counts against its host
        (`keys_of`): at `HOST_KEY_STRIKES` key bans' worth the host is banned, so fresh keys
        struck once each do not spare their IP (an IPv6 /64). A strike withdraws `who`'s
        credit (`served`); a key's ban strikes its host, which withdraws the host's."""
        self._credits.withdraw(who)
        n = self._book.strike(who)
        log.info("observer port: strike %d for %s: %s", n, who, why)
        if n >= self._max_strikes:
            self._book.forget(who)
            self.ban(who)
            if host:  # a banned key strikes its IP once: new keys are free, IPs are not
                self.strike(host, None, f"key {who} banned")
        if host and self._book.strike(keys_of(host)) >= HOST_KEY_STRIKES * self._max_strikes:
            self._book.forget(keys_of(host))
            self.ban(host)

    def forged(self, peer: PeerId, n: int) -> None:
        """`peer` sent `n` transactions whose signatures do not verify (gossip's verdict):
        a protocol violation, one strike per frame chunk, like any other."""
        link = self._links.get(peer.address)  # closed already: the host it linked from
        host = link.host if link is not None else self._book.host_of_key(peer.address)
        self.stats["forged_txs"] += n
        self.strike(peer.address, host, f"sent {n} transaction(s) with a bad signature")

    def served(self, peer: PeerId, n: int) -> None:
        """`peer` sent `n` transactions gossip admitted: its key and host are credited, and
        preferred to strangers for links and handshakes (`observer_room.room_for`) — each
        unless it is banned or has a strike in a run not yet forgotten (a key or host that
        misbehaved earns no credit until its strikes are forgotten, `ban_s`). A key's credit
        counts for its host (`Credits`: bounded per host), a key whose host is no longer
        known for one shared `UNKNOWN_HOST`."""
        link = self._links.get(peer.address)
        host = link.host if link is not None else self._book.host_of_key(peer.address)
        self.stats["served_txs"] += n

        def creditable(name: str) -> bool:
            return not self._book.struck(name) and not self._book.is_banned(name)

        if host and creditable(host):
            self._credits.credit(host)
        if creditable(peer.address):
            self._credits.credit(peer.address, host or UNKNOWN_HOST)
