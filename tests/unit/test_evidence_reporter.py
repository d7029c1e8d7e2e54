"""Unit tests: the node's EvidenceReporter submits each double sign the driver saw once,
through the node service, and governance records it."""

import asyncio
import time

import pytest
from test_governance_admission import Chain

from tianfu.codec import encode
from tianfu.consensus.messages import ConflictingProposalEvidence, DuplicateVoteEvidence
from tianfu.crypto import sign_vote
from tianfu.mempool import Mempool
from tianfu.node.evidence import EvidenceReporter
from tianfu.node.service import NodeService
from tianfu.types import PRECOMMIT, PREVOTE, Vote


class Node:
    """A NodeService over the test chain's ledger; `commit()` puts its mempool in a block."""

    def __init__(self, chain):
        self.chain = chain
        self.mempool = Mempool()
        self.service = NodeService(
            chain.ledger, self.mempool, node_name="n", org="org2", is_validator=True
        )
        self.identity = chain.cas["org2"].issue("org2-reporter", "node")

    def commit(self):
        txs = self.mempool.take(100, 1 << 20)
        receipts = self.chain.block(txs)
        self.mempool.remove([t.hash for t in txs])
        return receipts


@pytest.fixture
def node(tmp_path):
    chain = Chain(tmp_path)
    chain.block()
    yield Node(chain)
    chain.close()


def double_sign(chain, validator, height, round_=0, typ=PREVOTE):
    key = chain.keys[validator.public_key]
    t = 1_000 if typ == PRECOMMIT else 0  # (a precommit of a block carries a time)
    a = sign_vote(key, chain.genesis.chain_id, height, round_, typ, b"\xaa" * 32, t)
    b = sign_vote(key, chain.genesis.chain_id, height, round_, typ, b"\xbb" * 32, t)
    return DuplicateVoteEvidence(a, b)


def test_submits_once_and_governance_records_it(node):
    chain = node.chain
    offender = chain.genesis.validators[2]
    ev = double_sign(chain, offender, 2)
    swapped = DuplicateVoteEvidence(ev.vote_b, ev.vote_a)
    other = object()  # anything that is not vote evidence is skipped
    pending = [ev, swapped, other]
    reporter = EvidenceReporter(node.identity, node.service, lambda: list(pending))

    assert asyncio.run(reporter.report_once()) == 1
    assert len(node.mempool) == 1
    (tx,) = list(node.mempool.take(10, 1 << 20))
    node.mempool.add(tx)
    assert tx.body.method == "submit_evidence" and tx.body.cert == node.identity.cert_der
    assert asyncio.run(reporter.report_once()) == 0  # in flight: not sent again
    (receipt,) = node.commit()
    assert receipt.ok, receipt.error
    assert receipt.result["validator"] == offender.name
    record = chain.query("get_evidence", offender.name, 2, 0, PREVOTE)
    assert record["submitted_by"] == node.identity.info.address
    assert sorted(record["votes"]) == record["votes"]
    for _ in range(3):
        assert asyncio.run(reporter.report_once()) == 0
    assert len(node.mempool) == 0 and reporter.stats["submitted"] == 1

    # A second double sign: the identity is registered now, so no certificate is sent.
    pending.append(double_sign(chain, offender, 3, 1, PRECOMMIT))
    assert asyncio.run(reporter.report_once()) == 1
    (tx2,) = node.mempool.take(10, 1 << 20)
    node.mempool.add(tx2)
    assert tx2.body.cert == b""
    assert node.commit()[0].ok
    assert chain.query("get_evidence", offender.name, 3, 1, PRECOMMIT) is not None
    assert asyncio.run(reporter.report_once()) == 0


def test_skips_evidence_already_on_chain(node):
    chain = node.chain
    offender = chain.genesis.validators[0]
    ev = double_sign(chain, offender, 1)
    assert chain.ok(chain.admins["org1"], "submit_evidence", encode(ev.vote_a), encode(ev.vote_b))
    reporter = EvidenceReporter(node.identity, node.service, lambda: [ev])
    assert asyncio.run(reporter.report_once()) == 0
    assert len(node.mempool) == 0


def test_resubmits_after_expiry_and_gives_up_when_refused(node):
    chain = node.chain
    offender = chain.genesis.validators[1]
    ev = double_sign(chain, offender, 1)
    reporter = EvidenceReporter(node.identity, node.service, lambda: [ev], expiry_blocks=2)
    assert asyncio.run(reporter.report_once()) == 1
    node.mempool.take(10, 1 << 20)  # lost: never makes it into a block
    for _ in range(3):
        chain.block()
    assert asyncio.run(reporter.report_once()) == 1  # expired unseen: sent again
    assert node.commit()[0].ok
    assert chain.query("get_evidence", offender.name, 1, 0, PREVOTE) is not None

    # A pair the contract refuses (a forged signature): it commits as failed, then the
    # reporter stops sending it.
    good = double_sign(chain, offender, 2)
    forged = DuplicateVoteEvidence(
        good.vote_a,
        Vote(
            1,
            chain.genesis.chain_id,
            2,
            0,
            PREVOTE,
            b"\xcc" * 32,
            0,
            offender.public_key,
            b"\x01" * 64,
        ),
    )
    refused = EvidenceReporter(node.identity, node.service, lambda: [forged])
    assert asyncio.run(refused.report_once()) == 1
    (receipt,) = node.commit()
    assert not receipt.ok and "signature" in receipt.error
    assert asyncio.run(refused.report_once()) == 0
    assert refused.stats["refused"] == 1
    assert asyncio.run(refused.report_once()) == 0 and len(node.mempool) == 0


def test_conflicting_proposals_and_unknown_heights_are_skipped(node):
    chain = node.chain
    far = double_sign(chain, chain.genesis.validators[0], chain.ledger.height + 10)
    reporter = EvidenceReporter(
        node.identity, node.service, lambda: [far, ConflictingProposalEvidence(None, None)]
    )
    assert asyncio.run(reporter.report_once()) == 0
    assert len(node.mempool) == 0


def test_run_loop_reports_periodically_and_stops_on_cancel(node):
    chain = node.chain
    ev = double_sign(chain, chain.genesis.validators[3], 1)
    passes: list[int] = []

    def pending():
        passes.append(len(passes))
        return [ev]

    reporter = EvidenceReporter(node.identity, node.service, pending, interval_s=0.01)

    async def until(pred, what: str) -> None:
        deadline = time.monotonic() + 60
        while not pred():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)

    async def main():
        task = asyncio.create_task(reporter.run())
        await until(lambda: len(node.mempool), "the evidence transaction")
        seen = len(passes)
        await until(lambda: len(passes) >= seen + 3, "three more passes")  # still one tx
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(node.mempool) == 1 and reporter.stats["submitted"] == 1


def test_bounded_memory(node):
    chain = node.chain
    evs = [double_sign(chain, v, 1, r) for v in chain.genesis.validators for r in range(2)]
    for ev in evs:
        chain.ok(chain.admins["org1"], "submit_evidence", encode(ev.vote_a), encode(ev.vote_b))
    reporter = EvidenceReporter(node.identity, node.service, lambda: evs, max_remembered=3)
    assert asyncio.run(reporter.report_once()) == 0
    assert len(reporter._done) == 3


def test_a_full_evidence_book_is_looked_up_once_not_every_pass(node):
    """The driver's book keeps up to 2,048 evidences (a Byzantine member validator, not
    removed when `slash_double_sign` is off, adds one a height). The reporter remembered
    1,024 as done: each pass forgot the oldest before reaching the newest and asked
    governance again about every entry — 2,048 state queries a second on the event loop,
    for good. Now a second pass asks nothing."""
    from tianfu.consensus.evidencebook import CAPACITY, EvidenceBook

    chain = node.chain
    offender = chain.genesis.validators[2]
    book = EvidenceBook()
    for height in range(1, CAPACITY + 1):
        assert book.add(double_sign(chain, offender, height))
    assert len(book) == CAPACITY
    queries = []
    genesis_set = chain.ledger.validator_set(1)

    class Ledger:  # the chain is short: every evidence's height has the genesis set
        @staticmethod
        def validator_set(height):
            return genesis_set

    class Recorded:  # the node's service, with every evidence found recorded on chain
        ledger, chain_id = Ledger(), node.service.chain_id

        def query(self, contract, method, args):
            queries.append(method)
            return {"validator": offender.name}

    service = Recorded()
    reporter = EvidenceReporter(node.identity, service, book.pending)
    assert asyncio.run(reporter.report_once()) == 0
    assert len(queries) == CAPACITY
    queries.clear()
    for _ in range(2):
        assert asyncio.run(reporter.report_once()) == 0
    assert queries == []


def test_evidence_the_mempool_has_no_room_for_is_sent_again_not_given_up(node):
    """A full mempool (load, or a peer filling it) refuses the evidence transaction with
    `TxBusy` ("the same transaction may be sent again later"): the reporter took it as a
    refusal, remembered the evidence as done and never sent it again, so the double sign
    was never recorded. Now the pass stops there and the next one sends it again."""
    chain = node.chain
    offender = chain.genesis.validators[1]
    evs = [double_sign(chain, offender, 1), double_sign(chain, offender, 2)]
    full = node.mempool.max_txs
    node.mempool.max_txs = 0  # no room for anything
    reporter = EvidenceReporter(node.identity, node.service, lambda: evs)
    assert asyncio.run(reporter.report_once()) == 0
    assert reporter.stats["rejected"] == 0 and reporter.stats["busy"] == 1
    node.mempool.max_txs = full  # room again
    assert asyncio.run(reporter.report_once()) == 2
    node.commit()
    for ev in evs:
        assert chain.query("get_evidence", offender.name, ev.vote_a.height, 0, PREVOTE)


@pytest.mark.parametrize("fault", ["query", "submission"])
def test_evidence_met_by_a_store_that_cannot_be_read_is_reported_once_it_can(
    node, monkeypatch, caplog, fault
):
    """The node's store cannot be read for a while (locked, failing, closed while the node
    stops): each pass logged a traceback ('reporting double-sign evidence failed') while
    it lasted. Now a WARNING without one (then one every 60 passes), and the evidence is
    submitted once the store answers."""
    import logging

    from tianfu.store import StoreBusy

    chain = node.chain
    ev = double_sign(chain, chain.genesis.validators[3], 1)
    passes: list[int] = []

    def pending():
        passes.append(1)
        return [ev]

    reporter = EvidenceReporter(node.identity, node.service, pending, interval_s=0.01)
    store, latest = node.service.store, chain.ledger.latest

    def locked(*args, **kw):
        raise StoreBusy("read failed: database is locked")

    if fault == "query":
        monkeypatch.setattr(latest, "get", locked)
    else:
        monkeypatch.setattr(store, "committed_txs", locked)

    async def main():
        task = asyncio.create_task(reporter.run())
        deadline = time.monotonic() + 60
        while len(passes) < 4:
            assert time.monotonic() < deadline, "too few passes"
            await asyncio.sleep(0.01)
        assert len(node.mempool) == 0
        monkeypatch.undo()
        while not len(node.mempool):
            assert time.monotonic() < deadline, "the evidence was never submitted"
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.INFO, logger="tianfu.node.evidence"):
        asyncio.run(main())
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert reporter.stats["submitted"] == 1
    if fault == "query":
        assert reporter.stats["unreadable"] >= 3
        assert "double-sign evidence not reported now (tried again)" in caplog.text
    else:  # refused for now, as a full mempool refuses it: sent again
        assert reporter.stats["busy"] >= 3 and reporter.stats["rejected"] == 0
        assert "not admitted now (sent again)" in caplog.text
        assert "the node cannot read its state now" in caplog.text
