"""Strikes and bans of the observer port's peers (`tianfu.p2p.observer`), in bounded tables.

Anyone can make observer keys, and each key that misbehaves once has a strike to remember:
kept in an unbounded dict, a stream of fresh keys (or of IPv6 addresses) each struck once
grows the node's memory for ever without paying anything. So strikes and bans are kept in
tables of at most `max_entries` each, separately for key addresses and for hosts (IPs: an
attacker's fresh keys cannot push a banned IP out of the table):

- a strike is forgotten `ttl_s` after the first one of its run (an honest peer's rare
  slips do not add up over weeks);
- a ban ends at its time; when a table is full, the bans that ended are dropped first,
  then the oldest;
- when a strike table is full, the oldest entry is forgotten (for keys that loses
  nothing: a key is free, its owner would take a new one).

Every strike of a key also counts against the host it came from, under a count of its own
(`keys_of(host)`): an attacker that makes a new key per link and sends one forged frame on
each never brings a key to a ban, but its host is banned once its keys together have
`HOST_KEY_STRIKES` times the strikes of a key's ban. The host a key linked from is
remembered (`seen`, bounded like the rest), so a verdict that comes after the link closed
(gossip's signature check) still finds it.

`host_of` names the host an IP stands for: the address itself for IPv4, its /64 network
for IPv6 (one subscriber's allocation: the addresses inside it cost nothing more), and the
IPv4 address an IPv6 address carries (`tianfu.netaddr.embedded_ipv4`: IPv4-mapped, 6to4,
Teredo, NAT64), as the API counts its clients: one IPv4 host owns a whole /48 of 6to4 /64s,
and the clients of one Teredo server or NAT64 translator are not one host.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict

from tianfu.netaddr import embedded_ipv4

MAX_ENTRIES = 8192  # per table: strikes and bans, of keys and of hosts
HOST_KEY_STRIKES = 3  # a host's keys' strikes, in key bans' worth, that ban the host


def keys_of(host: str) -> str:
    """The name under which the strikes of `host`'s keys are counted (a host's, not a key's,
    in the tables: it is never 40 hex digits)."""
    return f"keys@{host}"


def host_of(ip: str) -> str:
    """The host `ip` counts as: itself (IPv4, or anything unparsable), the IPv4 address an
    IPv6 address carries (`embedded_ipv4`), or else its /64 (IPv6)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address):
        ipv4 = embedded_ipv4(addr)
        if ipv4 is not None:
            return str(ipv4)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return ip


def _is_host(who: str) -> bool:
    """Key addresses are 40 hex digits; hosts have dots or colons (or are not hex)."""
    return len(who) != 40 or any(c not in "0123456789abcdef" for c in who)


class StrikeBook:
    """Strike counts and bans by key address or host, bounded (see the module)."""

    def __init__(self, ttl_s: float, max_entries: int = MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._ttl = ttl_s
        self._max = max_entries
        # [keys, hosts]: who -> [strikes, time of the run's first] / the time its ban ends.
        self._strikes: tuple[OrderedDict[str, list[float]], ...] = (OrderedDict(), OrderedDict())
        self._bans: tuple[OrderedDict[str, float], ...] = (OrderedDict(), OrderedDict())
        self._hosts: OrderedDict[str, str] = OrderedDict()  # key address -> host last seen

    def seen(self, key: str, host: str) -> None:
        """Remember that `key` linked from `host` (the latest `max_entries` keys)."""
        self._hosts.pop(key, None)
        while len(self._hosts) >= self._max:
            self._hosts.popitem(last=False)
        self._hosts[key] = host

    def host_of_key(self, key: str) -> str | None:
        """The host `key` last linked from, if remembered."""
        return self._hosts.get(key)

    def __len__(self) -> int:
        return sum(map(len, self._strikes)) + sum(map(len, self._bans)) + len(self._hosts)

    def strike(self, who: str, now: float | None = None) -> int:
        """Count one strike of `who`; returns its strikes in the current run."""
        now = time.monotonic() if now is None else now
        table = self._strikes[_is_host(who)]
        entry = table.get(who)
        if entry is None or now - entry[1] >= self._ttl:
            entry = [0, now]
            table.pop(who, None)
            while len(table) >= self._max:
                table.popitem(last=False)
            table[who] = entry
        entry[0] += 1
        return int(entry[0])

    def struck(self, who: str, now: float | None = None) -> bool:
        """Whether `who` has a strike in a run not yet forgotten."""
        entry = self._strikes[_is_host(who)].get(who)
        now = time.monotonic() if now is None else now
        return entry is not None and now - entry[1] < self._ttl

    def forget(self, who: str) -> None:
        """Drop `who`'s strikes (it is banned now)."""
        self._strikes[_is_host(who)].pop(who, None)

    def ban(self, who: str, until: float, now: float | None = None) -> None:
        """Ban `who` until monotonic time `until`."""
        table = self._bans[_is_host(who)]
        table.pop(who, None)
        if len(table) >= self._max:
            now = time.monotonic() if now is None else now
            for ended in [w for w, end in table.items() if end <= now]:
                del table[ended]
            while len(table) >= self._max:
                table.popitem(last=False)
        table[who] = until

    def unban_all(self) -> None:
        """Lift every ban (the operator)."""
        for table in self._bans:
            table.clear()

    def is_banned(self, who: str, now: float | None = None) -> bool:
        table = self._bans[_is_host(who)]
        until = table.get(who)
        if until is None:
            return False
        if (time.monotonic() if now is None else now) >= until:
            del table[who]
            return False
        return True
