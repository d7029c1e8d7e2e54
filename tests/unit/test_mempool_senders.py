"""Unit tests: one signer's share of the mempool is bounded (transactions and bytes), so a
flood from one sender cannot fill the pool and lock every other sender out; the share comes
back as its transactions are committed or expire. No room is 429, and a large batch is
admitted without holding the event loop for all of it."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.api.service import TxRejected
from tianfu.codec import encode
from tianfu.crypto import sign_tx
from tianfu.crypto.keys import generate_keypair
from tianfu.identity.certs import create_ca, issue_cert
from tianfu.mempool import Mempool, MempoolFull, SenderFull
from tianfu.node.service import ADMIT_CHUNK
from tianfu.types import Transaction, TxBody

ALICE, BOB = generate_keypair(), generate_keypair()


def _tx(key, nonce: int, expiry: int = 100, pad: int = 0) -> Transaction:
    body = TxBody(
        1, "c", key.scheme, key.public_key, nonce, expiry, "kv", "put", ["x" * pad, nonce]
    )
    return Transaction(body, bytes(64))


def test_a_sender_has_at_most_its_share_of_transactions() -> None:
    pool = Mempool(max_txs=100, max_sender_txs=3)
    mine = [_tx(ALICE, n, expiry=10 + n) for n in range(5)]
    for tx in mine[:3]:
        assert pool.add(tx)
    with pytest.raises(SenderFull, match="3 transactions"):
        pool.add(mine[3])
    assert issubclass(SenderFull, MempoolFull)
    assert pool.add(_tx(BOB, 1))  # another signer is not affected
    assert not pool.add(mine[0])  # already pending: not a refusal
    pool.remove([mine[0].hash])  # committed: its share comes back
    assert pool.add(mine[3])
    with pytest.raises(SenderFull):
        pool.add(mine[4])
    assert pool.evict_expired(12) == [mine[1].hash]  # expired: likewise
    assert pool.add(mine[4])
    assert len(pool) == 4


def test_a_sender_has_at_most_its_share_of_bytes() -> None:
    mine = [_tx(ALICE, n) for n in range(3)]
    size = len(mine[0].encoded())
    pool = Mempool(max_sender_bytes=2 * size + size // 2)
    assert pool.add(mine[0]) and pool.add(mine[1])
    with pytest.raises(SenderFull, match=f"{2 * size} bytes"):
        pool.add(mine[2])
    with pytest.raises(SenderFull):  # one transaction over the whole share
        pool.add(_tx(BOB, 1, pad=3 * size))
    assert pool.add(_tx(BOB, 2))
    pool.remove([mine[0].hash])
    assert pool.add(mine[2])
    assert pool._senders == {ALICE.public_key: [2, 2 * size], BOB.public_key: [1, size]}  # noqa: SLF001


def test_a_flooding_sender_is_answered_429_and_others_still_get_in(tmp_path) -> None:
    chain = KvChain(tmp_path, auto_commit=False)
    try:
        chain.service.mempool.max_sender_txs = 2
        other = chain.app.identity("org2", "user")
        with TestClient(create_app(chain.service)) as api:

            def post(tx: Transaction):
                return api.post(
                    "/v1/txs",
                    content=encode(tx),
                    headers={"content-type": "application/octet-stream"},
                )

            assert [post(chain.tx("put", f"k{i}", i)).status_code for i in range(2)] == [202] * 2
            flood = post(chain.tx("put", "k2", 2))
            assert flood.status_code == 429, flood.text
            assert flood.json()["code"] == "mempool_full"
            assert "this signer's maximum" in flood.json()["error"]
            assert post(chain.tx("put", "b", 1, who=other)).status_code == 202
            assert len(chain.service.mempool) == 3
            chain.commit_pending()  # committed: the sender's share comes back
            assert len(chain.service.mempool) == 0
            assert post(chain.tx("put", "k3", 3)).status_code == 202
    finally:
        chain.close()


def test_a_full_mempool_answers_429_to_submit_and_batch(tmp_path) -> None:
    """No room in the pool is "retry later" (429, code `mempool_full`), never a refusal of
    the transaction itself (400), on the single and the batch route alike."""
    chain = KvChain(tmp_path, auto_commit=False)
    try:
        chain.service.mempool.max_txs = 1
        with TestClient(create_app(chain.service)) as api:
            first, second = chain.tx("put", "a", 1), chain.tx("put", "b", 2)
            raw = {"content-type": "application/octet-stream"}
            assert api.post("/v1/txs", content=encode(first), headers=raw).status_code == 202
            r = api.post("/v1/txs", content=encode(second), headers=raw)
            assert r.status_code == 429 and r.json()["code"] == "mempool_full", r.text
            assert "mempool is full" in r.json()["error"]
            r = api.post("/v1/txs/batch", content=encode([encode(second)]), headers=raw)
            assert r.status_code == 200, r.text
            [result] = r.json()["results"]
            assert result["status"] == "rejected" and result["code"] == 429, result
            assert "mempool is full" in result["error"]
            chain.commit_pending()
            assert api.post("/v1/txs", content=encode(second), headers=raw).status_code == 202
    finally:
        chain.close()


def test_a_large_batch_lets_the_event_loop_run_while_it_is_admitted(tmp_path) -> None:
    """A batch from anyone (here 1,000 transactions with certificates no member CA issued,
    the costliest to refuse: ~0.4 ms each) is admitted in chunks, and the event loop turns
    between them, so votes and timers wait for a chunk, never for the whole batch."""
    chain = KvChain(tmp_path, auto_commit=False)
    ca_key, ca_cert = create_ca("org1")
    key = generate_keypair()
    cert = issue_cert(ca_key, ca_cert, "rogue", "member", key)
    expiry = chain.height + 100
    txs = [
        sign_tx(
            key,
            TxBody(
                1,
                chain.chain_id,
                key.scheme,
                key.public_key,
                n,
                expiry,
                "kv",
                "put",
                [f"r{n}", n],
                cert,
            ),
        )
        for n in range(1000)
    ]

    async def submit_while_ticking() -> tuple[list[object], int]:
        turns, done = 0, False

        async def ticker() -> None:
            nonlocal turns
            while not done:
                turns += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = turns
        outcomes = await chain.service.submit_many(txs)
        during = turns - before
        done = True
        await task
        return outcomes, during

    try:
        outcomes, turns = asyncio.run(submit_while_ticking())
    finally:
        chain.close()
    assert all(isinstance(o, TxRejected) and "CA signature" in str(o) for o in outcomes)
    assert turns >= -(-len(txs) // ADMIT_CHUNK) - 1  # one turn between two chunks
