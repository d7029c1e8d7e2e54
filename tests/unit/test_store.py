"""Unit tests: the SQLite block store (round trips, refusals, indexes, state, crash atomicity).

Run as a script (`python test_store.py DB TXS`) this file is the child process of the
crash test: it commits blocks in a loop, printing each committed height, until killed.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pytest

from tianfu.codec import encode
from tianfu.crypto import generate_keypair, sign_tx, sign_vote
from tianfu.crypto.merkle import merkle_root
from tianfu.store import Store, StoreError, TxRecord
from tianfu.store import sqlite as store_sqlite
from tianfu.types import (
    PRECOMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    CommitSig,
    Event,
    Receipt,
    TxBody,
)

CHAIN = "store-test"
GENESIS_HASH = b"\x07" * 32
KEEP = 3  # state key "c/h/<h>" lives for KEEP heights, then is deleted


def hkey(h: int) -> bytes:
    return b"c/h/%08d" % h


def nkey(h: int) -> bytes:
    return b"node/%08d" % h


class Chain:
    """Builds a chain of blocks with real signed transactions and a signed certificate."""

    def __init__(self, n_keys: int = 4) -> None:
        self.keys = [generate_keypair() for _ in range(n_keys)]
        self.validator = generate_keypair()
        self.prev = GENESIS_HASH

    def next(self, h: int, n_txs: int):
        txs = []
        for i in range(n_txs):
            kp = self.keys[i % len(self.keys)]
            body = TxBody(
                1,
                CHAIN,
                kp.scheme,
                kp.public_key,
                h * 1_000_000 + i,
                h + 100,
                "asset",
                "transfer",
                [f"acct{i}", i, b"\x01\x02"],
            )
            txs.append(sign_tx(kp, body))
        receipts = []
        for i in range(n_txs):
            events = [Event("asset", "transfer", {"h": h, "i": i, "memo": b"x"})]
            if i % 3 == 0:
                events.append(Event("bank", "mint", {"h": h, "amount": i * 10}))
            status = 1 if i % 7 == 6 else 0
            receipts.append(Receipt(status, 100 + i, {"n": i}, "boom" if status else "", events))
        header = BlockHeader(
            1,
            CHAIN,
            h,
            1_700_000_000_000 + h,
            self.prev,
            merkle_root([encode(t) for t in txs]),
            bytes([h % 256]) * 32,
            merkle_root([encode(r) for r in receipts]),
            b"\x09" * 32,
            self.validator.public_key,
            n_txs,
        )
        block = Block(header, txs)
        vote = sign_vote(self.validator, CHAIN, h, 0, PRECOMMIT, block.hash, 1_000_000 + h)
        cert = CommitCertificate(
            1, CHAIN, h, 0, block.hash, [CommitSig(vote.validator, vote.time_ms, vote.signature)]
        )
        nodes = {nkey(h): b"node-of-%d" % h, nkey(h) + b"/b": b"sibling"}
        updates: dict[bytes, bytes | None] = {hkey(h): b"v%d" % h, b"c/latest": str(h).encode()}
        if h > KEEP:
            updates[hkey(h - KEEP)] = None
        self.prev = block.hash
        return block, cert, receipts, nodes, updates


def fill(store: Store, chain: Chain, heights: range, n_txs) -> list:
    saved = []
    for h in heights:
        parts = chain.next(h, n_txs(h) if callable(n_txs) else n_txs)
        store.save_block(*parts, meta={"last": str(h).encode()})
        saved.append(parts)
    return saved


@pytest.fixture
def db(tmp_path):
    store = Store(tmp_path / "node.db")
    yield store
    store.close()


def test_roundtrip_of_several_blocks(db):
    assert db.height() == 0 and db.load_block(1) is None
    saved = fill(db, Chain(), range(1, 6), lambda h: [3, 0, 10, 1, 5][h - 1])
    assert db.height() == 5
    for h, (block, cert, receipts, _, _) in enumerate(saved, start=1):
        assert db.load_block(h) == block
        assert db.load_header(h) == block.header
        assert db.load_cert(h) == cert
        assert db.load_receipts(h) == receipts
    assert [x.height for x in db.headers(2, 2)] == [2, 3]
    assert [x.height for x in db.headers(4, 100)] == [4, 5]
    assert db.headers(6, 10) == [] and db.headers(1, 0) == []
    assert db.load_block(6) is None and db.load_cert(0) is None and db.load_receipts(9) is None
    assert db.get_meta("last") == b"5"


def test_refuses_wrong_heights_and_mismatched_parts(db):
    chain = Chain()
    fill(db, chain, range(1, 2), 2)
    b2 = chain.next(2, 2)
    b3 = chain.next(3, 2)
    with pytest.raises(StoreError, match="at height 1"):
        db.save_block(*b3)
    with pytest.raises(StoreError, match="at height 1"):
        db.save_block(*Chain().next(1, 1))
    assert db.height() == 1 and db.load_block(3) is None
    assert not db.has_tx(b3[0].txs[0].hash) and db.get_latest(hkey(3)) is None
    block, cert, receipts, nodes, updates = b2
    with pytest.raises(StoreError, match="receipts"):
        db.save_block(block, cert, receipts[:1], nodes, updates)
    with pytest.raises(StoreError, match="certificate"):
        db.save_block(block, b3[1], receipts, nodes, updates)
    assert db.height() == 1
    db.save_block(*b2)
    db.save_block(*b3)
    assert db.height() == 3


def test_tx_index(db):
    saved = fill(db, Chain(), range(1, 4), 6)
    for h, (block, _, receipts, _, _) in enumerate(saved, start=1):
        for i, tx in enumerate(block.txs):
            assert db.has_tx(tx.hash)
            assert db.load_tx(tx.hash) == TxRecord(tx, receipts[i], h, i)
    assert db.load_tx(b"\x00" * 32) is None and not db.has_tx(b"\x00" * 32)


def test_duplicate_tx_keeps_first_position(db):
    chain = Chain()
    b1 = chain.next(1, 2)
    db.save_block(*b1)
    block, cert, receipts, nodes, updates = chain.next(2, 1)
    again = Block(msgspec.structs.replace(block.header, tx_count=2), [block.txs[0], b1[0].txs[1]])
    vote = sign_vote(chain.validator, CHAIN, 2, 0, PRECOMMIT, again.hash, 1_000_002)
    cert = CommitCertificate(
        1, CHAIN, 2, 0, again.hash, [CommitSig(vote.validator, vote.time_ms, vote.signature)]
    )
    db.save_block(again, cert, receipts * 2, nodes, updates)
    assert (db.load_tx(b1[0].txs[1].hash).height, db.load_tx(b1[0].txs[1].hash).index) == (1, 1)
    assert db.load_tx(block.txs[0].hash).height == 2


def test_events_index(db):
    fill(db, Chain(), range(1, 5), 4)  # per block: 4 transfers, mints at tx 0 and 3
    all_events = db.events(limit=1000)
    assert len(all_events) == 4 * 6
    assert all_events == sorted(all_events, key=lambda e: (e[0], e[1]))
    assert all_events[0] == (1, 0, Event("asset", "transfer", {"h": 1, "i": 0, "memo": b"x"}))
    assert all_events[1] == (1, 0, Event("bank", "mint", {"h": 1, "amount": 0}))
    mints = db.events(contract="bank")
    assert [(h, i) for h, i, _ in mints] == [(h, i) for h in range(1, 5) for i in (0, 3)]
    assert all(e.name == "mint" and e.data["h"] == h for h, _, e in mints)
    assert db.events(contract="bank", name="transfer") == []
    assert len(db.events(name="transfer", from_height=3)) == 8
    assert [h for h, _, _ in db.events(from_height=4, contract="asset", limit=2)] == [4, 4]
    assert db.events(contract="nobody") == [] and db.events(limit=0) == []


def test_latest_state_updates_deletes_and_scans(db):
    db.save_state_nodes({b"root0": b"genesis-node"}, {b"c/genesis": b"g", b"d/x": b"1"})
    assert db.get_node(b"root0") == b"genesis-node" and db.get_latest(b"c/genesis") == b"g"
    fill(db, Chain(), range(1, 7), 1)
    for h in range(1, 7):
        assert db.get_node(nkey(h)) == b"node-of-%d" % h
        assert db.get_latest(hkey(h)) == (b"v%d" % h if h > 6 - KEEP else None)
    assert db.get_latest(b"c/latest") == b"6"
    scan = list(db.iter_latest(b"c/h/"))
    assert scan == [(hkey(h), b"v%d" % h) for h in (4, 5, 6)]
    assert [k for k, _ in db.iter_latest(b"c/")] == [
        b"c/genesis",
        b"c/h/00000004",
        b"c/h/00000005",
        b"c/h/00000006",
        b"c/latest",
    ]
    assert len(list(db.iter_latest(b""))) == 6
    assert list(db.iter_latest(b"zz")) == []
    db.save_state_nodes(
        {}, {b"\xff\xff": b"a", b"\xff\xff\x00": b"b", b"\xff\xfe": b"c", b"d/x": None}
    )
    assert list(db.iter_latest(b"\xff\xff")) == [(b"\xff\xff", b"a"), (b"\xff\xff\x00", b"b")]
    assert db.get_latest(b"d/x") is None and db.get_node(b"missing") is None


def test_iter_latest_in_batches_is_complete(db):
    updates = {b"k/%06d" % i: b"%d" % i for i in range(1300)}
    db.save_state_nodes({}, updates)
    it = db.iter_latest(b"k/")
    first = next(it)
    db.save_state_nodes({}, {b"k/000000": None, b"k/zzz": b"late"})  # a write mid-scan
    rest = list(it)
    assert [first, *rest] == sorted(updates.items())  # one snapshot: the write is not seen
    assert len(list(db.iter_latest(b"k/"))) == 1300  # -1 deleted +1 added


def test_latest_before_reads_one_page_of_a_prefix_downwards(db):
    db.save_state_nodes({}, {b"k/%03d" % i: b"%d" % i for i in range(30)} | {b"l/0": b"x"})
    assert [k for k, _ in db.latest_before(b"k/", None, 3)] == [b"k/029", b"k/028", b"k/027"]
    page = db.latest_before(b"k/", b"k/027", 2)
    assert page == [(b"k/026", b"26"), (b"k/025", b"25")]
    assert db.latest_before(b"k/", b"k/001", 5) == [(b"k/000", b"0")]
    assert db.latest_before(b"k/", b"k/", 5) == [] and db.latest_before(b"k/", None, 0) == []
    assert db.latest_before(b"\xff", None, 5) == [] and db.latest_before(b"zz", None, 1) == []
    assert [k for k, _ in db.latest_before(b"", None, 2)] == [b"l/0", b"k/029"]


def test_genesis_and_meta(db):
    assert db.load_genesis() is None
    db.save_genesis(b"genesis-1")
    db.save_genesis(b"genesis-1")
    with pytest.raises(StoreError, match="different genesis"):
        db.save_genesis(b"genesis-2")
    assert db.load_genesis() == b"genesis-1"
    assert db.get_meta("x") is None
    db.set_meta("x", b"1")
    db.set_meta("x", b"2")
    assert db.get_meta("x") == b"2"


def test_reopen_keeps_everything(tmp_path):
    path = tmp_path / "node.db"
    store = Store(path)
    store.save_genesis(b"g")
    saved = fill(store, Chain(), range(1, 4), 3)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.height()
    with Store(path) as again:
        assert again.height() == 3 and again.load_genesis() == b"g"
        for h, (block, cert, receipts, _, _) in enumerate(saved, start=1):
            assert again.load_block(h) == block and again.load_cert(h) == cert
            assert again.load_receipts(h) == receipts
            assert again.load_tx(block.txs[2].hash) == TxRecord(block.txs[2], receipts[2], h, 2)
        assert again.get_latest(b"c/latest") == b"3" and again.get_meta("last") == b"3"
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()


def test_unopenable_path(tmp_path):
    with pytest.raises(StoreError):
        Store(tmp_path / "missing-dir" / "node.db")
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        Store(tmp_path / "junk.db")


def test_concurrent_reads_during_writes(db):
    chain = Chain()
    blocks = [chain.next(h, 20) for h in range(1, 31)]
    errors: list[BaseException] = []
    seen: list[int] = []
    done = threading.Event()

    def reader():
        try:
            while not done.is_set():
                h = db.height()
                if h:
                    block, cert, receipts = db.load_block(h), db.load_cert(h), db.load_receipts(h)
                    assert block is not None and cert is not None and receipts is not None
                    assert cert.block_hash == block.hash and len(receipts) == len(block.txs)
                    assert db.load_tx(block.txs[-1].hash).height == h
                    assert int(db.get_latest(b"c/latest")) >= h
                    seen.append(h)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for parts in blocks:
        db.save_block(*parts)
    done.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert db.height() == 30 and seen


# ---------------------------------------------------------------------- crash atomicity


def check_consistent(path: Path) -> int:
    """Every stored height is complete and nothing of a later height exists; return height."""
    with Store(path) as store:
        top = store.height()
        total_txs = 0
        event_keys: set[tuple[str, int, str]] = set()
        for h in range(1, top + 1):
            block, cert, receipts = store.load_block(h), store.load_cert(h), store.load_receipts(h)
            assert block is not None and cert is not None and receipts is not None, h
            assert cert.height == h and cert.block_hash == block.hash
            assert len(receipts) == len(block.txs) == block.header.tx_count
            for i, tx in enumerate(block.txs):
                assert store.load_tx(tx.hash) == TxRecord(tx, receipts[i], h, i)
            total_txs += len(block.txs)
            event_keys.update((e.contract, h, e.name) for r in receipts for e in r.events)
            assert store.get_node(nkey(h)) == b"node-of-%d" % h
            assert store.get_latest(hkey(h)) == (b"v%d" % h if h > top - KEEP else None)
        assert store.get_node(nkey(top + 1)) is None and store.get_latest(hkey(top + 1)) is None
        if top:
            assert store.get_latest(b"c/latest") == str(top).encode()
            assert store.get_meta("last") == str(top).encode()
    conn = sqlite3.connect(path)
    try:
        both = "SELECT (SELECT COUNT(*) FROM tx_index) + (SELECT COUNT(*) FROM tx_recent)"
        assert conn.execute(both).fetchone()[0] == total_txs
        rows = conn.execute("SELECT contract, height, name FROM event_index").fetchall()
        assert set(rows) == event_keys and len(rows) == len(event_keys)
        assert conn.execute("SELECT COUNT(*) FROM blocks").fetchone()[0] == top
    finally:
        conn.close()
    return top


def child_main(path: str, n_txs: int, merge_rows: int) -> None:
    store_sqlite.TX_MERGE_ROWS = merge_rows  # small: tx-index merges happen during the test
    store = Store(path)
    chain = Chain()
    h = store.height()
    print("ready", flush=True)
    while True:
        h += 1
        store.save_block(*chain.next(h, n_txs), meta={"last": str(h).encode()})
        print(h, flush=True)


@pytest.mark.parametrize("seed", range(4))
def test_crash_atomicity_under_kill_9(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "crash.db"
    acked = 0
    for _ in range(3):  # kill, reopen, continue in the same file, kill again
        proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                str(path),
                str(rng.choice([5, 40, 120])),
                str(rng.choice([64, 16_384])),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdout.readline().strip() == b"ready", proc.stderr.read()
        time.sleep(rng.uniform(0.02, 0.4))
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err
        lines = out.split()
        acked = int(lines[-1]) if lines else acked
        top = check_consistent(path)
        # Every acknowledged commit survived; at most the one in flight was added.
        assert acked <= top <= acked + 1, (acked, top)
        acked = top
    assert top > 0


def test_save_block_of_2000_transactions_timing(db):
    chain = Chain(n_keys=50)
    fill(db, chain, range(1, 3), 2000)
    parts = chain.next(3, 2000)
    start = time.perf_counter()
    db.save_block(*parts)
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    loaded = db.load_block(3)
    load_elapsed = time.perf_counter() - start
    start = time.perf_counter()
    rec = db.load_tx(parts[0].txs[1500].hash)
    tx_elapsed = time.perf_counter() - start
    print(
        f"\nsave_block(2000 txs): {elapsed * 1000:.1f} ms; load_block: {load_elapsed * 1000:.1f} ms; "
        f"load_tx: {tx_elapsed * 1000:.2f} ms"
    )
    assert loaded == parts[0] and rec.index == 1500


if __name__ == "__main__":
    child_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
