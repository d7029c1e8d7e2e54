"""`free_base_ports` gives port bases whose ports are free when chosen and below the
kernel's ephemeral range (no outgoing connection's source port, no port another test got
from bind(0), can be one of them). With `observers`, the open profile's observer ports
(p2p base + 101 ..) are checked too: they are the p2p ports of the next base up, which
another network may hold, and were not checked."""

import contextlib
import socket

import pytest

from tianfu.bench import netcheck
from tianfu.node.netinit import OBSERVER_PORT_OFFSET


def test_a_base_whose_observer_port_is_taken_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    first = netcheck.free_base_ports(3)
    api, p2p = first
    assert 10000 <= api and p2p + 3 < 32768 and p2p == api + 50
    draw = netcheck.random.randrange
    with socket.socket() as taken:
        with contextlib.suppress(OSError):  # (already taken by another process: as good)
            taken.bind(("127.0.0.1", p2p + OBSERVER_PORT_OFFSET + 2))
            taken.listen()
        scripted = [api, api]  # each call's first draw is `first`; then random ones
        monkeypatch.setattr(
            netcheck.random, "randrange", lambda *a: scripted.pop(0) if scripted else draw(*a)
        )
        assert netcheck.free_base_ports(3) == first  # the member ports alone are free
        other = netcheck.free_base_ports(3, observers=True)
        assert other != first and not scripted, other
