"""Unit tests of the sans-I/O consensus core: Algorithm 1 rules, execute-before-vote, bounds."""

from collections import Counter

import msgspec
import pytest

from tianfu.codec import CodecError, decode, encode
from tianfu.consensus.core import (
    MAX_BUFFER_PER_SIGNER,
    MAX_FUTURE_ROUNDS,
    ConsensusCore,
    weighted_round_robin,
)
from tianfu.consensus.messages import (
    BlockCommitted,
    BlockExecuted,
    Broadcast,
    CommitBlock,
    CommitReceived,
    ConflictingProposalEvidence,
    CreateProposalBlock,
    DuplicateVoteEvidence,
    ExecuteBlock,
    Proposal,
    ProposalBlockReady,
    ProposalReceived,
    RecordEvidence,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    Start,
    Step,
    TimeoutFired,
    VoteReceived,
    sign_proposal,
    verify_proposal,
)
from tianfu.crypto import ED25519, sign_vote, verify_commit
from tianfu.testing.sim import block_hash, sim_key
from tianfu.types import (
    NO_HASH,
    PRECOMMIT,
    PREVOTE,
    CommitCertificate,
    ConsensusParams,
    Validator,
    ValidatorSet,
)

CHAIN = "unit"
KEYS = [sim_key(i) for i in range(4)]
VALS = ValidatorSet(
    [Validator(f"v{i}", f"o{i}", ED25519, k.public_key, 1) for i, k in enumerate(KEYS)]
)
PARAMS = ConsensusParams(timeout_propose_ms=1000, timeout_vote_ms=500, timeout_delta_ms=250)
BLOCK_A = b"block-a"
BLOCK_B = b"block-b"
A, B = block_hash(BLOCK_A), block_hash(BLOCK_B)


def key_of(pub):
    return next(k for k in KEYS if k.public_key == pub)


def proposer_key(height, round):
    return key_of(weighted_round_robin(VALS, height, round))


def non_proposer(height, round):
    return next(k for k in KEYS if k.public_key != weighted_round_robin(VALS, height, round))


def make_core(me=None, height=1, round=0):
    kp = me or non_proposer(height, round)
    core = ConsensusCore(CHAIN, height, VALS, kp.public_key, params=PARAMS)
    return core, kp


def proposal(height, round, block=BLOCK_A, pol_round=-1, key=None):
    kp = key or proposer_key(height, round)
    return sign_proposal(kp, CHAIN, height, round, pol_round, block_hash(block), block)


def vote_time(type, h):
    """A precommit of a block carries its signer's time (BFT time); other votes 0."""
    return 1_000 if type == PRECOMMIT and h else 0


def vote(kp, type, h, height=1, round=0):
    return VoteReceived(sign_vote(kp, CHAIN, height, round, type, h, vote_time(type, h)))


def others(me):
    return [k for k in KEYS if k.public_key != me.public_key]


def of(actions, cls):
    return [a for a in actions if isinstance(a, cls)]


def feed_own(core, kp, actions):
    """Play the driver: sign what the core asks and feed it back."""
    out = []
    for a in actions:
        if isinstance(a, SignVote):
            t = vote_time(a.type, a.block_hash)
            v = sign_vote(kp, CHAIN, a.height, a.round, a.type, a.block_hash, t)
            out += core.handle(VoteReceived(v))
    return out


def test_happy_path_executes_before_prevote_and_commits_with_valid_certificate():
    core, me = make_core()
    acts = core.handle(Start())
    assert of(acts, ScheduleTimeout)[0] == ScheduleTimeout(1, 0, Step.PROPOSE, 1000)
    acts = core.handle(ProposalReceived(proposal(1, 0)))
    assert of(acts, ExecuteBlock) == [ExecuteBlock(1, 0, A, BLOCK_A)]
    assert not of(acts, SignVote)  # waits for execution
    acts = core.handle(BlockExecuted(1, A, True))
    assert of(acts, SignVote) == [SignVote(1, 0, PREVOTE, A)]
    acts = feed_own(core, me, acts)
    assert [type(a.message).__name__ for a in of(acts, Broadcast)] == ["Vote"]
    peers = others(me)
    core.handle(vote(peers[0], PREVOTE, A))
    acts = core.handle(vote(peers[1], PREVOTE, A))
    assert of(acts, SignVote) == [SignVote(1, 0, PRECOMMIT, A)]
    assert core.locked_value == A and core.locked_round == 0 and core.valid_round == 0
    feed_own(core, me, acts)
    core.handle(vote(peers[0], PRECOMMIT, A))
    acts = core.handle(vote(peers[1], PRECOMMIT, A))
    commits = of(acts, CommitBlock)
    assert len(commits) == 1 and commits[0].block_hash == A and commits[0].block == BLOCK_A
    verify_commit(commits[0].certificate, A, 1, VALS, CHAIN)
    assert core.step == Step.COMMIT
    acts = core.handle(BlockCommitted(1, VALS))
    assert core.height == 2 and core.round == 0


def test_invalid_block_gets_nil_prevote():
    core, _ = make_core()
    core.handle(Start())
    core.handle(ProposalReceived(proposal(1, 0)))
    acts = core.handle(BlockExecuted(1, A, False))
    assert of(acts, SignVote) == [SignVote(1, 0, PREVOTE, NO_HASH)]


def test_propose_timeout_prevotes_nil_and_timeouts_grow_per_round():
    core, _ = make_core()
    core.handle(Start())
    acts = core.handle(TimeoutFired(1, 0, Step.PROPOSE))
    assert of(acts, SignVote) == [SignVote(1, 0, PREVOTE, NO_HASH)]
    assert core.handle(TimeoutFired(1, 0, Step.PROPOSE)) == []  # stale/duplicate timeout
    acts = core.handle(TimeoutFired(1, 0, Step.PRECOMMIT))
    assert core.round == 1
    assert ScheduleTimeout(1, 1, Step.PROPOSE, 1250) in acts
    core.handle(TimeoutFired(1, 1, Step.PRECOMMIT))
    core.handle(TimeoutFired(1, 2, Step.PRECOMMIT))
    assert core.round == 3


def test_nil_quorum_precommits_nil_and_vote_timeouts_scheduled():
    core, me = make_core()
    core.handle(Start())
    feed_own(core, me, core.handle(TimeoutFired(1, 0, Step.PROPOSE)))
    peers = others(me)
    acts = core.handle(vote(peers[0], PREVOTE, A))
    acts = core.handle(vote(peers[1], PREVOTE, NO_HASH))
    assert ScheduleTimeout(1, 0, Step.PREVOTE, 500) in acts  # line 34: 2f+1 any
    acts = core.handle(vote(peers[2], PREVOTE, NO_HASH))
    assert of(acts, SignVote) == [SignVote(1, 0, PRECOMMIT, NO_HASH)]  # line 44
    feed_own(core, me, acts)
    core.handle(vote(peers[0], PRECOMMIT, NO_HASH))
    acts = core.handle(vote(peers[1], PRECOMMIT, A))
    assert ScheduleTimeout(1, 0, Step.PRECOMMIT, 500) in acts  # line 47


def lock_on_a_in_round_0():
    core, me = make_core()
    core.handle(Start())
    core.handle(ProposalReceived(proposal(1, 0)))
    feed_own(core, me, core.handle(BlockExecuted(1, A, True)))
    peers = others(me)
    core.handle(vote(peers[0], PREVOTE, A))
    feed_own(core, me, core.handle(vote(peers[1], PREVOTE, A)))
    assert core.locked_value == A
    core.handle(TimeoutFired(1, 0, Step.PRECOMMIT))
    assert core.round == 1
    return core, me


def test_locked_validator_prevotes_nil_for_other_fresh_proposal():
    core, me = lock_on_a_in_round_0()
    # The keys are fixed (sim_key), so this holds on every run; the test needs it.
    assert proposer_key(1, 1).public_key != me.public_key, "we would propose round 1"
    acts = core.handle(ProposalReceived(proposal(1, 1, BLOCK_B)))
    assert of(acts, SignVote) == [SignVote(1, 1, PREVOTE, NO_HASH)]
    assert not of(acts, ExecuteBlock)


def test_line_28_unlocks_on_newer_pol_and_keeps_lock_against_older():
    core, me = lock_on_a_in_round_0()
    # Our lock (round 0 on A) yields to a proposal for B whose POL round (1) is >= the
    # lock round, once 2f+1 prevotes for B in round 1 are seen and B is executed.
    core.handle(TimeoutFired(1, 1, Step.PRECOMMIT))
    assert core.round == 2
    p = proposal(1, 2, BLOCK_B, pol_round=1)
    acts = core.handle(ProposalReceived(p))
    assert not of(acts, SignVote)  # waits for the POL of round 1
    acts = []
    for k in others(me)[:3]:
        acts += core.handle(vote(k, PREVOTE, B, round=1))
    assert of(acts, ExecuteBlock) == [ExecuteBlock(1, 2, B, BLOCK_B)] and not of(acts, SignVote)
    acts = core.handle(BlockExecuted(1, B, True))
    assert of(acts, SignVote) == [SignVote(1, 2, PREVOTE, B)]


def test_lock_holds_against_pol_older_than_lock():
    core, me = lock_on_a_in_round_0()
    core.handle(TimeoutFired(1, 1, Step.PRECOMMIT))
    core.locked_round = 1  # as if re-locked on A in round 1
    acts = core.handle(ProposalReceived(proposal(1, 2, BLOCK_B, pol_round=0)))
    for k in KEYS:
        acts += core.handle(vote(k, PREVOTE, B, round=0))
    assert SignVote(1, 2, PREVOTE, NO_HASH) in acts


def test_bad_signature_wrong_chain_and_outsiders_are_dropped():
    core, me = make_core()
    core.handle(Start())
    peer = others(me)[0]
    good = sign_vote(peer, CHAIN, 1, 0, PREVOTE, A)
    forged = type(good)(1, CHAIN, 1, 0, PREVOTE, B, 0, peer.public_key, good.signature)
    core.handle(VoteReceived(forged))
    assert core.votes.prevotes(0).power_any() == 0
    # A precommit's time is signed: the same vote with another time is dropped.
    pc = sign_vote(peer, CHAIN, 1, 0, PRECOMMIT, A, 1_000)
    core.handle(VoteReceived(msgspec.structs.replace(pc, time_ms=99_000)))
    assert core.votes.precommits(0).power_any() == 0
    outsider = sim_key(99)
    core.handle(VoteReceived(sign_vote(outsider, CHAIN, 1, 0, PREVOTE, A)))
    core.handle(VoteReceived(sign_vote(peer, "other-chain", 1, 0, PREVOTE, A)))
    assert core.votes.prevotes(0).power_any() == 0
    core.handle(VoteReceived(good))
    assert core.votes.prevotes(0).power_for(A) == 1
    wrong_proposer = non_proposer(1, 0)
    core.handle(ProposalReceived(proposal(1, 0, key=wrong_proposer)))
    assert not core.proposals.get(0)


def test_equivocation_is_recorded_as_evidence():
    core, me = make_core()
    core.handle(Start())
    peer = others(me)[0]
    core.handle(vote(peer, PREVOTE, A))
    acts = core.handle(vote(peer, PREVOTE, B))
    ev = of(acts, RecordEvidence)
    assert len(ev) == 1 and isinstance(ev[0].evidence, DuplicateVoteEvidence)
    assert {ev[0].evidence.vote_a.block_hash, ev[0].evidence.vote_b.block_hash} == {A, B}
    core.handle(ProposalReceived(proposal(1, 0, BLOCK_A)))
    acts = core.handle(ProposalReceived(proposal(1, 0, BLOCK_B)))
    assert isinstance(of(acts, RecordEvidence)[0].evidence, ConflictingProposalEvidence)


def test_future_height_buffered_and_replayed_further_dropped():
    core, me = make_core()
    core.handle(Start())
    peer = others(me)[0]
    core.handle(vote(peer, PREVOTE, A, height=2))
    core.handle(vote(peer, PREVOTE, A, height=3))
    core.handle(ProposalReceived(proposal(1, 0)))
    core.handle(BlockExecuted(1, A, True))
    cert_votes = [
        sign_vote(k, CHAIN, 1, 0, PRECOMMIT, A, 1_000 + i) for i, k in enumerate(KEYS[:3])
    ]
    from tianfu.types import CommitCertificate, CommitSig

    cert = CommitCertificate(
        1, CHAIN, 1, 0, A, [CommitSig(v.validator, v.time_ms, v.signature) for v in cert_votes]
    )
    acts = core.handle(CommitReceived(BLOCK_A, cert))
    assert of(acts, CommitBlock)[0].certificate == cert
    core.handle(BlockCommitted(1, VALS))
    assert core.height == 2
    assert core.votes.prevotes(0).power_for(A) == 1  # the buffered height-2 vote
    assert core.votes.prevotes(0).power_any() == 1  # the height-3 vote was dropped


def test_commit_received_with_bad_certificate_is_ignored():
    core, _ = make_core()
    core.handle(Start())
    from tianfu.types import CommitCertificate, CommitSig

    sigs = [sign_vote(k, CHAIN, 1, 0, PRECOMMIT, A, 1_000) for k in KEYS[:2]]  # only 2 of 4
    cert = CommitCertificate(
        1, CHAIN, 1, 0, A, [CommitSig(v.validator, v.time_ms, v.signature) for v in sigs]
    )
    core.handle(BlockExecuted(1, A, True))
    assert not of(core.handle(CommitReceived(BLOCK_A, cert)), CommitBlock)


def test_round_skip_on_f_plus_one_and_far_rounds_bounded():
    core, me = make_core()
    core.handle(Start())
    peers = others(me)
    far = MAX_FUTURE_ROUNDS + 5
    core.handle(vote(peers[0], PREVOTE, NO_HASH, round=far))
    assert core.round == 0
    assert all(r <= MAX_FUTURE_ROUNDS for r in core.votes.rounds())  # far round not stored
    acts = core.handle(vote(peers[1], PREVOTE, NO_HASH, round=far))
    assert core.round == far
    assert ScheduleTimeout(1, far, Step.PROPOSE, 1000 + far * 250) in acts


def test_our_turn_to_propose_builds_and_signs_proposal():
    me = proposer_key(1, 0)
    core = ConsensusCore(CHAIN, 1, VALS, me.public_key, params=PARAMS)
    acts = core.handle(Start())
    assert of(acts, CreateProposalBlock) == [CreateProposalBlock(1, 0)]
    acts = core.handle(ProposalBlockReady(1, 0, A, BLOCK_A))
    assert of(acts, SignProposal) == [SignProposal(1, 0, -1, A, BLOCK_A)]
    acts = core.handle(ProposalReceived(proposal(1, 0)))
    assert Broadcast(proposal(1, 0)) in acts
    assert SignVote(1, 0, PREVOTE, A) in acts  # own block counts as executed
    assert not of(acts, ExecuteBlock)


def test_non_validator_follows_without_signing():
    core = ConsensusCore(CHAIN, 1, VALS, None, params=PARAMS)
    acts = core.handle(Start())
    acts += core.handle(ProposalReceived(proposal(1, 0)))
    acts += core.handle(BlockExecuted(1, A, True))
    for k in KEYS[:3]:
        acts += core.handle(vote(k, PREVOTE, A))
    for k in KEYS[:3]:
        acts += core.handle(vote(k, PRECOMMIT, A))
    assert not of(acts, SignVote) and not of(acts, SignProposal)
    assert of(acts, CommitBlock)[0].block_hash == A


def test_proposer_rotation_is_weighted_and_deterministic():
    vals = ValidatorSet(
        [
            Validator(f"v{i}", "o", ED25519, KEYS[i].public_key, p)
            for i, p in enumerate([1, 2, 3, 4])
        ]
    )
    picks = Counter(weighted_round_robin(vals, h, 0) for h in range(1, 101))
    assert [picks[k.public_key] for k in KEYS] == [10, 20, 30, 40]
    seq = [weighted_round_robin(vals, 5, r) for r in range(10)]
    assert seq == [weighted_round_robin(vals, 5, r) for r in range(10)]
    assert all(seq[i] != seq[i + 1] for i in range(3))  # interleaved, not in a row


def test_proposal_encoding_and_validation():
    p = proposal(1, 2, pol_round=1)
    assert decode(encode(p), Proposal) == p
    assert verify_proposal(p, VALS)
    bad = Proposal(1, CHAIN, 1, 2, 2, p.block_hash, p.block, p.proposer, p.signature)
    with pytest.raises(CodecError):
        decode(encode(bad), Proposal)
    tampered = Proposal(1, CHAIN, 1, 2, 0, p.block_hash, p.block, p.proposer, p.signature)
    assert not verify_proposal(tampered, VALS)


def test_skip_to_round_moves_on_only_forward_and_only_at_this_height():
    from tianfu.consensus.messages import SkipToRound

    core, _ = make_core()
    core.handle(Start())
    assert core.handle(SkipToRound(2, 3)) == [] and core.round == 0  # another height
    acts = core.handle(SkipToRound(1, 3))
    assert core.round == 3 and ScheduleTimeout(1, 3, Step.PROPOSE, 1000 + 3 * 250) in acts
    assert core.handle(SkipToRound(1, 2)) == [] and core.round == 3  # never back


def test_each_action_gives_the_event_that_answers_it():
    """The answers the driver (and the simulator) feed back are built by the actions."""
    timeout = ScheduleTimeout(4, 2, Step.PREVOTE, 1500)
    assert timeout.fired() == TimeoutFired(4, 2, Step.PREVOTE)
    assert ExecuteBlock(4, 2, A, BLOCK_A).executed(False) == BlockExecuted(4, A, False)
    assert CreateProposalBlock(4, 1).ready(B, b"built") == ProposalBlockReady(4, 1, B, b"built")
    cert = CommitCertificate(1, CHAIN, 4, 0, A, [])
    assert CommitBlock(4, A, BLOCK_A, cert).committed(VALS) == BlockCommitted(4, VALS)


def _buffered_block_bytes(core):
    return sum(
        len(e.proposal.block)
        for events in core._future.values()
        for e in events
        if isinstance(e, ProposalReceived)
    )


def test_next_height_proposals_of_one_signer_hold_bounded_block_bytes(monkeypatch):
    """A validator signing many next-height proposals with big blocks (valid signatures,
    each block within MAX_BLOCK_BYTES) held MAX_BUFFER_PER_SIGNER blocks (36 x 16 MiB)
    until the height ended; now its buffered blocks are bounded by bytes."""
    import tianfu.consensus.core as core_mod

    monkeypatch.setattr(core_mod, "MAX_BUFFER_BLOCK_BYTES", 1 << 20, raising=False)
    core, me = make_core()
    core.handle(Start())
    bad = others(me)[0]
    for r in range(MAX_BUFFER_PER_SIGNER):
        block = r.to_bytes(4, "big") * (64 << 10)  # 256 KiB, a different block per round
        core.handle(ProposalReceived(proposal(2, r, block, key=bad)))
    assert 0 < _buffered_block_bytes(core) <= 1 << 20
    # another signer's next-height proposal still has its room
    good = next(k for k in others(me) if k.public_key != bad.public_key)
    core.handle(ProposalReceived(proposal(2, 0, BLOCK_A, key=good)))
    assert any(
        isinstance(e, ProposalReceived) and e.proposal.block == BLOCK_A
        for e in core._future[good.public_key]
    )


def test_next_height_resent_message_is_buffered_once():
    """A peer re-sends its next-height vote every gossip interval while we are behind: the
    copies filled its MAX_BUFFER_PER_SIGNER slots, so its later votes of that height were
    dropped; a copy of a buffered message is not buffered again."""
    core, me = make_core()
    core.handle(Start())
    peer = others(me)[0]
    for _ in range(MAX_BUFFER_PER_SIGNER):
        core.handle(vote(peer, PREVOTE, A, height=2))
    core.handle(vote(peer, PRECOMMIT, A, height=2))
    kinds = [e.vote.type for e in core._future[peer.public_key]]
    assert kinds == [PREVOTE, PRECOMMIT]


def test_an_equivocating_proposer_yields_one_small_evidence_per_round():
    """Every further proposal of a round's proposer for yet another block was evidence of
    its own, holding both proposals with their blocks: 300 signed proposals of one round
    (cheap: the block may even be empty) pushed the driver's 256 pending evidences out,
    double-vote evidence included, before the reporter saw them; with 16 MiB blocks that
    was 4 GiB. Now a round gives one such evidence, without the blocks (the signatures
    cover the block hashes only)."""
    core, _ = make_core()
    core.handle(Start())
    evidence = []
    for i in range(300):
        block = b"block %d " % i + bytes(1000)
        evidence += of(core.handle(ProposalReceived(proposal(1, 0, block))), RecordEvidence)
    assert len(evidence) == 1
    ev = evidence[0].evidence
    assert isinstance(ev, ConflictingProposalEvidence)
    assert ev.proposal_a.block == ev.proposal_b.block == b""
    assert ev.proposal_a.block_hash != ev.proposal_b.block_hash
    assert verify_proposal(ev.proposal_a, VALS) and verify_proposal(ev.proposal_b, VALS)
