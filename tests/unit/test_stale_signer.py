"""A signer state older than what its key signed, found from the network while running.

A data directory put back from a backup (signer file, WAL and store of one moment), or
another data directory with the same key, holds an intact signer state that nothing local
shows to be old. The node finds out from the network: a message or stored certificate of
its own key at a position its signer did not sign makes a `SignGuard` (it signs nothing
until it has heard how far the network got), and after every start it signs nothing new
for a listening period, then makes the signatures it held.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from tianfu.codec import encode
from tianfu.consensus.messages import SignVote
from tianfu.consensus.peers import KIND_COMMIT, KIND_VOTE, CommitFrame, PeerGossip
from tianfu.consensus.privval import FilePrivValidator
from tianfu.consensus.signing import Signer
from tianfu.consensus.wal import ConsensusWAL
from tianfu.crypto import KeyPair
from tianfu.crypto.keys import generate_keypair
from tianfu.types import PRECOMMIT, PREVOTE, CommitCertificate, CommitSig, Validator, Vote

CHAIN = "stale-chain"
H1 = b"\x11" * 32


class ManualTimers:
    """`Timers` on a clock the test moves; worker-thread trips run inline."""

    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> float:
        return self.t

    def call_later(self, delay_s: float, fn: Any) -> Any:
        raise NotImplementedError

    async def sleep(self, delay_s: float) -> None:
        self.t += delay_s

    async def run_blocking(self, fn: Any, *args: Any) -> Any:
        return fn(*args)


@pytest.fixture
def keys() -> list[KeyPair]:
    return [generate_keypair() for _ in range(4)]


def _powers(keys: list[KeyPair]) -> dict[bytes, int]:
    return {k.public_key: 1 for k in keys}


def _signer(tmp_path: Any, keys: list[KeyPair], timers: ManualTimers) -> Signer:
    path = tmp_path / "privval.bin"
    FilePrivValidator.initialise(keys[0], path)
    pv = FilePrivValidator(keys[0], path)
    pv.sign_vote(CHAIN, 5, 0, PREVOTE, H1)
    signer = Signer(
        pv, ConsensusWAL(tmp_path / "cs.wal"), CHAIN, clock=lambda: 1.0, timers=timers,
        stats=Counter(),
    )  # fmt: skip
    signer.powers = lambda: _powers(keys)
    return signer


def test_own_signature_past_the_signer_state_makes_a_guard(tmp_path, keys):
    timers = ManualTimers()
    signer = _signer(tmp_path, keys, timers)
    signer.found_own(5, 0, 1, "a peer's message")  # what this signer signed: nothing to do
    signer.found_own(4, 3, 2, "a stored certificate")  # before it: nothing to do
    assert signer.guard is None
    signer.found_own(7, 1, 2, "a stored certificate")  # signed by this key, not by this signer
    guard = signer.guard
    assert guard is not None and guard.listening and guard.floor == (7, 1)
    assert "older than what the key signed" in guard.reason
    assert signer.stats["stale_signer_state"] == 1
    assert not guard.allows(9, 0, timers.now() + 5)  # nobody heard yet: it keeps listening
    for k in keys[1:3]:
        guard.observe(k.public_key, 7, 1)
    assert not guard.allows(7, 2, timers.now() + 5)  # (7, 1) may have had a round after it
    assert guard.allows(7, 3, timers.now() + 5) and guard.allows(8, 1, timers.now() + 5)


def test_a_settled_guard_is_renewed_by_a_later_own_signature_only(tmp_path, keys):
    """Once a guard has settled, an own signature at or below its floor is accounted for; one
    past it (the key signing on elsewhere) makes a new guard that listens again."""
    timers = ManualTimers()
    signer = _signer(tmp_path, keys, timers)
    signer.found_own(7, 1, 2, "x")
    first = signer.guard
    assert first is not None
    for k in keys[1:3]:
        first.observe(k.public_key, 7, 1)
    assert first.settle(timers.now() + 5)
    signer.found_own(7, 0, 2, "x")
    assert signer.guard is first
    signer.found_own(9, 0, 1, "x")
    assert signer.guard is not first and signer.guard.listening
    assert signer.guard.floor == (9, 0)


def test_nothing_new_is_signed_during_the_quiet_start_then_the_held_ones_are(tmp_path, keys):
    timers = ManualTimers()
    signer = _signer(tmp_path, keys, timers)

    class NoStore:
        def load_cert(self, h: int) -> None:
            return None

        def load_header(self, h: int) -> None:
            return None

    validators = _validator_set(keys)
    signer.recover(NoStore(), 4, validators, listen_s=1.0, check_heights=10)
    assert signer.guard is None  # an intact state at the store's next height

    async def sign(a: SignVote) -> Any:
        return await signer.sign(a, False, lambda h: 0, timers.run_blocking, lambda: None)

    a = SignVote(6, 0, PREVOTE, H1)
    assert asyncio.run(sign(a)) is None  # held: the network is listened to first
    assert signer.stats["sign_held_at_start"] == 1
    assert signer.held_at_start() == []  # not yet over
    timers.t += 1.0
    assert signer.held_at_start() == [a]
    event = asyncio.run(sign(a))
    assert event is not None and event.vote.height == 6  # made once the quiet start is over


def _validator_set(keys: list[KeyPair]) -> Any:
    from tianfu.types import ValidatorSet

    return ValidatorSet(
        [Validator(f"v{i}", f"org{i}", k.scheme, k.public_key, 1) for i, k in enumerate(keys)]
    )


class _Core:
    def __init__(self, keys: list[KeyPair]) -> None:
        self.height, self.round, self.step, self.decided = 6, 0, 0, None
        self.vals = {v.public_key: v for v in _validator_set(keys).validators}

    def validator(self, key: bytes) -> Validator | None:
        return self.vals.get(key)

    def knows(self, msg: Any) -> bool:
        return False

    def round_messages(self) -> list[Any]:
        return []


class _Host:
    def __init__(self, core: _Core) -> None:
        self.core = core

    def consensus(self) -> _Core:
        return self.core

    def height_started(self) -> float:
        return 0.0

    def sign_guard(self) -> None:
        return None

    def deliver(self, event: Any) -> bool:
        return True

    def deliver_commit(self, event: Any) -> bool:
        return True

    def load_commit(self, height: int) -> None:
        return None


class _Net:
    def broadcast(self, kind: int, payload: bytes) -> None:
        pass

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        pass


class _Own:
    def __init__(self, last: tuple[int, int, int]) -> None:
        self.last = last
        self.found: list[tuple[int, int, int, str]] = []

    def beyond(self, height: int, round: int, step: int) -> bool:
        return (height, round, step) > self.last

    def found_own(self, height: int, round: int, step: int, where: str) -> None:
        self.found.append((height, round, step, where))


def _gossip(keys: list[KeyPair], own: _Own) -> PeerGossip:
    g = PeerGossip(
        _Host(_Core(keys)), _Net(), CHAIN, keys[0].public_key, timers=ManualTimers(),
        stats=Counter(),
    )  # fmt: skip
    g.own = own
    return g


def _vote(key: KeyPair, height: int, round: int, type: int, forged: bool = False) -> Vote:
    from tianfu.types import vote_signing_bytes

    t = 5 if type == PRECOMMIT else 0
    msg = vote_signing_bytes(CHAIN, height, round, type, H1, t)
    sig = bytes(64) if forged else key.sign(msg)
    return Vote(1, CHAIN, height, round, type, H1, t, key.public_key, sig)


def test_gossip_reports_own_messages_and_certificates_the_signer_did_not_sign(keys):
    own = _Own((6, 0, 1))
    g = _gossip(keys, own)
    me = keys[0]
    g.handle_frame("p1", KIND_VOTE, encode(_vote(me, 6, 0, PREVOTE)))  # ours: signed here
    g.handle_frame("p1", KIND_VOTE, encode(_vote(me, 6, 1, PREVOTE, forged=True)))  # forged
    g.handle_frame("p1", KIND_VOTE, encode(_vote(keys[1], 6, 3, PREVOTE)))  # another's
    assert own.found == []
    g.handle_frame("p1", KIND_VOTE, encode(_vote(me, 6, 2, PRECOMMIT)))
    assert own.found == [(6, 2, 2, "a peer's message")]
    v = _vote(me, 6, 4, PRECOMMIT)
    cert = CommitCertificate(1, CHAIN, 6, 4, H1, [CommitSig(me.public_key, v.time_ms, v.signature)])
    g.handle_frame("p1", KIND_COMMIT, encode(CommitFrame(1, 6, b"block bytes", cert)))
    assert own.found[-1] == (6, 4, 2, "a peer's certificate"), g.stats


def test_an_empty_store_gets_the_quiet_start_too(tmp_path, keys):
    """A wiped data directory made again with the key kept starts at height 1 with an intact
    signer state that never signed: nothing local shows what the key signed, so it listens
    before signing as after any start (before, an empty store skipped the quiet start)."""
    timers = ManualTimers()
    path = tmp_path / "privval.bin"
    FilePrivValidator.initialise(keys[0], path)
    pv = FilePrivValidator(keys[0], path)
    signer = Signer(
        pv, ConsensusWAL(tmp_path / "cs.wal"), CHAIN, clock=lambda: 1.0, timers=timers,
        stats=Counter(),
    )  # fmt: skip

    class EmptyStore:
        def load_cert(self, h: int) -> None:
            return None

        def load_header(self, h: int) -> None:
            return None

    signer.recover(EmptyStore(), 0, _validator_set(keys), listen_s=1.0, check_heights=10)
    assert signer.guard is None

    async def sign(a: SignVote) -> Any:
        return await signer.sign(a, False, lambda h: 0, timers.run_blocking, lambda: None)

    a = SignVote(1, 0, PREVOTE, H1)
    assert asyncio.run(sign(a)) is None
    assert signer.stats["sign_held_at_start"] == 1 and pv.last_hrs() == (0, 0, 0)
    signer.caught_up()  # a height taken from the network's commits: quiet a while more
    timers.t += 0.9
    assert asyncio.run(sign(SignVote(2, 0, PREVOTE, H1))) is None
    timers.t += 1.0
    assert asyncio.run(sign(SignVote(2, 0, PREVOTE, H1))) is not None


def test_held_signatures_are_made_when_an_extended_quiet_start_ends(tmp_path, keys):
    """The driver's timer for the held signatures fires when the quiet start was to end; if
    it was extended meanwhile (a height taken from the network's commits) and signatures
    are held again, it waits for the new end instead of leaving them to a gossip tick."""
    from tianfu.consensus.driversigning import DriverSigning

    timers = ManualTimers()
    signer = _signer(tmp_path, keys, timers)
    signer.listen_s, signer.quiet_until = 1.0, timers.t + 1.0
    armed: list[float] = []
    ticks: list[float] = []

    class Part(DriverSigning):
        pass

    part = Part()
    part.signer, part._held_wake = signer, None

    class Timers:
        def call_later(self, delay_s: float, fn: Any) -> str:
            armed.append(delay_s)
            return "handle"

    part.timers = Timers()  # type: ignore[assignment]
    part._guard_tick = lambda: ticks.append(timers.t)  # type: ignore[method-assign]
    asyncio.run(
        signer.sign(
            SignVote(6, 0, PREVOTE, H1), False, lambda h: 0, timers.run_blocking, lambda: None
        )
    )
    timers.t += 0.5
    signer.caught_up()  # quiet until t + 1.0 now, the held vote dropped
    asyncio.run(
        signer.sign(
            SignVote(7, 0, PREVOTE, H1), False, lambda h: 0, timers.run_blocking, lambda: None
        )
    )
    assert signer.holding
    timers.t += 0.5  # the first end
    part._wake_held()
    assert ticks == [] and armed == [0.5] and part._held_wake == "handle"
    timers.t += 0.5
    part._wake_held()
    assert ticks == [timers.t]
