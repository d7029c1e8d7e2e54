"""Unit tests: `NodeService.submit_many` / `wait_committed_many` on a real ledger (AppChain):
each refusal keeps its message, the admitted ones reach `on_tx`, one wait for a whole
batch, and the per-block bookkeeping of `block_committed`."""

from __future__ import annotations

import asyncio

import pytest
from msgspec.structs import replace

from tianfu.api.service import TxBadSignature, TxDuplicate, TxRejected, TxUnchecked
from tianfu.contracts.examples import example_source
from tianfu.testing.appchain import AppChain
from tianfu.types import Transaction


@pytest.fixture
def chain(tmp_path):
    c = AppChain(tmp_path)
    c.deploy("kv", example_source("kv"))
    yield c
    c.close()


def _forged(tx: Transaction) -> Transaction:
    return Transaction(tx.body, bytes([tx.signature[0] ^ 1]) + tx.signature[1:])


def test_submit_many_answers_per_transaction_with_the_single_messages(chain):
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok  # registers alice
    replay = chain.sign(alice, "kv", "put", "r", 1)
    assert asyncio.run(chain.service.submit(replay)) == replay.hash  # committed now
    good = chain.sign(alice, "kv", "put", "a", 1)
    forged = _forged(chain.sign(alice, "kv", "put", "b", 2))
    with pytest.raises(TxRejected) as refused:
        chain.service.admit(forged)
    single_forged = str(refused.value)
    assert single_forged == "bad signature"

    gossiped: list[bytes] = []
    commit_now = chain.service.on_tx

    def on_tx(tx):
        gossiped.append(tx.hash)
        commit_now(tx)

    chain.service.on_tx = None  # admit only: keep `good` pending for the duplicate check
    out = asyncio.run(chain.service.submit_many([good, replay, forged, good]))
    assert out[0] == good.hash
    assert (
        isinstance(out[1], TxDuplicate)
        and str(out[1]) == "transaction is already committed (replay)"
    )
    assert type(out[2]) is TxBadSignature and str(out[2]) == single_forged
    assert isinstance(out[3], TxDuplicate) and str(out[3]) == "transaction is already pending"
    assert good.hash in chain.mempool and good.hash in chain.service.verified

    chain.service.on_tx = on_tx
    more = [chain.sign(alice, "kv", "put", f"m{i}", i) for i in range(3)]
    out = asyncio.run(chain.service.submit_many([*more, forged]))
    assert out[:3] == [t.hash for t in more] and isinstance(out[3], TxRejected)
    assert gossiped == [t.hash for t in more]  # only the admitted reach the hook
    assert chain.service.admit_many([forged, more[0]]) == [False, False]


def test_wait_committed_many_one_wait_for_a_batch(chain):
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok
    service = chain.service
    done = chain.sign(alice, "kv", "put", "done", 1)
    asyncio.run(service.submit(done))  # committed at once (AppChain's on_tx)
    txs = [chain.sign(alice, "kv", "put", f"k{i}", i) for i in range(3)]
    never = chain.sign(alice, "kv", "put", "never", 9).hash

    async def main():
        for tx in txs:
            service.admit(tx)  # pending, not committed yet
        hashes = [done.hash, *(t.hash for t in txs), txs[0].hash]
        task = asyncio.ensure_future(service.wait_committed_many(hashes, 60))
        await asyncio.sleep(0)  # the task registers its waits before it first suspends
        assert set(service._waiters) == {t.hash for t in txs}
        assert len({id(w) for ws in service._waiters.values() for w in ws}) == 1  # one wait
        chain._commit_now(None)  # the block with the three
        records = await task
        assert service._waiters == {}
        timed_out = await service.wait_committed_many([never, done.hash], 0.05)
        assert service._waiters == {}  # unregistered at the timeout
        return records, timed_out

    records, timed_out = asyncio.run(main())
    assert [r.tx.hash for r in records] == [done.hash, *(t.hash for t in txs), txs[0].hash]
    assert records[1].height == records[3].height and [r.index for r in records[1:4]] == [0, 1, 2]
    assert timed_out[0] is None and timed_out[1].tx.hash == done.hash
    assert asyncio.run(service.wait_committed_many([], 1)) == []


def test_block_committed_bookkeeping(chain):
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok
    service = chain.service
    before = service.registry.get_sample_value("tianfu_txs_committed_total")
    failed_before = service.registry.get_sample_value("tianfu_txs_failed_total")

    async def main():
        events = service.subscribe()
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0)
        admin = chain.admin("org1")
        receipts = chain.call_many(
            [
                (alice, "kv", "put", ("", 1)),  # fails: an empty key
                (admin, "governance", "propose_contract", ("kv2", example_source("kv"))),
            ]
        )
        ev = await asyncio.wait_for(first, 60)
        await events.aclose()
        return receipts, ev

    receipts, ev = asyncio.run(main())
    assert not receipts[0].ok and receipts[1].ok
    assert ev.tx_index == 1 and ev.event.name == "ContractProposed"
    assert service.registry.get_sample_value("tianfu_txs_committed_total") == before + 2
    assert service.registry.get_sample_value("tianfu_txs_failed_total") == failed_before + 1
    assert not service.verified and len(chain.mempool) == 0


def test_a_batch_checks_no_signature_after_its_first_forged_one(chain, monkeypatch):
    """A batch of 1,000 transactions with bad signatures cost the node 1,000 signature
    checks on its event loop (~70 us each), and a flood of such batches from 24
    connections took a 4-validator network to 0.07 of its quiet heights per minute
    (`benchmarks/write_flood.py --mix batch`). An honest client never sends a forged
    transaction, nor one of a signer it may not use: after the first such one (a bad
    signature, or a signer refused — here strangers' keys, their signatures valid), a
    batch's transactions that would need a signature check are not checked: a refused
    signer's later ones get its refusal, the others `TxUnchecked`; the cheap answers
    (pending, committed, expired, wrong chain) are as before."""
    import tianfu.execution.admission_checks as admission

    checked = [0]
    verify = admission.verify_tx

    def counted(tx):
        checked[0] += 1
        return verify(tx)

    monkeypatch.setattr(admission, "verify_tx", counted)
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok
    chain.service.on_tx = None  # admit only
    good = chain.sign(alice, "kv", "put", "a", 1)
    forged = [_forged(chain.sign(alice, "kv", "put", f"f{i}", i)) for i in range(300)]
    late = chain.sign(alice, "kv", "put", "late", 2)
    checked[0] = 0
    out = asyncio.run(chain.service.submit_many([good, *forged, late, good]))
    assert checked[0] == 2, checked[0]  # `good` and the first forged one
    assert out[0] == good.hash
    assert type(out[1]) is TxBadSignature and str(out[1]) == "bad signature"
    unchecked = out[2:-1]
    assert len(unchecked) == 300 and all(type(o) is TxUnchecked for o in unchecked)
    assert str(unchecked[0]) == (
        "not checked: transaction 1 of this batch has a bad signature or a refused signer "
        "(nothing after it is)"
    )
    assert isinstance(out[-1], TxDuplicate) and str(out[-1]) == "transaction is already pending"
    assert late.hash not in chain.mempool
    # A batch without a forged transaction, and a peer's transactions, are checked each.
    checked[0] = 0
    assert asyncio.run(chain.service.submit_many([late])) == [late.hash]
    assert chain.service.admit_many(forged[:5]) == [False] * 5
    assert checked[0] == 6
    from tianfu.api.service import TxSignerRefused
    from tianfu.crypto.keys import generate_keypair
    from tianfu.crypto.signing import sign_tx

    stranger = generate_keypair()
    strangers = [
        sign_tx(stranger, replace(good.body, signer=stranger.public_key, nonce=1000 + i))
        for i in range(200)
    ]
    checked[0] = 0
    out = asyncio.run(chain.service.submit_many(strangers))
    assert checked[0] == 0, checked[0]  # an unknown signer: refused before its signature
    assert all(type(o) is TxSignerRefused for o in out) and len({str(o) for o in out}) == 1
    assert "unknown signer" in str(out[0])
    many = []
    for i in range(200):  # a new key each: the first is refused, the rest are not checked
        key = generate_keypair()
        many.append(sign_tx(key, replace(good.body, signer=key.public_key, nonce=i)))
    checked[0] = 0
    out = asyncio.run(chain.service.submit_many(many))
    assert checked[0] == 0, checked[0]
    assert type(out[0]) is TxSignerRefused and all(type(o) is TxUnchecked for o in out[1:])


def test_a_forged_batch_reads_the_parameters_once_per_chunk(chain, monkeypatch):
    """After a batch's first forged transaction, each later one was answered with the chain
    parameters read again (a governed read), the rejection counter taken once each and a
    new refusal made each: about half of a forged batch's time on the event loop (py-spy,
    `benchmarks/write_flood.py --mix batch`). The parameters are now read once per chunk
    and the refusal made once per batch; the answers and the count are the same."""
    from tianfu.node.service import ADMIT_CHUNK

    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok
    chain.service.on_tx = None  # admit only
    executor = chain.ledger.executor
    reads = [0]
    params_for = executor.params_for

    def counting(height):
        reads[0] += 1
        return params_for(height)

    monkeypatch.setattr(executor, "params_for", counting)
    forged = [_forged(chain.sign(alice, "kv", "put", f"f{i}", i)) for i in range(1000)]
    expired = chain.sign(alice, "kv", "put", "late", 1)
    expired = Transaction(replace(expired.body, expiry=1), expired.signature)
    registry = chain.service.registry
    before = registry.get_sample_value("tianfu_txs_rejected_total")
    out = asyncio.run(chain.service.submit_many([*forged, expired]))
    assert reads[0] <= -(-1001 // ADMIT_CHUNK) + 1, reads[0]  # per chunk, and admission
    assert type(out[0]) is TxBadSignature
    unchecked = out[1:-1]
    assert len(unchecked) == 999 and all(type(o) is TxUnchecked for o in unchecked)
    assert len({str(o) for o in unchecked}) == 1
    assert type(out[-1]) is TxRejected and "expired" in str(out[-1])
    assert registry.get_sample_value("tianfu_txs_rejected_total") - before == 1001


def test_a_forged_batch_whose_parameters_cannot_be_read_is_answered_503(chain, monkeypatch):
    """After a batch's first forged transaction, the later ones are checked under the chain
    parameters, read once per chunk: a read the store failed there (locked, failing,
    closed) escaped the batch, and the API answered 500 'internal error' with a traceback
    for the whole batch. Each such transaction is now answered as any admission read our
    store fails: `TxStateUnavailable` (503 state_unreadable), the others as before."""
    from tianfu.api.service import TxStateUnavailable
    from tianfu.execution.refusals import BadSignature
    from tianfu.store import StoreBusy

    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok
    chain.service.on_tx = None  # admit only
    executor = chain.ledger.executor
    check_tx, params_for = executor.check_tx, executor.params_for
    locked = [False]

    def checking(*args, **kw):
        try:
            return check_tx(*args, **kw)
        except BadSignature:
            locked[0] = True  # the store is locked from now on
            raise

    def reading(height):
        if locked[0]:
            raise StoreBusy("read failed: database is locked")
        return params_for(height)

    monkeypatch.setattr(executor, "check_tx", checking)
    monkeypatch.setattr(executor, "params_for", reading)
    forged = _forged(chain.sign(alice, "kv", "put", "f", 1))
    later = [chain.sign(alice, "kv", "put", f"l{i}", i) for i in range(3)]
    out = asyncio.run(chain.service.submit_many([forged, *later]))
    assert type(out[0]) is TxBadSignature
    assert [type(o) for o in out[1:]] == [TxStateUnavailable] * 3, out
