"""Which client a request's limits count (`tianfu.api.limits.client_address`): an IPv6
address that carries an IPv4 address (6to4, Teredo, NAT64, IPv4-translated and
IPv4-compatible forms) is that IPv4 client, however many /64s its form spans; clients
behind one translator are not one client; a zone id is not a new client."""

from __future__ import annotations

import pytest

from tianfu.api.limits import client_address


def key(host: str) -> str:
    return client_address({"client": (host, 1)})


@pytest.mark.parametrize(
    ("ipv6", "ipv4"),
    [
        # 6to4: 192.0.2.4 owns all of 2002:c000:204::/48, 65,536 /64s
        ("2002:c000:204::1", "192.0.2.4"),
        ("2002:c000:204:1::1", "192.0.2.4"),
        ("2002:c000:204:ffff::1", "192.0.2.4"),
        # Teredo: the client's (obfuscated) public IPv4 address, not the Teredo server's /64
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),
        # NAT64 / SIIT well-known prefix: an IPv4 client translated into IPv6
        ("64:ff9b::c000:22d", "192.0.2.45"),
        # IPv4-translated (::ffff:0:0:0/96) and IPv4-compatible (::/96) forms
        ("::ffff:0:c000:22d", "192.0.2.45"),
        ("::c000:22d", "192.0.2.45"),
        ("::ffff:192.0.2.45", "192.0.2.45"),
    ],
)
def test_an_ipv6_form_of_an_ipv4_client_is_that_client(ipv6: str, ipv4: str) -> None:
    """6to4 gave one IPv4 host 65,536 clients (a /64 each inside its /48); a NAT64 or a
    Teredo server made all the IPv4 clients it carries one client (one /64), each
    penalising the others."""
    assert key(ipv6) == key(ipv4)


def test_clients_behind_one_translator_or_relay_are_different_clients() -> None:
    assert key("64:ff9b::c000:22d") != key("64:ff9b::c000:22e")
    teredo_server = "2001:0:4136:e378"
    one = f"{teredo_server}:8000:63bf:3fff:fdd2"
    other = f"{teredo_server}:8000:63bf:3fff:fdd1"
    assert key(one) != key(other)
    assert key("2002:c000:204::1") != key("2002:c000:205::1")


def test_a_zone_id_is_not_a_new_client() -> None:
    """The zone of a scoped address is the server's interface: the key leaves it out."""
    assert key("fe80::1%eth0") == key("fe80::1%eth1") == key("fe80::2")
    assert "%" not in key("fe80::1%eth0")


@pytest.mark.parametrize("host", ["::1", "::", "2001:db8::1", "1.2.3.4", "testclient"])
def test_other_addresses_keep_their_key(host: str) -> None:
    expected = {
        "::1": "::/64",
        "::": "::/64",
        "2001:db8::1": "2001:db8::/64",
        "1.2.3.4": "1.2.3.4",
        "testclient": "testclient",
    }
    assert key(host) == expected[host]
