"""The p2p ports count an IPv6 address that carries an IPv4 address as that IPv4 host, the
way the API counts its clients (`tianfu.netaddr.embedded_ipv4`).

`strikes.host_of` mapped only IPv4-mapped addresses: a 6to4 host (2002:AABB:CCDD::/48) was
65,536 /64 "hosts", each with its own strikes, bans and handshake slots, and a ban of one
left the host's others free; every client of one Teredo server or one NAT64 translator
shared their /64's strikes and bans (one of them banned all).
"""

from __future__ import annotations

import pytest
from tests.unit.test_observer_port import make

from tianfu.api.limits import host_key
from tianfu.p2p.strikes import host_of

CASES = [
    ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4-mapped
    ("::ffff:0:192.0.2.7", "192.0.2.7"),  # IPv4-translated
    ("2002:c000:207::1", "192.0.2.7"),  # 6to4
    ("2002:c000:207:ffff:1234::9", "192.0.2.7"),  # 6to4, another /64 of the host's /48
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),  # Teredo (RFC 4380's example)
    ("64:ff9b::c000:207", "192.0.2.7"),  # NAT64 well-known prefix
    ("64:ff9b::198.51.100.9", "198.51.100.9"),
]


@pytest.mark.parametrize(("ip", "ipv4"), CASES)
def test_an_ipv6_address_carrying_an_ipv4_host_is_that_host(ip: str, ipv4: str) -> None:
    assert host_of(ip) == ipv4
    assert host_of(ip) == host_key(ip)  # the API counts it as the same client


@pytest.mark.parametrize(
    ("ip", "host"),
    [
        ("2001:db8::1", "2001:db8::/64"),
        ("2001:db8::ffff:1", "2001:db8::/64"),
        ("2400:cb00:2049:1::a29f:1804", "2400:cb00:2049:1::/64"),
        ("fe80::1", "fe80::/64"),
        ("::1", "::/64"),  # loopback: not an IPv4-compatible address
        ("192.0.2.7", "192.0.2.7"),
        ("not-an-ip", "not-an-ip"),
    ],
)
def test_other_addresses_count_as_before(ip: str, host: str) -> None:
    assert host_of(ip) == host


def test_a_ban_of_a_6to4_host_covers_all_its_networks() -> None:
    """An attacker behind one IPv4 address uses a new /64 of its 6to4 /48 per connection:
    the host banned through one of them is banned through all."""
    server = make("validator", [], max_strikes=3)
    server.ban(host_of("2002:c000:207:1::1"))
    assert server.is_banned(host_of("2002:c000:207:2::1"))
    assert server.is_banned(host_of("::ffff:192.0.2.7"))
    assert not server.is_banned(host_of("2002:c000:208:1::1"))  # another IPv4 host


def test_teredo_clients_of_one_server_are_not_one_host() -> None:
    """Two Teredo clients behind different public IPv4 addresses, through one Teredo server
    (the same 2001:0:SSSS:SSSS prefix): banning one does not ban the other."""
    a = "2001:0:4136:e378:8000:63bf:3fff:fdd2"  # client 192.0.2.45
    b = "2001:0:4136:e378:8000:63bf:3fff:fdd3"  # client 192.0.2.44
    server = make("validator", [], max_strikes=3)
    server.ban(host_of(a))
    assert not server.is_banned(host_of(b))
