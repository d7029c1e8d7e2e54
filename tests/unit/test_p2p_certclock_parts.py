"""The certificate validity-period warnings of the p2p transport: which failures they
recognise, the per-peer rate limit and its bounded memory, and `verify_peer`'s
`CertificateTimeError`."""

from __future__ import annotations

import logging
import ssl

import pytest

from tianfu.identity import OrgCA, cert_info
from tianfu.p2p.certclock import CertClockWarnings, time_problem
from tianfu.p2p.framing import CertificateTimeError, PeerRejectedError
from tianfu.p2p.tls import verify_peer

ORG = OrgCA.create("OrgA")
OTHER = OrgCA.create("OrgA")  # same name, another key
NODE = ORG.issue("a1", "node")
CAS = {"OrgA": ORG.cert_der}


def verify_error(code: int) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code = code
    return exc


def test_time_problem_recognises_only_validity_period_failures() -> None:
    assert time_problem(verify_error(9)) == "not yet valid"
    assert time_problem(verify_error(10)) == "expired"
    assert time_problem(verify_error(20)) is None  # unknown issuer
    assert time_problem(ssl.SSLError(1, "alert")) is None
    assert time_problem(CertificateTimeError("x", "expired")) == "expired"
    assert time_problem(PeerRejectedError("revoked")) is None
    assert time_problem(TimeoutError()) is None


def test_warning_is_logged_first_then_at_most_once_a_minute_per_peer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="tianfu.p2p.certclock")
    now = [100.0]
    stats: dict[str, int] = {}
    warn = CertClockWarnings(stats, clock=lambda: now[0])
    exc = verify_error(9)
    assert warn.check(exc, "10.0.0.1:9701", inbound=False)
    assert len(caplog.records) == 1
    now[0] += 59.0
    assert warn.check(exc, "10.0.0.1:9701", inbound=False)
    assert len(caplog.records) == 1  # within the minute: counted, not logged
    assert warn.check(exc, "10.0.0.2:9701", inbound=False)
    assert len(caplog.records) == 2  # another peer has its own limit
    now[0] += 1.0
    assert warn.check(verify_error(10), "10.0.0.1:9701", inbound=False)
    assert len(caplog.records) == 3
    assert not warn.check(verify_error(20), "10.0.0.3:9701", inbound=False)
    assert len(caplog.records) == 3 and stats["cert_time_failures"] == 4
    text = caplog.records[2].getMessage()
    assert "10.0.0.1:9701" in text and "expired" in text and "clock is ahead" in text


def test_peers_remembered_are_bounded() -> None:
    now = [0.0]
    warn = CertClockWarnings({}, max_tracked=3, clock=lambda: now[0])
    for i in range(10):
        warn.check(verify_error(9), f"10.0.0.{i}", inbound=True)
        assert len(warn) <= 3
    now[0] = 61.0
    warn.check(verify_error(9), "10.0.1.1", inbound=True)
    assert len(warn) == 1  # those last warned about over a minute ago were forgotten


def test_verify_peer_raises_certificate_time_error_only_for_the_validity_period() -> None:
    info = cert_info(NODE.cert_der)
    own = "x"
    with pytest.raises(CertificateTimeError) as early:
        verify_peer(NODE.cert_der, CAS, lambda a: False, own, at_ms=info.not_before_ms - 1)
    assert early.value.problem == "not yet valid"
    with pytest.raises(CertificateTimeError) as late:
        verify_peer(NODE.cert_der, CAS, lambda a: False, own, at_ms=info.not_after_ms + 1)
    assert late.value.problem == "expired"
    # a certificate that fails on something else as well is not reported as a clock problem
    with pytest.raises(PeerRejectedError) as other:
        verify_peer(
            NODE.cert_der,
            {"OrgA": OTHER.cert_der},
            lambda a: False,
            own,
            at_ms=info.not_after_ms + 1,
        )
    assert not isinstance(other.value, CertificateTimeError)
