"""Handshakes that fail because a peer's certificate is not yet valid (or expired) by this
node's clock are logged as a WARNING naming the peer and this node's clock, at most once a
minute per peer, and counted; over real TLS on 127.0.0.1 (standard and SM2 chains)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from tests.integration.p2pkit import Node, run, started, stopped, wait_until

from tianfu.crypto import SM2
from tianfu.identity import Identity, OrgCA, certs

pytestmark = pytest.mark.timeout(300)

LOGGER = "tianfu.p2p.certclock"


class World:
    def __init__(self, *orgs: OrgCA) -> None:
        self.orgs = {org.org: org.cert_der for org in orgs}

    def cas(self) -> dict[str, bytes]:
        return dict(self.orgs)

    def is_revoked(self, address: str) -> bool:
        return False


def issued_in_an_hour(monkeypatch: pytest.MonkeyPatch, org: OrgCA, name: str) -> Identity:
    """A node certificate issued by a machine whose clock is an hour ahead."""
    ahead = certs._now() + dt.timedelta(hours=1)
    with monkeypatch.context() as m:
        m.setattr(certs, "_now", lambda: ahead)
        return org.issue(name, "node", SM2 if org.keypair.scheme == SM2 else None)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


@pytest.mark.parametrize("scheme", ["standard", "sm2"])
def test_dialer_warns_once_a_minute_about_a_peer_certificate_not_yet_valid(
    scheme: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org_a = OrgCA.create("OrgA", SM2) if scheme == "sm2" else OrgCA.create("OrgA")
    org_b = OrgCA.create("OrgB", SM2) if scheme == "sm2" else OrgCA.create("OrgB")
    world = World(org_a, org_b)
    future = Node(world, issued_in_an_hour(monkeypatch, org_a, "a1"))
    dialer = Node(world, org_b.issue("b1", "node", SM2 if scheme == "sm2" else None))

    async def go() -> None:
        await started(future, dialer)
        try:
            target = future.endpoint
            dialer.net.set_peers([target])
            stats = dialer.net.stats
            await wait_until(lambda: stats["cert_time_failures"] >= 3, what="three failed dials")
            assert stats["dial_failures"] >= 3
            assert dialer.net.peers() == [] and future.net.peers() == []
        finally:
            await stopped(future, dialer)
        found = [r for r in warnings_of(caplog) if "outbound" in r.getMessage()]
        assert len(found) == 1, [r.getMessage() for r in found]
        text = found[0].getMessage()
        assert f"{target[0]}:{target[1]}" in text
        assert "not yet valid by this node's clock" in text
        assert "this machine's clock is behind" in text
        assert dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT") in text  # this node's UTC clock

    run(go)


def test_listener_warns_about_a_dialer_whose_certificate_is_not_yet_valid(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    org_a, org_b = OrgCA.create("OrgA"), OrgCA.create("OrgB")
    world = World(org_a, org_b)
    listener = Node(world, org_b.issue("b1", "node"))
    future = Node(world, issued_in_an_hour(monkeypatch, org_a, "a1"))

    async def go() -> None:
        await started(listener, future)
        try:
            future.net.set_peers([listener.endpoint])
            stats = listener.net.stats
            await wait_until(lambda: stats["cert_time_failures"] >= 3, what="three failed accepts")
        finally:
            await stopped(listener, future)
        found = [r for r in warnings_of(caplog) if "inbound" in r.getMessage()]
        assert len(found) == 1, [r.getMessage() for r in found]
        assert "inbound handshake with 127.0.0.1:" in found[0].getMessage()
        assert "not yet valid" in found[0].getMessage()

    run(go)
