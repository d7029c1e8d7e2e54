"""Who holds a place on the observer port (ADR 0025): its link record, which link a new one
takes the place of when the port is full, and which links sat silent too long.

Anyone can make keys that are not in the validator set (outsiders), so their places are
bounded by host, a full port is shared between hosts, and a silent outsider is let go; a
key in the validator set always finds a place. A key that has served this node something
valid (a transaction gossip admitted: `Credits`) is preferred to a stranger, one link a
host: that link's place is never taken by a stranger, and at a full port it takes the
place of another's, so links from many hosts, one each, cannot keep it out. A host's
further links, credited or not, give way to a less loaded host's like strangers' (a key is
credited for one admitted transaction: credited keys from a few hosts held a whole port).
`tianfu.p2p.observer` applies these rules (logging, counting and closing what they name).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass

from tianfu.p2p.links import Link
from tianfu.p2p.protocol import PeerId


@dataclass(eq=False)
class _Link(Link):
    """One observer-port link: a peer with its role and the host it connects from."""

    _: KW_ONLY
    role: str
    host: str
    inbound: bool = False
    last_in: float = 0.0  # the loop time of the last frame received (idlest is evicted first)
    in_frame: bool = False  # a large frame's header arrived, its body is on its way

    def frame_begun(self) -> None:
        self.in_frame = True


MAX_CREDITS = 8192  # keys and hosts remembered as having served something valid
# Of which counted for one host (its own credit and its keys'): one host's flood of
# credited keys forgets its own oldest, never another host's credits.
MAX_CREDITS_PER_HOST = 16
# Links of credited keys kept from strangers, a host: one, so that a port full of kept
# links takes as many hosts as it has links, as one full of strangers' links does.
CREDITED_PER_HOST = 1


class Credits:
    """Key addresses and hosts that have served this node something valid, bounded per host
    and in all.

    Each credit counts for a host: a key's for the host it linked from, a host's for
    itself. A host holds at most `per_host` credits (its oldest is forgotten first), and
    when `max_entries` are held, the oldest credit of the host holding the most is
    forgotten: keys are free and a transaction admitted credits one, so a host that gets
    thousands admitted forgets its own credits, not an honest peer's. Only when as many
    hosts hold credits as the table has room for does a host's last one go."""

    def __init__(
        self, max_entries: int = MAX_CREDITS, per_host: int = MAX_CREDITS_PER_HOST
    ) -> None:
        if max_entries < 1 or per_host < 1:
            raise ValueError("max_entries and per_host must be >= 1")
        self._max = max_entries
        self._per_host = per_host
        self._host: dict[str, str] = {}  # credited name -> the host it counts for
        self._of: dict[str, OrderedDict[str, None]] = {}  # host -> its credits, oldest first
        # `_holding[n]`: the hosts holding n credits, in the order they came to hold n.
        self._holding: list[dict[str, None]] = [{} for _ in range(per_host + 1)]

    def credit(self, name: str, host: str | None = None) -> None:
        """Credit `name`: a key address linked from `host`, or a host (`host` None: it counts
        for itself, as does a key whose host is not known)."""
        host = name if host is None else host
        if self._host.get(name) == host:
            self._of[host].move_to_end(name)
            return
        self.withdraw(name)
        names = self._of.get(host)
        if names is not None and len(names) >= self._per_host:
            self.withdraw(next(iter(names)))
        elif len(self._host) >= self._max:
            self.withdraw(next(iter(self._of[self._heaviest()])))
        names = self._of.setdefault(host, OrderedDict())
        self._moved(host, len(names), len(names) + 1)
        names[name] = None
        self._host[name] = host

    def withdraw(self, name: str) -> None:
        """Forget `name`'s credit (it was struck or banned)."""
        host = self._host.pop(name, None)
        if host is None:
            return
        names = self._of[host]
        del names[name]
        self._moved(host, len(names) + 1, len(names))
        if not names:
            del self._of[host]

    def _moved(self, host: str, was: int, now: int) -> None:
        if was:
            del self._holding[was][host]
        if now:
            self._holding[now][host] = None

    def _heaviest(self) -> str:
        """The host holding the most credits (of those, the first to hold that many)."""
        for hosts in reversed(self._holding):
            if hosts:
                return next(iter(hosts))
        raise LookupError("no credits")

    def held_by(self, host: str) -> int:
        """How many credits count for `host`."""
        return len(self._of.get(host, ()))

    def __contains__(self, name: object) -> bool:
        return name in self._host

    def __len__(self) -> int:
        return len(self._host)


def room_for(
    links: list[_Link],
    peer: PeerId,
    host: str,
    max_links: int,
    max_per_host: int,
    is_validator_key: Callable[[bytes], bool],
    useful: Callable[[str], bool] = lambda _address: False,
    credited_per_host: int = CREDITED_PER_HOST,
) -> tuple[bool, _Link | None]:
    """Whether an inbound link of `peer` from `host` fits among `links` (in the order they
    were made), and the link it takes the place of, if any.

    A key that is not in the validator set fits only while its host has fewer than
    `max_per_host` outsiders' inbound links. When the port holds `max_links`:

    - the oldest `credited_per_host` links of each host whose keys served something valid
      (`useful` of the address) are kept: never the place a key not in the validator set
      takes;
    - a credited key from a host holding fewer such kept links takes the place of the idlest
      link of the host holding the most links, of those not kept (strangers first);
    - any other key takes the place of the idlest stranger of the host holding the most
      strangers' links, if it holds at least two more of them than `host` holds links, else
      of the idlest link not kept (strangers first) of the host holding the most links, if
      it holds at least two more than `host`: a host's links beyond its kept ones, credited
      or not, give way to a less loaded host's, so fresh keys from a few hosts, credited
      or not, cannot keep another host's observer out, nor hosts holding one link each push
      each other out.

    A key in the validator set always fits, when the port is full in the place of the
    newest link of a key that is not."""
    outsiders = [
        link for link in links if link.inbound and not is_validator_key(link.peer.public_key)
    ]
    hosts = Counter(link.host for link in outsiders)
    validator = is_validator_key(peer.public_key)
    if not validator and hosts[host] >= max_per_host:
        return False, None
    if len(links) < max_links:
        return True, None
    if validator:
        for link in reversed(links):
            if not is_validator_key(link.peer.public_key):
                return True, link
        return False, None
    kept = _kept(outsiders, useful, credited_per_host)
    exposed = [link for link in outsiders if link not in kept]
    if not exposed:
        return False, None

    def heaviest_idlest(link: _Link) -> tuple[int, bool, float]:
        return -hosts[link.host], useful(link.peer.address), link.last_in

    if useful(peer.address) and sum(1 for link in kept if link.host == host) < credited_per_host:
        return True, min(exposed, key=heaviest_idlest)
    strangers = [link for link in exposed if not useful(link.peer.address)]
    held_by = Counter(link.host for link in strangers)
    if held_by:
        top, held = held_by.most_common(1)[0]
        if held >= hosts[host] + 2:
            return True, min((link for link in strangers if link.host == top), key=_idleness)
    victim = min(exposed, key=heaviest_idlest)
    if hosts[victim.host] >= hosts[host] + 2:
        return True, victim
    return False, None


def _kept(outsiders: list[_Link], useful: Callable[[str], bool], per_host: int) -> set[_Link]:
    """The links of credited keys kept from strangers: the oldest `per_host` of each host."""
    kept: set[_Link] = set()
    held: Counter[str] = Counter()
    for link in outsiders:
        if held[link.host] < per_host and useful(link.peer.address):
            held[link.host] += 1
            kept.add(link)
    return kept


def idle_links(
    links: list[_Link], now: float, timeout: float, is_validator_key: Callable[[bytes], bool]
) -> list[_Link]:
    """The inbound links of keys not in the validator set that have received no frame for
    `timeout` at loop time `now` and are not in the middle of a large frame (whose body has
    its own pace, `tianfu.p2p.inbound.read_counted_frame`). Links this node dialed and
    validators' links are never idle."""
    return [
        link
        for link in links
        if link.inbound
        and not link.in_frame
        and now - link.last_in > timeout
        and not is_validator_key(link.peer.public_key)
    ]


def _idleness(link: _Link) -> float:
    """Sort key of the link to evict first: the one that received a frame longest ago."""
    return link.last_in
