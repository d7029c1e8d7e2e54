"""The IPv4 host an IPv6 address carries, for counting clients and peers by host.

The API's per-client limits (`tianfu.api.limits`) and the p2p ports' strikes, bans and
handshake slots (`tianfu.p2p.strikes.host_of`) count an IPv6 address that carries an
IPv4 address as that IPv4 address: the same host on a dual-stack socket, through 6to4,
Teredo or a NAT64 translator. Counted by its IPv6 network instead, one IPv4 host would
own a /48 of fresh networks (6to4), and every client of one Teredo server or NAT64
translator would share one.
"""

from __future__ import annotations

import ipaddress

_NAT64 = int(ipaddress.IPv6Address("64:ff9b::")) >> 32  # RFC 6052's well-known /96
_TRANSLATED = 0xFFFF_0000  # ::ffff:0:0:0/96, RFC 2765's IPv4-translated addresses


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 host an IPv6 address stands for: IPv4-mapped (::ffff:0:0/96) and
    IPv4-translated (::ffff:0:0:0/96) addresses, IPv4-compatible ones (::/96, a routable
    IPv4 address), 6to4 (2002::/16: the IPv4 host owns the whole /48), Teredo (2001::/32:
    the client's public IPv4 address; the prefix is the Teredo server's, shared by all its
    clients) and the NAT64 well-known prefix (64:ff9b::/96: the IPv4 hosts a translator
    carries would otherwise share one network). None for any other address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    n = int(ip)
    if n >> 32 in (_NAT64, _TRANSLATED) or (n >> 32 == 0 and n >= 1 << 24):
        return ipaddress.IPv4Address(n & 0xFFFF_FFFF)
    return None
