"""Unit tests: `ClockCheck` reports this node's clock against the validators' clocks,
not how long a decision took after most validators precommitted."""

from __future__ import annotations

import logging
from collections import Counter
from types import SimpleNamespace

import msgspec

from tianfu.consensus.clock import ClockCheck
from tianfu.crypto import ED25519, sign_vote
from tianfu.crypto.suite import verify
from tianfu.testing.sim import sim_key
from tianfu.types import PRECOMMIT, PREVOTE, Validator, ValidatorSet, VoteDomain


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def now(self) -> float:  # (Timers.now: monotonic, used for the warning's rate limit)
        return self.t


def precommit(sig: bytes, time_ms: int, height: int = 7, validator: bytes | None = None):
    """A precommit whose signature the caller verified (by default each its own validator)."""
    return SimpleNamespace(
        type=PRECOMMIT,
        time_ms=time_ms,
        signature=sig,
        height=height,
        validator=sig if validator is None else validator,
    )


def cert(*votes, height: int = 7):
    return SimpleNamespace(
        height=height,
        signatures=[SimpleNamespace(validator=v.validator, signature=v.signature) for v in votes],
    )


def make(t: float) -> tuple[Clock, ClockCheck, Counter]:
    clock, stats = Clock(t), Counter()
    return clock, ClockCheck(clock, clock, stats, warn_ms=2_000), stats  # type: ignore[arg-type]


def test_a_decision_long_after_most_precommits_is_not_a_skewed_clock(caplog):
    """Two validators precommit at 1,000 s, the third only 19 s later (it was restarting):
    the median precommit time is 19 s before the decision. Every node with a correct clock
    used to log that its clock was 19 s ahead (seen on all four nodes of a crash run)."""
    clock, check, stats = make(1_000.0)
    early = [precommit(b"a", 1_000_000), precommit(b"b", 1_000_000)]
    clock.t = 1_000.02
    for v in early:
        check.saw_precommit(v)
    late = precommit(b"c", 1_019_000)
    clock.t = 1_019.03
    check.saw_precommit(late)
    clock.t = 1_019.9  # (and the store took a while)
    with caplog.at_level(logging.WARNING):
        check.check_commit(cert(*early, late))
    assert check.offset_ms is not None and 0 <= check.offset_ms <= 100
    assert stats["clock_skewed"] == 0 and "clock is" not in caplog.text


def test_a_clock_ahead_or_behind_is_reported(caplog):
    for skew_s, side in ((30.0, "ahead of"), (-30.0, "behind")):
        clock, check, stats = make(2_000.0 + skew_s)
        votes = [precommit(bytes([i]), 2_000_000) for i in range(3)]
        for v in votes:
            check.saw_precommit(v)
        with caplog.at_level(logging.WARNING):
            check.check_commit(cert(*votes))
        assert check.offset_ms == int(skew_s * 1000)
        assert stats["clock_skewed"] == 1 and side in caplog.text


def test_one_skewed_validator_does_not_move_the_reading():
    clock, check, _ = make(3_000.0)
    votes = [precommit(b"a", 3_000_000), precommit(b"b", 3_000_000), precommit(b"c", 2_970_000)]
    for v in votes:
        check.saw_precommit(v)
    check.check_commit(cert(*votes))
    assert check.offset_ms == 0


def test_only_the_certificates_own_precommits_count_and_memory_is_bounded():
    clock, check, _ = make(4_000.0)
    real = precommit(b"real", 4_000_000)
    check.saw_precommit(precommit(b"forged", 3_000_000))  # not in the certificate
    check.saw_precommit(SimpleNamespace(type=PREVOTE, time_ms=0, signature=b"p", height=7))
    check.saw_precommit(real)
    check.saw_precommit(precommit(b"real", 1_000))  # the same signature again: first kept
    check.check_commit(cert(real))
    assert check.offset_ms == 0
    for i in range(ClockCheck.PER_VALIDATOR + 100):
        check.saw_precommit(precommit(i.to_bytes(4, "big"), 4_000_000, height=8, validator=b"v"))
    assert check.pending() == ClockCheck.PER_VALIDATOR
    check.check_commit(cert(height=8))  # a commit drops the readings of its height
    assert check.pending() == 0 and check._arrived == {}


KEYS = [sim_key(i) for i in range(4)]
VALS = ValidatorSet([Validator(f"v{i}", "o", ED25519, k.public_key, 1) for i, k in enumerate(KEYS)])


def signed(i: int, time_ms: int, round_: int = 0, height: int = 7):
    return sign_vote(KEYS[i], "chain", height, round_, PRECOMMIT, b"\x01" * 32, time_ms)


def test_junk_precommits_do_not_hide_the_real_readings():
    """Anyone can send precommits that do not verify (no key needed) or name keys outside
    the set: 5,000 of them before the real ones used to fill every slot of the readings
    (4,096 kept, unverified), so the height's real precommits gave no reading."""
    clock, check, _ = make(6_000.0)
    real = [signed(i, 6_000_000) for i in range(3)]
    for n in range(5_000):
        junk = signed(n % 4, 6_000_000 - n)
        bad = msgspec.structs.replace(junk, signature=n.to_bytes(4, "big") * 16)
        check.arrived(bad, VALS, verify, VoteDomain("chain"))
    outsider = sign_vote(sim_key(99), "chain", 7, 0, PRECOMMIT, b"\x01" * 32, 1)
    check.arrived(outsider, VALS, verify, VoteDomain("chain"))
    assert check.pending() == 0  # nothing unverified is kept
    clock.t = 6_000.5
    for v in real:
        check.arrived(v, VALS, verify, VoteDomain("chain"))
    check.check_commit(cert(*real))
    assert check.offset_ms == 500


def test_a_validator_signing_many_rounds_pushes_out_only_its_own_readings():
    """A (Byzantine) validator's validly signed precommits of many rounds used to fill the
    4,096 readings too: now each validator keeps its latest few, the others keep theirs."""
    clock, check, _ = make(7_000.0)
    for r in range(5_000):
        check.saw_precommit(precommit(r.to_bytes(8, "big") * 8, 1, validator=b"byzantine"))
    honest = [precommit(bytes([0xA0 + i]) * 64, 7_000_000, validator=bytes([i])) for i in range(3)]
    for v in honest:
        check.saw_precommit(v)
    check.check_commit(cert(*honest))
    assert check.offset_ms == 0
    for r in range(5_000):
        check.saw_precommit(precommit(r.to_bytes(8, "big") * 8, 1, 8, validator=b"byzantine"))
    assert check.pending() == ClockCheck.PER_VALIDATOR


def test_no_live_precommit_no_reading():
    """A certificate whose precommits all came in a commit frame (catching up)."""
    clock, check, _ = make(5_000.0)
    check.check_commit(cert(precommit(b"x", 1)))
    assert check.offset_ms is None
