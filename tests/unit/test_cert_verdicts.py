"""Certificate-check verdicts kept per certificate (`tianfu.identity.verdicts`): a refused
first-use certificate costs its chain check once, and no kept verdict outlives a change of
the governance values, or of the time, that would alter it."""

from __future__ import annotations

import pytest

from tianfu.contracts.identity import AuthError, fingerprint, resolve_caller
from tianfu.identity import OrgCA, certs, verdicts


@pytest.fixture(autouse=True)
def _fresh() -> None:
    verdicts.clear()


@pytest.fixture
def cas() -> tuple[OrgCA, OrgCA]:
    """org1's CA, and a rogue CA that also calls itself org1."""
    return OrgCA.create("org1"), OrgCA.create("org1")


def reader(ca_der: bytes, **extra: object):
    values: dict[str, object] = {"org/org1": {"status": "active", "ca_cert": ca_der}}
    values.update(extra)
    return values, values.get


def resolve(read, who, time_ms: int):
    kp = who.keypair
    return resolve_caller(read, kp.scheme, kp.public_key, who.cert_der, time_ms)


def now(who) -> int:
    return who.info.not_before_ms + 60_000


def test_a_forged_certificate_is_parsed_and_chain_checked_once(cas, monkeypatch):
    real, rogue = cas
    forger = rogue.issue("mallory", "member")
    loads = []
    original = certs._load
    monkeypatch.setattr(certs, "_load", lambda der, what: loads.append(what) or original(der, what))
    _, read = reader(real.cert_der)
    errors = []
    for _ in range(5):
        with pytest.raises(AuthError) as exc:
            resolve(read, forger, now(forger))
        errors.append(str(exc.value))
        if len(errors) == 1:
            first = len(loads)
    assert first > 0 and len(loads) == first  # no X.509 work after the first refusal
    assert len(set(errors)) == 1 and "does not verify" in errors[0]


def test_the_kept_verdicts_give_the_uncached_answers(cas):
    real, rogue = cas
    forger, member = rogue.issue("mallory", "member"), real.issue("alice", "member")
    for who, ca in ((forger, real), (member, real), (member, rogue)):
        try:
            certs.verify_cert(who.cert_der, ca.cert_der, at_ms=now(who))
            expected = None
        except certs.IdentityError as exc:
            expected = str(exc)
        for _ in range(2):
            try:
                verdicts.verify_issued(who.cert_der, ca.cert_der, now(who))
                got = None
            except certs.IdentityError as exc:
                got = str(exc)
            assert got == expected
    with pytest.raises(certs.IdentityError) as exc:
        verdicts.parse(b"\x30\x03junk")
    with pytest.raises(certs.IdentityError) as again:
        verdicts.parse(b"\x30\x03junk")
    assert str(exc.value) == str(again.value)


def test_a_changed_ca_certificate_changes_the_verdict_both_ways(cas):
    real, rogue = cas
    forger = rogue.issue("mallory", "member")
    values, read = reader(real.cert_der)
    with pytest.raises(AuthError, match="does not verify"):
        resolve(read, forger, now(forger))
    values["org/org1"] = {"status": "active", "ca_cert": rogue.cert_der}  # CA replaced
    assert resolve(read, forger, now(forger)).caller.org == "org1"
    values["org/org1"] = {"status": "active", "ca_cert": real.cert_der}  # and back
    with pytest.raises(AuthError, match="does not verify"):
        resolve(read, forger, now(forger))


def test_an_accepted_certificate_is_refused_once_revoked_or_its_org_removed(cas):
    real, _ = cas
    alice = real.issue("alice", "member")
    values, read = reader(real.cert_der)
    t = now(alice)
    assert resolve(read, alice, t).writes  # first use: a registration
    values[f"revoked_cert/{fingerprint(alice.cert_der)}"] = {"org": "org1", "height": 3}
    with pytest.raises(AuthError, match="revoked"):
        resolve(read, alice, t)
    del values[f"revoked_cert/{fingerprint(alice.cert_der)}"]
    values[f"revoked_serial/org1/{alice.info.serial}"] = {"height": 4}
    with pytest.raises(AuthError, match="revoked"):
        resolve(read, alice, t)
    del values[f"revoked_serial/org1/{alice.info.serial}"]
    values["org/org1"] = {"status": "removed", "ca_cert": real.cert_der}
    with pytest.raises(AuthError, match="not a member"):
        resolve(read, alice, t)


def test_an_accepted_verdict_holds_only_within_both_validity_periods(cas):
    real, _ = cas
    alice = real.issue("alice", "member")
    _, read = reader(real.cert_der)
    assert resolve(read, alice, now(alice)).caller.name == "alice"
    with pytest.raises(AuthError, match="not valid at this time"):
        resolve(read, alice, alice.info.not_after_ms + 1)
    with pytest.raises(AuthError, match="not valid at this time"):
        resolve(read, alice, alice.info.not_before_ms - 1)
    assert resolve(read, alice, now(alice)).caller.name == "alice"


def test_the_tables_are_bounded(cas, monkeypatch):
    real, rogue = cas
    monkeypatch.setattr(verdicts, "MAX_ENTRIES", 3)
    forgers = [rogue.issue(f"m{i}", "member") for i in range(6)]
    _, read = reader(real.cert_der)
    for who in forgers:
        with pytest.raises(AuthError):
            resolve(read, who, now(who))
    assert len(verdicts._issued) <= 3 and len(verdicts._parsed) <= 3
