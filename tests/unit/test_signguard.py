"""The signer-recovery guard: listen first, then sign only past what the key may have signed."""

from tianfu.consensus.messages import SkipToRound
from tianfu.consensus.signguard import SignGuard

ME, A, B, C = b"me", b"a", b"b", b"c"
POWERS = {ME: 1, A: 1, B: 1, C: 1}


def guard(powers=POWERS, listen_s=1.0):
    return SignGuard("test", ME, powers, started=100.0, listen_s=listen_s)


def test_nothing_is_signed_while_listening():
    g = guard()
    g.observe(A, 5, 0)
    g.observe(B, 5, 1)
    assert not g.allows(9, 0, now=100.5)  # too early
    assert g.allows(9, 0, now=101.0)  # heard 2 of 4 (more than 1/3) after the period


def test_waits_until_more_than_a_third_of_the_others_is_heard():
    g = guard()
    g.observe(A, 5, 0)
    assert not g.allows(9, 0, now=200.0)  # one other validator is not enough
    g.observe(B, 5, 0)
    assert g.allows(9, 0, now=200.0)


def test_positions_past_the_floor_only():
    g = guard()
    g.observe(A, 5, 1)
    g.observe(B, 4, 3)
    assert g.settle(101.0) and g.floor == (5, 1)
    assert not g.allows(5, 2, now=102)  # one round past what the network showed: maybe ours
    assert g.allows(5, 3, now=102)
    assert not g.allows(6, 0, now=102)  # we may have decided 5 and prevoted at 6 round 0
    assert g.allows(6, 1, now=102) and g.allows(7, 0, now=102)
    assert not g.finished(6) and g.finished(7)


def test_own_signatures_raise_the_floor_while_listening_only():
    g = guard()
    g.own_signature(8, 2)  # found in a certificate, the WAL or a peer's relay
    g.observe(ME, 8, 4)  # our own vote, relayed back by a peer
    g.observe(A, 7, 0)
    g.observe(B, 7, 0)
    assert g.settle(101.0) and g.floor == (8, 4)
    g.observe(ME, 8, 9)  # after listening: our new votes come back; the floor stays
    g.own_signature(8, 9)
    assert g.floor == (8, 4) and g.allows(8, 6, now=102)


def test_a_lone_validator_settles_on_time():
    g = guard(powers={ME: 1})
    g.own_signature(3, 0)
    assert not g.allows(4, 1, now=100.2)
    assert g.allows(4, 1, now=101.0) and not g.allows(4, 0, now=101.0)


def test_skip_to_the_first_round_it_may_sign_in_once_settled():
    g = guard()
    g.observe(A, 5, 1)
    g.observe(B, 4, 3)
    assert g.skip_to(5, 0, now=100.5) is None  # still listening: stay
    assert g.skip_to(5, 0, now=101.0) == SkipToRound(5, 3)  # floor (5, 1): round 3 is the first
    assert g.skip_to(5, 3, now=102) is None and g.skip_to(5, 7, now=102) is None  # only forward
    assert g.skip_to(6, 0, now=102) == SkipToRound(6, 1)
    assert g.skip_to(7, 0, now=102) is None  # any round of 7 may be signed
    assert g.skip_to(4, 0, now=102) is None  # below the floor: follow the network


def _restart(**kw):
    from tianfu.consensus.signguard import restart_guard

    args = dict(
        my_key=ME,
        recovery=None,
        last_hrs=(10, 0, 2),
        own_in_wal=[],
        store_height=9,
        certificates=[],
        powers=POWERS,
        now=0.0,
        listen_s=1.0,
    )
    args.update(kw)
    return restart_guard(**args)


def test_restart_guard_only_when_the_signer_may_have_gone_back():
    from tianfu.types import CommitCertificate, CommitSig

    assert _restart() is None  # a clean restart: the signer is at the store's next height
    assert _restart(recovery="one slot of the signer file is damaged").reason.startswith("one")
    assert "older than the store" in _restart(last_hrs=(7, 0, 2)).reason
    g = _restart(own_in_wal=[(10, 3)])
    assert "WAL" in g.reason and g.floor == (10, 3)
    cert = CommitCertificate(1, "c", 9, 2, b"\x00" * 32, [CommitSig(ME, 5, b"")])
    g = _restart(recovery="missing", last_hrs=None, certificates=[cert])
    assert g.floor == (9, 2)  # our precommit in the certificate of height 9, round 2


def test_a_replayed_own_message_does_not_grow_the_guard():
    """While a guard listens (for as long as too little power is heard: a partition can make
    that hours), every copy of this key's messages that peers relay reaches it; a member
    peer can replay one at its rate limit. The guard keeps what it learns per validator and
    the floor only: before, every copy was appended to a list that nothing read."""

    def held(g: SignGuard) -> int:
        return sum(len(v) for v in vars(g).values() if isinstance(v, list | dict | set))

    g = guard()
    g.own_signature(8, 2)
    g.observe(ME, 8, 2)
    before = held(g)
    for _ in range(10_000):
        g.own_signature(8, 2)
        g.observe(ME, 8, 3)
    assert g.listening and g.floor == (8, 3)
    assert held(g) == before
