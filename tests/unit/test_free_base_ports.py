"""`free_base_ports` gives port bases whose ports are free when chosen and below the
kernel's ephemeral range (no outgoing connection's source port, no port another test got
from bind(0), can be one of them). With `observers`, the open profile's observer ports
(p2p base + 101 ..) are checked too: they are the p2p ports of the next base up, which
another network may hold, and were not checked."""

import socket

import pytest

from tianfu.bench import netcheck
from tianfu.node.netinit import OBSERVER_PORT_OFFSET


def test_a_base_whose_observer_port_is_taken_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = netcheck.free_base_ports(3), netcheck.free_base_ports(3, observers=True)
    for api, p2p in (first, second):
        assert 10000 <= api and p2p + 3 < 32768 and p2p == api + 50
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first[1] + OBSERVER_PORT_OFFSET + 2))
        taken.listen()
        bases = iter([first[0], first[0], second[0]])
        monkeypatch.setattr(netcheck.random, "randrange", lambda *a: next(bases))
        assert netcheck.free_base_ports(3) == first  # the member ports alone are free
        assert netcheck.free_base_ports(3, observers=True) == second
