"""The driver's parts talk through narrow interfaces: gossip sees a read-only view of the
core, an action without a handler stops the driver, and the kind numbers match p2p's."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import pytest

from tianfu.codec import encode
from tianfu.consensus.clock import Timeouts
from tianfu.consensus.core import ConsensusCore
from tianfu.consensus.driver import ConsensusDriver, DriverError, UnknownAction
from tianfu.consensus.inbox import MAX_INBOUND_BYTES
from tianfu.consensus.messages import CommitReceived, Proposal, ProposalReceived, VoteReceived
from tianfu.consensus.peers import (
    KIND_COMMIT,
    KIND_PROPOSAL,
    KIND_VOTE,
    MAX_BUCKETS,
    PeerBucketTable,
    PeerGossip,
    PeerHeightTimes,
)
from tianfu.consensus.wal import ConsensusWAL
from tianfu.p2p import protocol as p2p
from tianfu.testing.sim import SIM_PARAMS, cached_verify, sim_key
from tianfu.testing.simchain import (
    CHAIN_ID,
    SimLedger,
    SimMempool,
    SimRules,
    SimTimers,
    VirtualLoop,
)
from tianfu.types import (
    PREVOTE,
    CommitCertificate,
    Validator,
    ValidatorSet,
    Vote,
    vote_signing_bytes,
)

KEYS = [sim_key(i) for i in range(4)]
VALIDATORS = ValidatorSet(
    [Validator(f"v{i}", f"o{i}", k.scheme, k.public_key, 1) for i, k in enumerate(KEYS)]
)


def test_kind_numbers_are_the_p2p_ones():
    assert (KIND_PROPOSAL, KIND_VOTE, KIND_COMMIT) == (
        p2p.KIND_PROPOSAL,
        p2p.KIND_VOTE,
        p2p.KIND_COMMIT,
    )


def vote(i: int, height: int = 1, round: int = 0) -> Vote:
    msg = vote_signing_bytes(CHAIN_ID, height, round, PREVOTE, b"", 0)
    return Vote(1, CHAIN_ID, height, round, PREVOTE, b"", 0, KEYS[i].public_key, KEYS[i].sign(msg))


@dataclass
class View:
    """Only the `ConsensusView` members: no votes, proposals or other core state."""

    height: int = 1
    round: int = 0
    step: int = 0
    decided: bytes | None = None
    held: tuple[Vote | Proposal, ...] = ()

    def validator(self, public_key: bytes) -> Validator | None:
        return VALIDATORS.by_key(public_key)

    def knows(self, msg: Vote | Proposal) -> bool:
        return msg in self.held

    def round_messages(self) -> list[Vote | Proposal]:
        return list(self.held)


class Host:
    def __init__(self, view: View) -> None:
        self.view, self.delivered = view, []

    def consensus(self) -> View:
        return self.view

    def height_started(self) -> float:
        return 0.0

    def sign_guard(self) -> None:
        return None

    def deliver(self, event) -> bool:
        self.delivered.append(event)
        return True

    def deliver_commit(self, event) -> bool:
        self.delivered.append(event)
        return True

    def load_commit(self, height: int) -> None:
        return None


class Net:
    def __init__(self) -> None:
        self.sent: list[tuple[int, bytes]] = []

    def broadcast(self, kind: int, payload: bytes) -> None:
        self.sent.append((kind, payload))

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        self.sent.append((kind, payload))


class Clock:
    def now(self) -> float:
        return 0.0


def test_gossip_works_through_the_view_alone():
    """Gossip checks, deduplicates and relays using only `ConsensusView` (not the core's
    vote sets and proposals, nor the driver's private state)."""
    view = View()
    host, net, stats = Host(view), Net(), Counter()
    gossip = PeerGossip(host, net, CHAIN_ID, KEYS[0].public_key, timers=Clock(), stats=stats)
    fresh, held, forged = vote(1), vote(2), vote(3)
    forged = Vote(*[getattr(forged, f) for f in forged.__struct_fields__][:-1], b"\x00" * 64)
    view.held = (held,)
    for v in (fresh, held, forged):
        gossip.handle_frame("peer", KIND_VOTE, encode(v))
    assert host.delivered == [VoteReceived(fresh)]
    assert stats["duplicate"] == 1 and stats["dropped_bad_signature"] == 1
    gossip.tick()  # first look: progress
    gossip.tick()  # no progress since: relay the round's messages of others
    assert net.sent == [(KIND_VOTE, encode(held))]


def test_timeouts_replace_and_cancel_older_rounds():
    fired: list[str] = []

    async def go() -> None:
        t = Timeouts(SimTimers())
        t.schedule((1, 0, 1), 1.0, lambda: fired.append("r0"), (1, 0))
        t.schedule((1, 1, 1), 2.0, lambda: fired.append("r1-old"), (1, 1))
        t.schedule((1, 1, 1), 3.0, lambda: fired.append("r1"), (1, 1))
        await asyncio.sleep(5)

    loop = VirtualLoop()
    loop.run_until_complete(go())
    loop.close()
    assert fired == ["r1"]  # round 0's was cancelled, round 1's first one replaced


class BogusAction:
    """Not one of the core's actions."""


class BogusCore(ConsensusCore):
    def handle(self, event):  # type: ignore[override]
        return [BogusAction()]


def test_an_action_without_a_handler_stops_the_driver(tmp_path):
    """An action the driver has no handler for stops it (it is not silently dropped)."""
    ledger = SimLedger(SimRules(VALIDATORS, SIM_PARAMS), lambda h, r: None)

    def core(height: int, validators: ValidatorSet) -> ConsensusCore:
        return BogusCore(CHAIN_ID, height, validators, None, verifier=cached_verify)

    wal = ConsensusWAL(tmp_path / "cs.wal")
    driver = ConsensusDriver(
        ledger, SimMempool(), None, wal, Net(), core_factory=core, timers=SimTimers()
    )
    loop = VirtualLoop()
    with pytest.raises(UnknownAction, match="BogusAction") as raised:
        loop.run_until_complete(driver.start())
    loop.run_until_complete(driver.stop())
    loop.close()
    wal.close()
    assert isinstance(raised.value, DriverError)


def test_frames_naming_old_heights_get_a_bounded_number_of_commits_back():
    """Votes below our height are not signature-checked before they are answered with our
    stored commit, so a peer's cheap frames naming many old heights must not each cost a
    store read and a block sent back: a few per second per peer, each height still once
    per interval, and other peers are answered as before."""

    class Store(Host):
        def __init__(self, view: View) -> None:
            super().__init__(view)
            self.loaded: list[int] = []

        def load_commit(self, height: int) -> None:
            self.loaded.append(height)

    class Later(Clock):
        t = 0.0

        def now(self) -> float:
            return self.t

    view, clock, stats = View(height=5000), Later(), Counter()
    host = Store(view)
    gossip = PeerGossip(host, Net(), CHAIN_ID, KEYS[0].public_key, timers=clock, stats=stats)
    forged = vote(1)
    fields = [getattr(forged, f) for f in forged.__struct_fields__]
    for height in range(1, 1001):  # within the frame bucket's burst
        fields[2] = height
        gossip.handle_frame("flooder", KIND_VOTE, encode(Vote(*fields)))
    assert 0 < len(host.loaded) <= 20 and stats["answers_rate_limited"] > 900
    fields[2] = 4990
    gossip.handle_frame("laggard", KIND_VOTE, encode(Vote(*fields)))
    assert host.loaded[-1] == 4990  # another peer is answered
    clock.t = 10.0  # later, a refused height is answered (it was not marked as answered)
    fields[2] = 1000
    gossip.handle_frame("flooder", KIND_VOTE, encode(Vote(*fields)))
    assert host.loaded[-1] == 1000


def test_the_blocks_queued_for_the_core_are_bounded_in_bytes(tmp_path):
    """A proposal of the next height reaches the driver's inbox before its signature is
    checked, and a commit frame of our height before its certificate is: a peer's 1 MiB
    blocks stop being queued at the inbox's byte bound (not at 10,000 items, nor never for
    commit frames), and are taken again once the consumer has taken what was queued."""
    ledger = SimLedger(SimRules(VALIDATORS, SIM_PARAMS), lambda h, r: None)
    wal = ConsensusWAL(tmp_path / "cs.wal")
    driver = ConsensusDriver(ledger, SimMempool(), None, wal, Net(), timers=SimTimers())
    block = bytes(1 << 20)  # one object: the test counts, it does not hold 200 MiB
    proposal = Proposal(1, CHAIN_ID, 2, 0, -1, bytes(32), block, KEYS[1].public_key, bytes(64))
    commit = CommitReceived(block, CommitCertificate(1, CHAIN_ID, 1, 0, bytes(32), []))

    async def run() -> tuple[list[bool], list[bool], bool]:
        driver.inbox.open()
        proposals = [driver.deliver(ProposalReceived(proposal)) for _ in range(200)]
        assert driver.inbox.inbound_bytes <= MAX_INBOUND_BYTES
        while len(driver.inbox):
            await driver.inbox.get()
        commits = [bool(driver.deliver_commit(commit)) for _ in range(200)]
        assert driver.inbox.inbound_bytes <= MAX_INBOUND_BYTES
        while len(driver.inbox):
            await driver.inbox.get()
        return proposals, commits, driver.deliver(ProposalReceived(proposal))

    proposals, commits, again = asyncio.run(run())
    wal.close()
    bound = MAX_INBOUND_BYTES >> 20
    assert 0 < proposals.count(True) <= bound and not any(proposals[bound:])
    assert 0 < commits.count(True) <= bound and not any(commits[bound:])
    assert again and driver.inbox.inbound_bytes > 0


def test_many_new_peers_do_not_reset_the_rate_limit_of_a_peer_sending_now():
    """An organisation minting more node certificates than the table of buckets holds
    cannot refill the bucket of a peer that is being rate-limited."""
    stats = Counter()
    gossip = PeerGossip(
        Host(View()), Net(), CHAIN_ID, None, timers=Clock(), stats=stats, peer_burst=5.0
    )
    for _ in range(5):
        gossip.handle_frame("flooder", KIND_VOTE, b"x")  # its burst: malformed, not limited
    assert stats["dropped_rate_limited"] == 0
    for i in range(MAX_BUCKETS + 10):
        gossip.handle_frame(f"sybil-{i}", KIND_VOTE, b"x")
        gossip.handle_frame("flooder", KIND_VOTE, b"x")  # still sending: still limited
    assert stats["dropped_rate_limited"] == MAX_BUCKETS + 10


def test_bucket_table_forgets_a_full_bucket_first_then_the_least_recently_used():
    table = PeerBucketTable(rate=1.0, burst=2.0, max_peers=3)
    for peer in "abc":
        bucket = table.get(peer, 0.0)
        if peer != "b":  # a and c: empty, not full again at t=1 (1 token/s)
            assert bucket.take(0.0) and bucket.take(0.0)
    table.get("b", 0.5)  # b: full, and used more recently than a
    assert table.get("d", 1.0).take(1.0)
    assert "b" not in table and {"a", "c", "d"} == {p for p in "abcd" if p in table}
    table.get("e", 1.0)  # nothing full: the least recently used (a) goes
    assert "a" not in table and len(table) == 3


def test_many_peers_answered_do_not_reset_when_another_peer_was_answered():
    """Which (peer, height) was answered within the gossip interval was one table cleared
    at 4,096 entries: sybil addresses asking for old heights made every peer be answered
    again at once. Now each peer has its own few heights, and the peers are forgotten
    least recently used first."""

    class Store(Host):
        def __init__(self, view: View) -> None:
            super().__init__(view)
            self.loaded: list[tuple[int, float]] = []

        def load_commit(self, height: int) -> None:
            self.loaded.append((height, clock.t))

    class Later(Clock):
        t = 0.0

        def now(self) -> float:
            return self.t

    view, clock, stats = View(height=5000), Later(), Counter()
    host = Store(view)
    gossip = PeerGossip(host, Net(), CHAIN_ID, None, timers=clock, stats=stats)
    old = vote(1)
    fields = [getattr(old, f) for f in old.__struct_fields__]

    def ask(peer: str, height: int) -> None:
        fields[2] = height
        gossip.handle_frame(peer, KIND_VOTE, encode(Vote(*fields)))

    ask("laggard", 5)
    assert host.loaded == [(5, 0.0)]
    clock.t = 0.1
    for i in range(420):  # 4,200 (peer, height) pairs answered, each peer within its burst
        for height in range(100, 110):
            ask(f"sybil-{i}", height)
    assert len(host.loaded) == 4201
    clock.t = 0.2  # within the interval: the laggard is not answered the same height again
    ask("laggard", 5)
    assert [h for h, t in host.loaded if h == 5] == [5]


def test_peer_height_times_are_bounded_per_peer_and_in_peers():
    table = PeerHeightTimes(per_peer=4, max_peers=3)
    assert all(table.once_per(1.0, "flooder", h, 0.0) for h in range(100))
    assert len(table) == 4  # the flooder's own oldest heights went
    assert table.once_per(1.0, "a", 1, 0.0) and not table.once_per(1.0, "a", 1, 0.5)
    for peer in ("b", "c"):
        table.once_per(1.0, peer, 1, 0.5)
    assert len(table) == 3  # 3 peers at most: the flooder (least recently used) went
    assert not table.once_per(1.0, "a", 1, 0.9) and table.once_per(1.0, "a", 1, 1.5)


def test_one_equivocators_many_double_signs_do_not_push_anothers_evidence_out(tmp_path):
    """Validator 0 double signs once; validator 1 then double signs in 10 rounds of each of
    30 heights (300 conflicts). The driver keeps the first conflict of each key at each
    height (one proof of a validator is what slashing takes), so validator 0's evidence is
    still there for the reporter; the book of the 256 newest conflicts had lost it."""
    from tianfu.consensus.core import RecordEvidence
    from tianfu.consensus.messages import DuplicateVoteEvidence

    ledger = SimLedger(SimRules(VALIDATORS, SIM_PARAMS), lambda h, r: None)
    wal = ConsensusWAL(tmp_path / "cs.wal")
    driver = ConsensusDriver(ledger, SimMempool(), None, wal, Net(), timers=SimTimers())

    def conflict(i: int, height: int, round: int) -> DuplicateVoteEvidence:
        a = vote(i, height, round)
        return DuplicateVoteEvidence(a, msgspec_replace(a, block_hash=b"\x01" * 32))

    first = conflict(0, 1, 0)
    flood = [conflict(1, h, r) for h in range(1, 31) for r in range(10)]

    async def run() -> list[object]:
        await driver._act(RecordEvidence(first), False)
        for e in flood:
            await driver._act(RecordEvidence(e), False)
        return driver.pending_evidence()

    loop = VirtualLoop()
    pending = loop.run_until_complete(run())
    loop.close()
    wal.close()
    assert first in pending
    assert pending == [first, *flood[::10]]
    assert driver.stats["evidence"] == 1 + len(flood)


def msgspec_replace(v: Vote, **changes: object) -> Vote:
    import msgspec

    return msgspec.structs.replace(v, **changes)
