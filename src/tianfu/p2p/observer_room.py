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
# Links of credited keys kept from strangers, a host: one, so that a port full of kept
# links takes as many hosts as it has links, as one full of strangers' links does.
CREDITED_PER_HOST = 1


class Credits:
    """Key addresses and hosts that have served this node something valid, the latest
    `max_entries` (a bounded table: an old credit is forgotten first)."""

    def __init__(self, max_entries: int = MAX_CREDITS) -> None:
        self._max = max_entries
        self._names: OrderedDict[str, None] = OrderedDict()

    def credit(self, name: str) -> None:
        self._names.pop(name, None)
        while len(self._names) >= self._max:
            self._names.popitem(last=False)
        self._names[name] = None

    def withdraw(self, name: str) -> None:
        """Forget `name`'s credit (it was struck or banned)."""
        self._names.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __len__(self) -> int:
        return len(self._names)


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
