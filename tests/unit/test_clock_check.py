"""Unit tests: `ClockCheck` reports this node's clock against the validators' clocks,
not how long a decision took after most validators precommitted."""

from __future__ import annotations

import logging
from collections import Counter
from types import SimpleNamespace

from tianfu.consensus.clock import ClockCheck
from tianfu.types import PRECOMMIT, PREVOTE


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def now(self) -> float:  # (Timers.now: monotonic, used for the warning's rate limit)
        return self.t


def precommit(sig: bytes, time_ms: int, height: int = 7):
    return SimpleNamespace(type=PRECOMMIT, time_ms=time_ms, signature=sig, height=height)


def cert(*votes, height: int = 7):
    return SimpleNamespace(
        height=height, signatures=[SimpleNamespace(signature=v.signature) for v in votes]
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
    for i in range(ClockCheck.MAX_PENDING + 100):
        check.saw_precommit(precommit(i.to_bytes(4, "big"), 4_000_000, height=8))
    assert len(check._arrived) == ClockCheck.MAX_PENDING
    check.check_commit(cert(height=8))  # a commit drops the readings of its height
    assert check._arrived == {}


def test_no_live_precommit_no_reading():
    """A certificate whose precommits all came in a commit frame (catching up)."""
    clock, check, _ = make(5_000.0)
    check.check_commit(cert(precommit(b"x", 1)))
    assert check.offset_ms is None
