"""Bytes relayed with a signed proposal or certificate are checked against its block hash
before they are held (`BlockBytesLedger.is_block_of`: header hash, `tx_count`, `tx_root`).
Before, the first copy's bytes were held whatever they were: while junk bytes were being
executed an honest copy was dropped (gossip held the proposal after the junk copy and did
not decode further copies), and the junk copy went to the WAL, so after a restart the
replay held the junk bytes, marked the block executed (the honest copy's answer) and the
node committed the junk: storing it failed and the node stopped signing."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from test_governance_admission import Chain

from tianfu.codec import encode, encode_list
from tianfu.consensus.core import weighted_round_robin
from tianfu.consensus.driver import ConsensusDriver
from tianfu.consensus.messages import sign_proposal
from tianfu.consensus.peers import KIND_COMMIT, KIND_PROPOSAL, KIND_VOTE
from tianfu.consensus.wal import ConsensusWAL, WalProposal
from tianfu.crypto import sign_vote
from tianfu.testing.sim import SIM_PARAMS, sim_key
from tianfu.testing.simchain import (
    CHAIN_ID,
    GENESIS_HASH,
    SimLedger,
    SimMempool,
    SimRules,
    SimTimers,
    VirtualLoop,
    make_block,
)
from tianfu.types import PRECOMMIT, Block, Validator, ValidatorSet

KEYS = [sim_key(i) for i in range(4)]
VALIDATORS = ValidatorSet(
    [Validator(f"v{i}", f"o{i}", k.scheme, k.public_key, 1) for i, k in enumerate(KEYS)]
)
PROPOSER = next(k for k in KEYS if k.public_key == weighted_round_robin(VALIDATORS, 1, 0))
H, BLOCK = make_block(1, PROPOSER.public_key, VALIDATORS, GENESIS_HASH, None)
OTHER = make_block(
    1,
    KEYS[0].public_key if PROPOSER is not KEYS[0] else KEYS[1].public_key,
    VALIDATORS,
    GENESIS_HASH,
    None,
)[1]
PROPOSAL = sign_proposal(PROPOSER, CHAIN_ID, 1, 0, -1, H, BLOCK)
JUNK = {
    "not a block": b"junk",
    "another block": OTHER,
    "the block and a transaction more": b"\x92" + BLOCK[1:-1] + b"\x91\xc4\x01x",
}


def precommits():
    return [sign_vote(k, CHAIN_ID, 1, 0, PRECOMMIT, H, 1) for k in KEYS if k is not PROPOSER]


class Net:
    def broadcast(self, kind: int, payload: bytes) -> None:
        pass

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        pass


def run(wal_path, frames, until, deadline_s=30.0, together=False):
    """Start a validator-less driver on a fresh `SimLedger` and the WAL at `wal_path`,
    hand it `frames` (peer, kind, payload) one by one, each once the driver has taken the
    one before (all at once if `together`), and run (virtual time) until `until(driver)`
    or the deadline."""
    ledger = SimLedger(SimRules(VALIDATORS, SIM_PARAMS), lambda h, r: None)
    wal = ConsensusWAL(wal_path)
    driver = ConsensusDriver(ledger, SimMempool(), None, wal, Net(), timers=SimTimers())

    async def go() -> bool:
        await driver.start()
        for peer, kind, payload in frames:
            driver.handle_frame(peer, kind, payload)
            for _ in range(0 if together else 100):  # let the consumer and any execution run
                await asyncio.sleep(0.001)
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        while loop.time() < end and not until(driver):
            await asyncio.sleep(0.01)
        return until(driver)

    loop = VirtualLoop()
    try:
        ok = loop.run_until_complete(go())
        loop.run_until_complete(driver.stop())
    finally:
        loop.close()
        wal.close()
    return ok, driver, ledger


def junk_copy(data):
    return encode(msgspec.structs.replace(PROPOSAL, block=data))


@pytest.mark.parametrize("name", sorted(JUNK))
def test_an_honest_copy_arriving_after_junk_bytes_is_taken_at_once(tmp_path, name):
    frames = [
        ("bad", KIND_PROPOSAL, junk_copy(JUNK[name])),
        ("good", KIND_PROPOSAL, encode(PROPOSAL)),
    ]
    executed = lambda d: d.core.executed.get(H) is True  # noqa: E731
    ok, driver, _ = run(tmp_path / "cs.wal", frames, executed, together=True)
    assert ok, (driver.core.blocks.get(H), dict(driver.stats))
    assert driver.core.blocks[H] == BLOCK
    assert driver.stats["proposal_bytes_wrong"] == 1


def test_after_a_restart_the_replayed_proposals_commit_the_real_bytes(tmp_path):
    wal = tmp_path / "cs.wal"
    resent = ("good", KIND_PROPOSAL, encode(PROPOSAL))  # the proposer re-sends it
    frames = [("bad", KIND_PROPOSAL, junk_copy(b"junk")), resent, resent]
    ok, _, _ = run(wal, frames, lambda d: d.core.executed.get(H) is True)
    assert ok
    logged = [
        e.proposal.block for e in ConsensusWAL(wal).all_entries() if isinstance(e, WalProposal)
    ]
    votes = [("good", KIND_VOTE, encode(v)) for v in precommits()]
    ok, driver, ledger = run(wal, votes, lambda d: d.ledger.height >= 1)
    assert ok, (driver.halted, dict(driver.stats))
    assert ledger.load_block_encoded(1) == BLOCK
    assert b"junk" not in logged


def test_a_commit_frame_with_junk_bytes_leaves_room_for_the_real_ones(tmp_path):
    from tianfu.consensus.peers import CommitFrame
    from tianfu.types import CommitCertificate, CommitSig

    sigs = [CommitSig(v.validator, v.time_ms, v.signature) for v in precommits()]
    cert = CommitCertificate(1, CHAIN_ID, 1, 0, H, sigs)
    frames = [
        ("bad", KIND_COMMIT, encode(CommitFrame(1, 1, b"junk", cert))),
        ("good", KIND_COMMIT, encode(CommitFrame(1, 1, BLOCK, cert))),
    ]
    stored = lambda d: d.ledger.height >= 1  # noqa: E731
    ok, driver, ledger = run(tmp_path / "cs.wal", frames, stored, together=True)
    assert ok and ledger.load_block_encoded(1) == BLOCK


# ------------------------------------------------------------------ the real ledger's check


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    c.block()
    yield c
    c.close()


def test_the_ledger_tells_a_blocks_bytes_from_any_others(chain):
    from test_blockmaker_pipeline import _user
    from test_dynamic_params import tx_with_expiry

    from tianfu.ledger.blockbytes import is_block_of

    user = _user(chain)
    expiry = chain.ledger.height + 20
    txs = [tx_with_expiry(chain, user, expiry, "list_orgs") for _ in range(3)]
    block = chain.ledger.build_block(txs, b"\x01" * 32).block
    data, h = encode(block), block.hash
    assert is_block_of(h, data) and chain.ledger.is_block_of(h, data)
    other = tx_with_expiry(chain, user, expiry, "list_orgs")
    raws = [t.encoded() for t in block.txs]
    wrong = {
        "none": b"",
        "not a block": b"junk",
        "another block": encode(chain.ledger.build_block(txs[:1], b"\x01" * 32).block),
        "a transaction less": encode(Block(block.header, block.txs[:2])),
        "another transaction": encode(Block(block.header, [*block.txs[:2], other])),
        "transactions reordered": encode(Block(block.header, block.txs[::-1])),
        "trailing bytes": data + b"\x00",
        "not canonical": b"\xdc\x00\x02" + encode(block.header) + encode_list(raws),
    }
    for name, junk in wrong.items():
        assert not is_block_of(h, junk), name
        assert not chain.ledger.is_block_of(h, junk), name


# ------------------------------------------------------------------ the core with a check


def test_next_height_junk_copies_do_not_crowd_out_the_proposal_with_its_block():
    """A peer relaying the next height's proposal with ever other bytes filled its
    signer's buffer (copies with other bytes are other messages): the copy with the block
    found no room. Bytes that are not the block are stripped on buffering: one copy."""
    from test_consensus_core import BLOCK_A, A, feed_own, make_core, others, proposal
    from test_consensus_core import vote as core_vote

    from tianfu.consensus.core import MAX_BUFFER_PER_SIGNER, ConsensusCore
    from tianfu.consensus.messages import (
        BlockCommitted,
        BlockExecuted,
        ExecuteBlock,
        ProposalReceived,
        Start,
    )
    from tianfu.testing.sim import block_hash

    core, me = make_core()
    core = ConsensusCore(
        core.chain_id,
        1,
        core.validators,
        me.public_key,
        params=core.params,
        bytes_check=lambda h, b: block_hash(b) == h,
    )
    core.handle(Start())
    p = proposal(2, 0)
    for i in range(MAX_BUFFER_PER_SIGNER + 1):
        core.handle(ProposalReceived(msgspec.structs.replace(p, block=b"junk %d" % i)))
    core.handle(ProposalReceived(p))
    core.handle(ProposalReceived(proposal(1, 0)))
    core.handle(BlockExecuted(1, A, True))
    acts = [a for k in others(me) for a in core.handle(core_vote(k, PRECOMMIT, A))]
    feed_own(core, me, acts)
    acts = core.handle(BlockCommitted(1, core.validators))
    assert [a for a in acts if isinstance(a, ExecuteBlock)] == [ExecuteBlock(2, 0, A, BLOCK_A)]


# ------------------------------------------------------------------ a long stall


def test_a_long_stall_holds_a_bounded_number_of_blocks_and_the_locked_one():
    """Every round's proposer proposes a block of its own; the core held the proposals of
    every round with their blocks until the height ended (a stall of R rounds: R blocks,
    up to 16 MiB each). Now the blocks of rounds before round - KEEP_ROUNDS are forgotten,
    but for the locked / valid block, which a later proposal naming its POL round
    re-proposes: such a proposal, even relayed without its block, is still prevoted."""
    from test_consensus_core import feed_own, make_core, others, proposal, vote

    from tianfu.consensus.core import KEEP_ROUNDS
    from tianfu.consensus.messages import (
        BlockExecuted,
        ProposalReceived,
        SignVote,
        SkipToRound,
        Start,
    )
    from tianfu.testing.sim import block_hash
    from tianfu.types import PREVOTE

    core, me = make_core()
    core.handle(Start())
    size, rounds, locked_round = 64 << 10, 40, 2
    blocks = [r.to_bytes(4, "big") * (size // 4) for r in range(rounds + 1)]
    for r in range(rounds):
        if r:
            feed_own(core, me, core.handle(SkipToRound(1, r)))
        p = proposal(1, r, blocks[r])
        if p.proposer == me.public_key:
            continue  # (our own rounds: nothing proposed in this test)
        acts = core.handle(ProposalReceived(p))
        if r <= locked_round:
            acts += core.handle(BlockExecuted(1, block_hash(blocks[r]), True))
        acts = feed_own(core, me, acts)
        if r == locked_round:  # the others prevote it: we lock on it
            for k in others(me):
                feed_own(core, me, core.handle(vote(k, PREVOTE, p.block_hash, round=r)))
    locked = block_hash(blocks[locked_round])
    assert core.locked_value == locked
    held = {id(b): len(b) for b in core.blocks.values() if b}
    held.update({id(q.block): len(q.block) for ps in core.proposals.values() for q in ps})
    held.pop(id(b""), None)
    assert sum(held.values()) <= (2 * (KEEP_ROUNDS + 1) + 1) * size  # was `rounds` blocks
    assert core.blocks[locked] == blocks[locked_round]
    r = rounds
    feed_own(core, me, core.handle(SkipToRound(1, r)))
    p = proposal(1, r, blocks[locked_round], pol_round=locked_round)
    if p.proposer == me.public_key:
        r += 1
        feed_own(core, me, core.handle(SkipToRound(1, r)))
        p = proposal(1, r, blocks[locked_round], pol_round=locked_round)
    acts = core.handle(ProposalReceived(msgspec.structs.replace(p, block=b"")))
    assert SignVote(1, r, PREVOTE, locked) in acts
