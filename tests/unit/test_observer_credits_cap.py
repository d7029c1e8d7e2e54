"""Credited links are kept from strangers only up to a cap a host (`observer_room.room_for`,
ADR 0025), and misconduct withdraws a credit (`observer_conduct.Conduct`).

A key is credited for one transaction gossip admitted (a proof-of-work registration is
enough), and a credited link was never pushed out by a stranger: 4 hosts holding 16
credited keys each held all 64 links of a port, and a newcomer from a fifth host was refused
for good (before credits, locking the port took 64 hosts, one link each). A struck or banned
key kept its credit. Counted in links, no timing."""

from test_observer_credits import _links, _peer
from test_observer_port import make

from tianfu.p2p.observer_room import CREDITED_PER_HOST, Credits, _Link, room_for

NEVER = lambda _key: False  # noqa: E731 - no validator keys here


def _attack(hosts: int, per_host: int) -> tuple[list[_Link], Credits]:
    """A full port: `hosts` hosts (10.0.0.0 …) holding `per_host` credited keys' links each."""
    links = _links(hosts * per_host)
    credits = Credits()
    for i, link in enumerate(links):
        link.host = f"10.0.0.{i // per_host}"
        credits.credit(link.peer.address)
    return links, credits


def _arrive(links, peer, host, credits, max_links=64, max_per_host=16) -> bool:
    """Apply `room_for` to `links` as the port does: close the victim, add the newcomer."""
    fits, victim = room_for(links, peer, host, max_links, max_per_host, NEVER, credits.__contains__)
    if victim is not None:
        links.remove(victim)
    if fits:
        links.append(
            _Link(peer, None, None, None, None, role="observer", host=host, inbound=True,
                  last_in=1000.0 + len(links))
        )  # fmt: skip
    return fits


def test_four_hosts_of_credited_keys_no_longer_lock_out_a_fifth_host():
    links, credits = _attack(4, 16)
    assert len(links) == 64
    fits, victim = room_for(links, _peer(200), "10.9.9.9", 64, 16, NEVER, credits.__contains__)
    assert fits and victim is not None and victim.host == "10.0.0.0"
    assert victim is not links[0]  # the host's oldest credited link is within its cap
    # Newcomers from 32 fresh hosts, one link each, all get in and stay; fresh credited keys
    # of the attacker linking again from its four hosts in between are refused (each of its
    # hosts holds within one link of the others').
    for n in range(32):
        assert _arrive(links, _peer(100 + n), f"10.1.{n}.1", credits)
        credits.credit(_peer(150 + n).address)
        assert not _arrive(links, _peer(150 + n), f"10.0.0.{n % 4}", credits)
        assert sum(1 for link in links if link.host.startswith("10.1.")) == n + 1
    attacker = sum(1 for link in links if link.host.startswith("10.0.0."))
    newcomers = sum(1 for link in links if link.host.startswith("10.1."))
    assert len(links) == 64 and newcomers == 32 and attacker == 32
    # Each attacker host keeps its oldest credited link throughout.
    assert all(any(link.peer == _peer(1 + 16 * h) for link in links) for h in range(4))


def test_the_port_takes_as_many_credited_hosts_as_it_has_links_to_lock():
    """With one protected link a host, a port full of credited keys refuses a fifth host's
    stranger only if every host holds at most one link: 64 hosts, as for strangers."""
    links, credits = _attack(64, 1)
    assert room_for(links, _peer(250), "10.9.9.9", 64, 16, NEVER, credits.__contains__) == (
        False, None,
    )  # fmt: skip
    links, credits = _attack(32, 2)  # 32 hosts holding two credited links each: not locked
    fits, victim = room_for(links, _peer(250), "10.9.9.9", 64, 16, NEVER, credits.__contains__)
    assert fits and victim is links[1]  # the first host's second (newer, beyond its cap) link


def test_a_credited_link_within_its_hosts_cap_survives_any_number_of_strangers():
    assert CREDITED_PER_HOST == 1
    links = _links(16)
    for link in links:
        link.host = "10.0.0.1"
    credits = Credits()
    kept = links[0]  # the idlest of its host's links, and its oldest credited one
    credits.credit(kept.peer.address)
    # 200 strangers from fresh hosts, each one link; the port holds 16.
    for n in range(200):
        _arrive(links, _peer(100 + n % 150), f"10.2.{n}.1", credits, max_links=16)
        assert kept in links
    assert sum(1 for link in links if link.host == "10.0.0.1") == 1
    # A credited newcomer from a fresh host takes a stranger's place, never the kept link.
    for n in range(15):
        credits.credit(_peer(40 + n).address)
        assert _arrive(links, _peer(40 + n), f"10.3.{n}.1", credits, max_links=16)
        assert kept in links
    # The port is now full of credited links one a host: a credited key from a fresh host
    # has no stranger to replace, and a stranger no host to push out.
    credits.credit(_peer(99).address)
    assert room_for(links, _peer(99), "10.4.0.1", 16, 16, NEVER, credits.__contains__) == (
        False, None,
    )  # fmt: skip


def test_a_credited_newcomer_beyond_its_hosts_cap_is_a_stranger():
    """A credited key whose host already holds a credited link is not preferred: the host's
    extra keys cannot push one-link hosts out by being credited."""
    links = _links(4)  # four one-link hosts of strangers, then a credited host's link
    links[0].host = "10.0.0.9"
    credits = Credits()
    credits.credit(links[0].peer.address)
    credits.credit(_peer(60).address)
    assert room_for(links, _peer(60), "10.0.0.9", 4, 16, NEVER, credits.__contains__) == (
        False, None,
    )  # fmt: skip
    fits, victim = room_for(links, _peer(60), "10.0.0.8", 4, 16, NEVER, credits.__contains__)
    assert fits and victim is links[1]  # from a host holding none: the idlest stranger


def test_a_struck_or_banned_key_loses_its_credit_and_its_host_too():
    port = make("validator", [], max_strikes=2)
    peer, other = _peer(7), _peer(8)
    port._book.seen(peer.address, "10.0.0.7")
    port._book.seen(other.address, "10.0.0.7")
    port.served(peer, 1)
    assert peer.address in port._credits and "10.0.0.7" in port._credits
    port.strike(peer.address, "10.0.0.7", "sent a frame of kind 99")
    assert peer.address not in port._credits  # one strike withdraws the key's credit
    assert "10.0.0.7" in port._credits  # one strike of a key is not its host's ban
    port.served(peer, 1)  # admitted again within its strikes' run: not credited again
    assert peer.address not in port._credits
    port.served(other, 1)
    port.forged(other, 1)  # a forged-signature verdict is a strike too
    assert other.address not in port._credits
    port.strike(peer.address, "10.0.0.7", "sent a frame of kind 99")  # banned: strikes its IP
    assert port.is_banned(peer.address) and "10.0.0.7" not in port._credits
    port._book.seen(_peer(9).address, "10.0.0.7")
    port.served(_peer(9), 1)  # its host is struck: another key of it credits the key only
    assert _peer(9).address in port._credits and "10.0.0.7" not in port._credits
    # An operator's ban of a host withdraws its credit.
    port._book.seen(_peer(10).address, "10.0.0.10")
    port.served(_peer(10), 1)
    assert "10.0.0.10" in port._credits
    port.ban("10.0.0.10")
    assert "10.0.0.10" not in port._credits
