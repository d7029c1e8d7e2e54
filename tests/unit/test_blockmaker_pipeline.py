"""Pipelined heights (ADR 0030): the block built ahead on a decided, not yet stored block.

`Ledger.build_on` gives exactly the block `build_block` gives once the parent is stored;
it refuses a parent that is not the stored one; `BlockMaker` takes the mempool's
transactions without those of the decided block and without changing the mempool, builds
ahead only a full block (the mempool holds more than it takes), uses a prepared block
only on the block it was built on, and otherwise builds afresh.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import msgspec
import pytest
from test_dynamic_params import tx_with_expiry
from test_governance_admission import Chain

from tianfu.consensus.blockmaker import BlockMaker, selection_after
from tianfu.consensus.clock import AsyncioTimers
from tianfu.consensus.ledgerwork import DriverTools, LedgerWork
from tianfu.consensus.messages import CreateProposalBlock
from tianfu.consensus.wal import ConsensusWAL
from tianfu.crypto import sign_vote, verify_commit
from tianfu.ledger import InvalidBlock
from tianfu.mempool import Mempool
from tianfu.types import PRECOMMIT, CommitCertificate, CommitSig, ConsensusParams

PROPOSER = b"\x01" * 32


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    c.block()
    yield c
    c.close()


def certify(chain, executed, vote_ms=None):
    """The commit certificate of `executed` signed by every validator of its height."""
    header = executed.block.header
    valset = chain.ledger.validator_set(header.height)
    vote_ms = vote_ms or header.time_ms + 1000
    sigs = []
    for v in valset.validators:
        vote = sign_vote(
            chain.keys[v.public_key],
            chain.genesis.chain_id,
            header.height,
            0,
            PRECOMMIT,
            header.hash,
            max(vote_ms, header.time_ms + 1),
        )
        sigs.append(CommitSig(vote.validator, vote.time_ms, vote.signature))
    cert = CommitCertificate(1, chain.genesis.chain_id, header.height, 0, header.hash, sigs)
    verify_commit(cert, header.hash, header.height, valset, chain.genesis.chain_id)
    return cert


def _user(chain, name="user"):
    return chain.cas["org2"].issue(name, "member")


def test_build_on_gives_the_block_build_block_gives_once_the_parent_is_stored(chain):
    ledger = chain.ledger
    user = _user(chain)
    expiry = ledger.height + 20
    propose = chain.tx(chain.admins["org1"], "propose_set_params", {"max_block_txs": 77})
    read = tx_with_expiry(chain, user, expiry, "list_orgs")
    parent = ledger.build_block([propose, read], PROPOSER)
    pid = parent.result.receipts[0].result
    cert = certify(chain, parent)
    # The next block votes on the parent's proposal (it reads the parent's writes), holds
    # a transaction of the parent again (a replay) and a new one.
    vote = chain.tx(chain.admins["org2"], "vote", pid, True)
    again = tx_with_expiry(chain, user, expiry, "list_orgs")
    candidates = [vote, read, again]
    ahead = ledger.build_on(parent, cert, candidates, PROPOSER)
    assert ledger.height == parent.block.header.height - 1  # nothing was stored

    ledger.commit(parent, cert)
    plain = ledger.build_block(candidates, PROPOSER)
    assert ahead.block.hash == plain.block.hash
    assert ahead.block == plain.block
    assert ahead.result.receipts == plain.result.receipts
    assert ahead.result.dropped == plain.result.dropped
    assert ahead.batch.root == plain.batch.root
    assert ahead.batch.new_nodes == plain.batch.new_nodes
    assert [t.hash for t in ahead.block.txs] == [vote.hash, again.hash]
    assert ahead.result.receipts[0].ok, ahead.result.receipts[0].error
    assert [h for h, _ in ahead.result.dropped] == [read.hash]  # already committed
    header = ahead.block.header
    assert header.prev_hash == parent.block.hash and header.last_commit == cert
    # Built again once the parent is stored: the same block.
    assert ledger.build_on(parent, cert, candidates, PROPOSER).block.hash == plain.block.hash
    # Another node executes and stores it like any block.
    chain.replica.commit(chain.replica.execute(parent.block), cert)
    ledger.commit(ahead, certify(chain, ahead))
    assert chain.replica.execute(ahead.block).batch.root == ahead.batch.root


def test_build_on_refuses_a_parent_that_is_not_the_stored_one(chain):
    ledger = chain.ledger
    user = _user(chain)
    expiry = ledger.height + 20
    a = ledger.build_block([tx_with_expiry(chain, user, expiry, "list_orgs")], PROPOSER)
    b = ledger.build_block([tx_with_expiry(chain, user, expiry, "list_orgs")], PROPOSER)
    assert a.block.hash != b.block.hash
    cert_a, cert_b = certify(chain, a), certify(chain, b)
    nxt = [tx_with_expiry(chain, user, expiry, "list_orgs")]
    with pytest.raises(InvalidBlock, match="certificate"):
        ledger.build_on(a, cert_b, nxt, PROPOSER)
    ledger.commit(b, cert_b)
    with pytest.raises(InvalidBlock, match="another block is stored"):
        ledger.build_on(a, cert_a, nxt, PROPOSER)
    c = ledger.build_block([], PROPOSER)
    ledger.commit(c, certify(chain, c))
    with pytest.raises(InvalidBlock, match="does not extend"):
        ledger.build_on(b, cert_b, nxt, PROPOSER)


def test_selection_after_is_the_take_of_the_mempool_without_the_decided_transactions(chain):
    user = _user(chain)
    txs = [tx_with_expiry(chain, user, 50, "list_orgs") for _ in range(12)]
    size = len(txs[0].encoded())
    decided = [txs[1], txs[4], txs[5], txs[11]]
    fulls = []
    for max_txs, max_bytes in (
        (3, 1 << 20),
        (7, 1 << 20),  # one of the 8 left waits
        (8, 1 << 20),  # the 8 left fit exactly
        (20, 1 << 20),
        (20, 5 * size + 1),
        (20, 8 * size),  # exactly, in bytes
    ):
        params = ConsensusParams(max_block_txs=max_txs, max_block_bytes=max_bytes)
        pool = Mempool()
        for t in txs:
            pool.add(t)
        got, full = selection_after(pool, params, decided)
        assert len(pool) == len(txs)  # unchanged
        pool.remove(t.hash for t in decided)
        assert got == pool.take(max_txs, max_bytes)
        assert full == (len(pool) > len(got))  # more waits than the block takes
        fulls.append(full)
    assert fulls == [True, True, False, False, True, False]
    # A decided transaction that is not in this mempool (it came from another node).
    pool = Mempool()
    for t in txs[:4]:
        pool.add(t)
    params = ConsensusParams(max_block_txs=3)
    assert selection_after(pool, params, [txs[11]]) == (txs[:3], True)
    assert selection_after(pool, params, [txs[11], txs[0]]) == (txs[1:4], False)


def _maker(chain, tmp_path, mempool):
    wal = ConsensusWAL(tmp_path / "cs.wal")
    work = LedgerWork(chain.ledger, mempool, wal, threading.Lock(), None)
    marks = []

    async def run_blocking(fn, *args):
        return await asyncio.to_thread(fn, *args)

    tools = DriverTools(AsyncioTimers(), Counter(), run_blocking, marks.append)
    return BlockMaker(mempool, work, tools), marks


def test_a_prepared_block_is_used_on_its_parent_and_discarded_on_another(chain, tmp_path):
    ledger = chain.ledger
    user = _user(chain)
    expiry = ledger.height + 20
    mempool = Mempool()
    x, y, z = (tx_with_expiry(chain, user, expiry, "list_orgs") for _ in range(3))
    stale = tx_with_expiry(chain, user, ledger.height + 1, "list_orgs")  # expires at h + 1
    u1, u2 = (tx_with_expiry(chain, user, expiry, "list_orgs") for _ in range(2))
    for t in (x, y, z, stale, u1, u2):
        mempool.add(t)
    a = ledger.build_block([x], PROPOSER)  # decided here ...
    b = ledger.build_block([y], PROPOSER)  # ... but this one is stored (e.g. by block sync)
    h = a.block.header.height
    # Blocks of 4: after a, 5 wait, so the block after a is full and built ahead.
    params = msgspec.structs.replace(ledger.params(h + 1), max_block_txs=4)
    maker, marks = _maker(chain, tmp_path, mempool)

    async def scenario(parent, stored, cert):
        lock = asyncio.Lock()
        before = [t.hash for t in mempool.take(100, 1 << 20)]
        assert maker.prepare(parent, cert, params, PROPOSER)
        assert not maker.prepare(parent, cert, params, PROPOSER)  # one at a time
        await asyncio.wait([maker.prepared.work])
        # A build ahead changes nothing in the mempool (not even what it drops).
        assert [t.hash for t in mempool.take(100, 1 << 20)] == before
        ledger.commit(stored, certify(chain, stored))
        return await maker.build(
            CreateProposalBlock(h + 1, 0),
            params,
            PROPOSER,
            lock,
            lambda: h + 1,
            idle_until=0.0,
            stopping=lambda: False,
        )

    ready = asyncio.run(scenario(a, b, certify(chain, a)))
    assert maker.stats["prepared"] == 1 and maker.stats["prepared_discarded"] == 1
    assert maker.stats["prepared_used"] == 0
    built = maker.executed[ready.block_hash].block
    assert built.header.prev_hash == b.block.hash  # built afresh on the stored block
    # x was in the discarded parent only: it is not lost, the fresh build holds it.
    assert [t.hash for t in built.txs] == [x.hash, z.hash]
    assert mempool.get(stale.hash) is None  # dropped when the (fresh) build was used

    # Next height, on the parent that is stored: the prepared block is used as built.
    nxt = maker.executed[ready.block_hash]
    maker.executed.clear()
    mempool.remove(t.hash for t in b.block.txs)
    w = [tx_with_expiry(chain, user, expiry, "list_orgs") for _ in range(3)]
    for t in w:
        mempool.add(t)  # 5 wait after nxt: full again
    h += 1
    params = msgspec.structs.replace(ledger.params(h + 1), max_block_txs=4)
    ready2 = asyncio.run(scenario(nxt, nxt, certify(chain, nxt)))
    assert maker.stats["prepared_used"] == 1
    used = maker.executed[ready2.block_hash].block
    assert used.header.prev_hash == nxt.block.hash
    # Not those of the block below; the block is full, w[2] waits.
    assert [t.hash for t in used.txs] == [u1.hash, u2.hash, w[0].hash, w[1].hash]
    assert marks.count("prepare") == 2 and "build" in marks and "built" in marks


def test_a_block_with_room_is_not_built_ahead_and_takes_what_arrives(chain, tmp_path):
    """Below a full block the build waits for the height: a transaction arriving after
    the decision joins the next block (built ahead, it would wait one more height)."""
    ledger = chain.ledger
    user = _user(chain)
    expiry = ledger.height + 20
    mempool = Mempool()
    x, y, late = (tx_with_expiry(chain, user, expiry, "list_orgs") for _ in range(3))
    for t in (x, y):
        mempool.add(t)
    a = ledger.build_block([x], PROPOSER)
    h = a.block.header.height
    params = msgspec.structs.replace(ledger.params(h + 1), max_block_txs=4)
    maker, marks = _maker(chain, tmp_path, mempool)
    cert = certify(chain, a)

    async def scenario():
        assert not maker.prepare(a, cert, params, PROPOSER)  # y alone: room for 3 more
        assert maker.prepared is None and "prepare" not in marks
        ledger.commit(a, cert)
        mempool.remove([x.hash])
        mempool.add(late)  # arrives after the decision, before the proposal
        return await maker.build(
            CreateProposalBlock(h + 1, 0),
            params,
            PROPOSER,
            asyncio.Lock(),
            lambda: h + 1,
            idle_until=0.0,
            stopping=lambda: False,
        )

    ready = asyncio.run(scenario())
    assert maker.stats["prepared"] == 0 and maker.stats["prepare_not_full"] == 1
    built = maker.executed[ready.block_hash].block
    assert built.header.prev_hash == a.block.hash
    assert [t.hash for t in built.txs] == [y.hash, late.hash]


def test_a_store_read_failing_when_a_prepared_block_is_checked_builds_afresh(chain, tmp_path):
    """`build` reads the header below the height to tell whether the prepared block is on
    it; that read failing on the host (the store locked) escaped `build` (the proposal task
    died with the exception, no proposal, nothing in the node's health). The prepared
    block is discarded and the block built afresh."""
    from tianfu.store import StoreBusy

    ledger = chain.ledger
    user = _user(chain)
    expiry = ledger.height + 20
    mempool = Mempool()
    txs = [tx_with_expiry(chain, user, expiry, "list_orgs") for _ in range(6)]
    for t in txs:
        mempool.add(t)
    a = ledger.build_block([txs[0]], PROPOSER)
    h = a.block.header.height
    params = msgspec.structs.replace(ledger.params(h + 1), max_block_txs=4)
    maker, _ = _maker(chain, tmp_path, mempool)
    real = ledger.store.load_header
    failed: list[int] = []

    def locked_once(height):
        if not failed:
            failed.append(height)
            raise StoreBusy("read failed: database is locked")
        return real(height)

    async def scenario():
        cert = certify(chain, a)
        assert maker.prepare(a, cert, params, PROPOSER)
        await asyncio.wait([maker.prepared.work])
        ledger.commit(a, cert)
        mempool.remove([txs[0].hash])
        ledger.store.load_header = locked_once
        return await maker.build(
            CreateProposalBlock(h + 1, 0),
            params,
            PROPOSER,
            asyncio.Lock(),
            lambda: h + 1,
            idle_until=0.0,
            stopping=lambda: False,
        )

    ready = asyncio.run(scenario())
    assert failed == [h]
    assert maker.stats["prepared_discarded"] == 1 and maker.stats["prepared_used"] == 0
    built = maker.executed[ready.block_hash].block
    assert built.header.prev_hash == a.block.hash
    assert [t.hash for t in built.txs] == [t.hash for t in txs[1:5]]
