"""Large proposals are not moved and decoded again and again: a copy of a proposal whose
block the core already has is dropped before it is decoded, and large proposals are
re-sent and relayed with exponential backoff while the node makes no progress (votes are
still re-sent on every tick)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

import tianfu.consensus.peers as peers
from tianfu.codec import encode
from tianfu.consensus.messages import Proposal, ProposalReceived, sign_proposal
from tianfu.consensus.peers import KIND_PROPOSAL, KIND_VOTE, PeerGossip, head_key, proposal_key
from tianfu.testing.sim import sim_key
from tianfu.testing.simchain import CHAIN_ID
from tianfu.types import PREVOTE, Validator, ValidatorSet, Vote, vote_signing_bytes

KEYS = [sim_key(i) for i in range(4)]
VALIDATORS = ValidatorSet(
    [Validator(f"v{i}", f"o{i}", k.scheme, k.public_key, 1) for i, k in enumerate(KEYS)]
)
BLOCK = b"\x07" * 500_000


def proposal(i: int, height: int = 1, round: int = 0, block: bytes = BLOCK) -> Proposal:
    return sign_proposal(KEYS[i], CHAIN_ID, height, round, -1, bytes([i + 1]) * 32, block)


def vote(i: int, height: int = 1, round: int = 0) -> Vote:
    msg = vote_signing_bytes(CHAIN_ID, height, round, PREVOTE, b"", 0)
    return Vote(1, CHAIN_ID, height, round, PREVOTE, b"", 0, KEYS[i].public_key, KEYS[i].sign(msg))


@dataclass
class View:
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


@pytest.fixture
def decodes(monkeypatch):
    """Counts the proposal frames gossip decodes in full."""
    counted: Counter[str] = Counter()
    real = peers.decode

    def counting(data, typ, **kw):
        counted[typ.__name__] += 1
        return real(data, typ, **kw)

    monkeypatch.setattr(peers, "decode", counting)
    return counted


def make(view: View) -> tuple[PeerGossip, Host, Net, Counter[str]]:
    host, net, stats = Host(view), Net(), Counter()
    gossip = PeerGossip(host, net, CHAIN_ID, KEYS[0].public_key, timers=Clock(), stats=stats)
    return gossip, host, net, stats


def test_the_head_key_of_a_frame_is_the_proposals_key():
    p = proposal(1)
    assert head_key(encode(p)) == proposal_key(p)
    assert head_key(b"\x93\x01") is None and head_key(b"") is None


def test_copies_of_a_proposal_given_to_the_core_are_not_decoded_again(decodes):
    """Peers relay the round's proposal to each other: each copy of an 8 MB proposal was
    decoded (and compared, and queued for the core) again. Now only the first is."""
    view = View()
    gossip, host, _, stats = make(view)
    frame = encode(proposal(1))
    for _ in range(5):
        gossip.handle_frame("peer", KIND_PROPOSAL, frame)
    assert host.delivered == [ProposalReceived(proposal(1))]
    assert decodes["Proposal"] == 1 and stats["duplicate_proposal_frames"] == 4
    # the same header with another block is held too (the signature binds the hash only)
    other = Proposal(*[getattr(proposal(1), f) for f in Proposal.__struct_fields__][:6],
                     b"\x08" * 10, *[proposal(1).proposer, proposal(1).signature])  # fmt: skip
    gossip.handle_frame("peer", KIND_PROPOSAL, encode(other))
    assert decodes["Proposal"] == 1
    # another proposal (another round) is decoded and delivered
    gossip.handle_frame("peer", KIND_PROPOSAL, encode(proposal(2, round=1)))
    assert decodes["Proposal"] == 2 and len(host.delivered) == 2
    # at the next height everything held is forgotten
    gossip.new_height()
    view.height = 2
    gossip.handle_frame("peer", KIND_PROPOSAL, encode(proposal(1, height=2)))
    assert decodes["Proposal"] == 3 and len(host.delivered) == 3


def test_a_proposal_the_core_already_holds_is_decoded_once(decodes):
    view = View()
    view.held = (proposal(1),)
    gossip, host, _, stats = make(view)
    for _ in range(4):
        gossip.handle_frame("peer", KIND_PROPOSAL, encode(proposal(1)))
    assert host.delivered == [] and stats["duplicate"] == 1
    assert decodes["Proposal"] == 1


def test_an_empty_block_proposal_or_a_far_round_is_not_held(decodes):
    """A proposal without its block, or of a round the core does not keep yet, does not
    stop later copies (which may carry the block, or come when the round is near)."""
    view = View()
    gossip, host, _, _ = make(view)
    for _ in range(2):
        gossip.handle_frame("peer", KIND_PROPOSAL, encode(proposal(1, block=b"")))
        gossip.handle_frame("peer", KIND_PROPOSAL, encode(proposal(2, round=50)))
    assert decodes["Proposal"] == 4 and len(host.delivered) == 4


def test_large_proposals_are_resent_with_backoff_votes_every_tick():
    """While stuck, `tick` re-sent our own proposal and relayed the round's proposal on
    every gossip interval: with 8 MB blocks, a storm of frames every half second. Now a
    large one goes on the 1st, 2nd, 4th, 8th ... tick without progress; votes every tick."""
    relayed, small, v = proposal(1), proposal(2, round=0, block=b"\x01" * 100), vote(3)
    view = View(held=(relayed, small, v))
    gossip, _, net, stats = make(view)
    own = proposal(0)
    gossip.broadcast_own(own)
    assert net.sent == [(KIND_PROPOSAL, encode(own))]
    net.sent.clear()
    gossip.tick()  # first look: progress, nothing re-sent
    for _ in range(16):
        gossip.tick()
    assert net.sent.count((KIND_PROPOSAL, encode(own))) == 5  # ticks 1, 2, 4, 8, 16
    assert net.sent.count((KIND_PROPOSAL, encode(relayed))) == 5
    assert net.sent.count((KIND_PROPOSAL, encode(small))) == 16
    assert net.sent.count((KIND_VOTE, encode(v))) == 16
    assert stats["proposal_resends_held_back"] == 22
    gossip.new_height()  # the next height starts its own count
    view.held = (relayed,)
    gossip.tick()
    assert net.sent[-1] == (KIND_PROPOSAL, encode(relayed))
