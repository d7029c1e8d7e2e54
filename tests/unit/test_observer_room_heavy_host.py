"""A full observer port where the host holding the most links holds only credited ones
(`observer_room.room_for`, ADR 0025): the host-imbalance rule must still let a newcomer
from a fresh host take the idlest link of the heaviest host that holds strangers. It
looked only at the host holding the most links of any kind, found no stranger there, and
refused the newcomer, though another host held strangers' links by two and more. (A
credited host's links beyond its first give way too, since credits are capped a host.)"""

from test_observer_credits import _links, _peer

from tianfu.p2p.observer_room import Credits, room_for

NEVER = lambda _key: False  # noqa: E731 - no validator keys here


def test_a_heavy_host_of_strangers_gives_way_when_a_heavier_one_is_all_credited():
    links = _links(7)
    for link in links[:4]:
        link.host = "10.0.0.1"  # four links, all of keys that served something valid
    for link in links[4:]:
        link.host = "10.0.0.2"  # three strangers' links
    credits = Credits()
    for link in links[:4]:
        credits.credit(link.peer.address)
    fits, victim = room_for(links, _peer(100), "10.0.9.9", 7, 16, NEVER, credits.__contains__)
    assert fits and victim is links[4]  # the idlest stranger of 10.0.0.2, which holds 3 >= 0 + 2
    # Hosts holding one stranger each do not give way to a newcomer; the credited host's
    # oldest link (within its cap, `CREDITED_PER_HOST`) is never the one pushed out, its
    # further ones are, like strangers' (tests/unit/test_observer_credits_cap.py).
    for link in links[4:]:
        link.host = f"10.0.1.{link.peer.name}"
    fits, victim = room_for(links, _peer(100), "10.0.9.9", 7, 16, NEVER, credits.__contains__)
    assert fits and victim is links[1]
    for link in links[1:4]:
        link.host = f"10.0.2.{link.peer.name}"  # the credited links one a host as well
    assert room_for(links, _peer(100), "10.0.9.9", 7, 16, NEVER, credits.__contains__) == (
        False, None,
    )  # fmt: skip
