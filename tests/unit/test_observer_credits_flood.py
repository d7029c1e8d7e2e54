"""One host's flood of credited keys cannot flush another host's credits (`Credits`).

A key is free and is credited for one transaction gossip admitted; the table kept the
latest 8,192 credits, so one host that got ~8,192 transactions admitted, each from a fresh
key, pushed every honest peer's credit (key and host) out of it, and with it the honest
peer's kept link and handshake preference. Credits are now counted per host: a host
forgets its own oldest first, and a full table forgets the heaviest host's oldest.
"""

from __future__ import annotations

from tests.unit.test_observer_port import make

from tianfu.p2p import observer_conduct, observer_room
from tianfu.p2p.observer_room import MAX_CREDITS, Credits
from tianfu.p2p.protocol import PeerId
from tianfu.p2p.strikes import host_of

HONEST_HOST = "198.51.100.1"


def _peer(i: int) -> PeerId:
    return PeerId(f"{i:040x}", "", f"observer-{i}", i.to_bytes(32, "big"))


def test_one_hosts_flood_of_credited_keys_keeps_an_honest_peers_credit() -> None:
    port = make("validator", [], max_strikes=3)
    honest = _peer(1 << 100)
    port._book.seen(honest.address, HONEST_HOST)
    port.served(honest, 1)
    assert honest.address in port._credits and HONEST_HOST in port._credits
    # One attacker: a fresh key per link, each from a new address of its /64, each with
    # one transaction admitted.
    attacker = host_of("2001:db8:1:2::1")
    for i in range(MAX_CREDITS + 500):
        key = _peer(i + 1)
        port._book.seen(key.address, host_of(f"2001:db8:1:2:0:{i >> 16:x}:{i & 0xFFFF:x}:1"))
        port.served(key, 1)
    assert honest.address in port._credits and HONEST_HOST in port._credits
    assert port._credits.held_by(attacker) == observer_room.MAX_CREDITS_PER_HOST
    assert attacker in port._credits  # its own credit is its newest, kept
    assert port.stats["served_txs"] == MAX_CREDITS + 501


def test_keys_whose_host_is_forgotten_count_for_one_host() -> None:
    """A key credited after its link closed and its host left the strike book (`seen`
    keeps the latest keys) counts for `UNKNOWN_HOST`: such keys flood only each other."""
    port = make("validator", [], max_strikes=3)
    honest = _peer(1 << 100)
    port._book.seen(honest.address, HONEST_HOST)
    port.served(honest, 1)
    for i in range(MAX_CREDITS + 10):
        port.served(_peer(i + 1), 1)  # never seen: no host known
    assert honest.address in port._credits and HONEST_HOST in port._credits
    held = port._credits.held_by(observer_conduct.UNKNOWN_HOST)
    assert held == observer_room.MAX_CREDITS_PER_HOST


def test_a_full_table_forgets_the_heaviest_hosts_oldest_credit() -> None:
    credits = Credits(max_entries=6, per_host=3)
    credits.credit("a1", "A")
    credits.credit("b1", "B")
    credits.credit("b2", "B")
    credits.credit("c1", "C")
    credits.credit("c2", "C")
    credits.credit("c3", "C")
    credits.credit("c4", "C")  # C is at its cap: its own oldest goes
    assert "c1" not in credits and {"a1", "b1", "b2", "c2", "c3", "c4"} <= set(credits._host)
    credits.credit("d1", "D")  # full: C (3) is the heaviest, its oldest goes
    assert "c2" not in credits and "a1" in credits and len(credits) == 6
    credits.credit("e1", "E")  # B and C hold 2 each now... C came to 2 later: B's goes
    assert "b1" not in credits and "a1" in credits
    credits.credit("c3", "C")  # credited again: its newest, nothing forgotten
    assert len(credits) == 6 and credits.held_by("C") == 2
    credits.withdraw("a1")
    assert "a1" not in credits and credits.held_by("A") == 0 and len(credits) == 5
    credits.credit("c9", "A")  # a key seen from another host moves with it
    credits.credit("c9", "B")
    assert credits.held_by("A") == 0 and credits.held_by("B") == 2
