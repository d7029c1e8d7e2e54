"""A proposal's signature covers its block's hash, not its bytes: any peer can relay a
validly signed proposal (or a certificate) with no bytes or other bytes. Such bytes say
nothing of the block: they are answered `BlockBytesWrong`, forgotten, and the next copy's
bytes are executed. Before, they were executed as the block and its hash marked invalid
for the whole height: a byzantine validator sending one honest node a proposal without
its bytes, and prevoting the block, made the other honest nodes lock on a block that node
could never vote for or commit (the chain halted)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import msgspec
import pytest
from test_blockmaker_pipeline import _user
from test_consensus_core import (
    BLOCK_A,
    CHAIN,
    A,
    feed_own,
    make_core,
    of,
    others,
    proposal,
    vote,
)
from test_dynamic_params import tx_with_expiry
from test_governance_admission import Chain

from tianfu.codec import encode
from tianfu.consensus.blockmaker import BlockMaker
from tianfu.consensus.clock import AsyncioTimers
from tianfu.consensus.ledgerwork import DriverTools, LedgerWork
from tianfu.consensus.messages import (
    BlockBytesWrong,
    BlockExecuted,
    CommitBlock,
    CommitReceived,
    ExecuteBlock,
    Proposal,
    ProposalReceived,
    SignVote,
    Start,
    Step,
    TimeoutFired,
)
from tianfu.consensus.peers import KIND_PROPOSAL, PeerGossip
from tianfu.consensus.wal import ConsensusWAL
from tianfu.mempool import Mempool
from tianfu.types import NO_HASH, PRECOMMIT, PREVOTE, Block, CommitCertificate, CommitSig

# ------------------------------------------------------------------ the core


def stripped(p, block=b""):
    return msgspec.structs.replace(p, block=block)


def test_a_proposal_without_its_bytes_is_not_executed_and_its_block_stays_votable():
    core, me = make_core()
    core.handle(Start())
    p = proposal(1, 0)
    acts = core.handle(ProposalReceived(stripped(p)))  # a peer's copy, first
    assert of(acts, ExecuteBlock) == []  # no bytes: nothing to execute, nothing judged
    acts = core.handle(ProposalReceived(p))  # the proposer's
    assert of(acts, ExecuteBlock) == [ExecuteBlock(1, 0, A, BLOCK_A)]
    acts = core.handle(BlockExecuted(1, A, True))
    assert of(acts, SignVote) == [SignVote(1, 0, PREVOTE, A)]
    assert core.round_messages()[0] == p  # the copy with the bytes is relayed


def test_wrong_bytes_are_forgotten_and_the_next_copy_decides():
    """Other bytes under the proposer's signature: the execution answers BlockBytesWrong,
    the bytes are dropped (not relayed), and the proposer's copy is executed, voted for
    and committed once the others precommit it."""
    core, me = make_core()
    core.handle(Start())
    p = proposal(1, 0)
    acts = core.handle(ProposalReceived(stripped(p, b"junk")))
    assert of(acts, ExecuteBlock) == [ExecuteBlock(1, 0, A, b"junk")]
    core.handle(ProposalReceived(p))  # arrives while the junk is executed: not taken
    assert of(core.handle(TimeoutFired(1, 0, Step.PROPOSE)), SignVote) == []  # waits
    acts = core.handle(BlockBytesWrong(1, A))
    assert of(acts, SignVote) == [SignVote(1, 0, PREVOTE, NO_HASH)]  # the round's timeout
    feed_own(core, me, acts)
    assert [m.block for m in core.round_messages() if isinstance(m, Proposal)] == [b""]
    core.handle(ProposalReceived(p))  # a later copy: its bytes are kept
    assert core.blocks[A] == BLOCK_A
    acts = [a for k in others(me) for a in core.handle(vote(k, PRECOMMIT, A))]
    assert of(acts, ExecuteBlock) == [ExecuteBlock(1, 0, A, BLOCK_A)]
    acts = core.handle(BlockExecuted(1, A, True))
    assert [c.block for c in of(acts, CommitBlock)] == [BLOCK_A]


def test_wrong_bytes_of_a_certificate_do_not_keep_the_height_from_being_decided():
    core, me = make_core()
    core.handle(Start())
    sigs = []
    for k in others(me):
        v = vote(k, PRECOMMIT, A).vote
        sigs.append(CommitSig(v.validator, v.time_ms, v.signature))
    cert = CommitCertificate(1, CHAIN, 1, 0, A, sigs)
    acts = core.handle(CommitReceived(b"junk", cert))
    assert of(acts, ExecuteBlock) == [ExecuteBlock(1, 0, A, b"junk")]
    assert of(core.handle(BlockBytesWrong(1, A)), CommitBlock) == []
    acts = core.handle(CommitReceived(BLOCK_A, cert))  # the same certificate, its block
    assert of(acts, ExecuteBlock) == [ExecuteBlock(1, 0, A, BLOCK_A)]
    acts = core.handle(BlockExecuted(1, A, True))
    assert [c.block_hash for c in of(acts, CommitBlock)] == [A]


def test_an_executed_blocks_bytes_are_not_replaced_nor_judged_again():
    core, me = make_core()
    core.handle(Start())
    p = proposal(1, 0)
    core.handle(ProposalReceived(p))
    core.handle(BlockExecuted(1, A, True))
    core.handle(BlockBytesWrong(1, A))  # (a late answer for other bytes): ignored
    core.handle(ProposalReceived(stripped(p, b"junk")))
    assert core.blocks[A] == BLOCK_A and core.executed[A] is True


# ------------------------------------------------------------------ gossip


class _Host:
    def __init__(self, core):
        self.core, self.delivered = core, []

    def consensus(self):
        return self.core

    def sign_guard(self):
        return None

    def height_started(self):
        return 0.0

    def deliver(self, event):
        self.delivered.append(event)
        self.core.handle(event)
        return True


class _Clock:
    def now(self):
        return 0.0


class _Net:
    def broadcast(self, kind, payload):
        pass

    def send(self, address, kind, payload):
        pass


def test_gossip_decodes_copies_of_a_proposal_again_once_its_bytes_were_wrong():
    core, me = make_core()
    core.handle(Start())
    host = _Host(core)
    gossip = PeerGossip(host, _Net(), CHAIN, me.public_key, timers=_Clock(), stats=Counter())
    p = proposal(1, 0)
    gossip.handle_frame("bad", KIND_PROPOSAL, encode(stripped(p, b"junk")))
    gossip.handle_frame("good", KIND_PROPOSAL, encode(p))
    assert len(host.delivered) == 1  # a copy of a held proposal: dropped undecoded
    core.handle(BlockBytesWrong(1, A))
    gossip.release(A)
    gossip.handle_frame("good", KIND_PROPOSAL, encode(p))
    assert [e.proposal for e in host.delivered[1:]] == [p]
    assert core.blocks[A] == BLOCK_A


# ------------------------------------------------------------------ the block maker


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    c.block()
    yield c
    c.close()


def _execute(chain, tmp_path, a):
    """BlockMaker.execute on the replica (a validator that did not build the block)."""
    mempool = Mempool()
    work = LedgerWork(
        chain.replica, mempool, ConsensusWAL(tmp_path / "cs.wal"), threading.Lock(), None
    )

    async def run_blocking(fn, *args):
        return await asyncio.to_thread(fn, *args)

    tools = DriverTools(AsyncioTimers(), Counter(), run_blocking, lambda _p: None)
    maker = BlockMaker(mempool, work, tools)

    async def go():
        return await maker.execute(a, asyncio.Lock(), lambda: a.height)

    return asyncio.run(go())


def test_bytes_that_are_not_the_block_are_answered_as_such_not_as_an_invalid_block(chain, tmp_path):
    user = _user(chain)
    expiry = chain.ledger.height + 20
    txs = [tx_with_expiry(chain, user, expiry, "list_orgs") for _ in range(3)]
    built = chain.ledger.build_block(txs, b"\x01" * 32)
    block = built.block
    h, height = block.hash, block.header.height
    other = tx_with_expiry(chain, user, expiry, "list_orgs")
    wrong = {
        "none": b"",
        "not a block": b"junk",
        "another block": encode(chain.ledger.build_block(txs[:1], b"\x01" * 32).block),
        "a transaction less": encode(Block(block.header, block.txs[:2])),
        "another transaction": encode(Block(block.header, [*block.txs[:2], other])),
    }
    for name, data in wrong.items():
        got = _execute(chain, tmp_path, ExecuteBlock(height, 0, h, data))
        assert got == BlockBytesWrong(height, h), name
    bad_header = msgspec.structs.replace(block.header, state_root=b"\x00" * 32)
    invalid = Block(bad_header, block.txs)
    got = _execute(chain, tmp_path, ExecuteBlock(height, 0, invalid.hash, encode(invalid)))
    assert got == BlockExecuted(height, invalid.hash, False)  # a block, invalid
    got = _execute(chain, tmp_path, ExecuteBlock(height, 0, h, encode(block)))
    assert got == BlockExecuted(height, h, True)
