"""Unit tests: store schema version 2 (ADR 0016) — two-part tx index, events read from the
receipts, bulk row packing, migration of a version-1 file and refusal of unknown versions."""

from __future__ import annotations

import random
import sqlite3

import msgspec
import pytest
from test_store import CHAIN, Chain, fill

from tianfu.codec import encode
from tianfu.crypto import sign_vote
from tianfu.store import Store, StoreError, TxRecord, bulk
from tianfu.store import sqlite as store_sqlite
from tianfu.store.bulk import HASHES_SELECT, PAIRS_SELECT, pack_hashes, pack_pairs
from tianfu.store.schema import SCHEMA_VERSION
from tianfu.store.sqlite import encode_list
from tianfu.types import PRECOMMIT, Block, CommitCertificate, CommitSig, Event, Receipt


def _count(path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


# ---------------------------------------------------------------------- bulk packing


def test_pack_pairs_stores_exactly_the_given_bytes():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k BLOB NOT NULL, v BLOB NOT NULL)")
    rng = random.Random(5)
    cases = [
        [(b"a", b"")],
        [(b"", b"x"), (b"k", b"")],
        [(b"kk", b"\x00" * 65_535), (b"\xff" * 65_535, b"v")],
        [
            (rng.randbytes(rng.randrange(1, 50)), rng.randbytes(rng.randrange(0, 900)))
            for _ in range(3000)
        ],
    ]
    for pairs in cases:
        conn.execute("DELETE FROM t")
        conn.execute(f"INSERT INTO t (k, v) {PAIRS_SELECT}", pack_pairs(pairs))
        rows = conn.execute("SELECT k, v FROM t ORDER BY rowid").fetchall()
        assert rows == pairs
        assert all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in rows)
    assert pack_pairs([]) is None  # nothing to write
    assert pack_pairs([(b"k", b"x" * 65_536)]) is None  # too long: the caller falls back
    assert pack_pairs([(b"k" * 65_536, b"x")]) is None


def test_pack_pairs_never_binds_more_than_sqlite_takes(monkeypatch, tmp_path):
    """A batch whose blob or JSON text reaches SQLite's longest string or blob (10^9 bytes
    by default; a 10-million-key genesis state is beyond it) falls back to `executemany`
    instead of failing with "string or blob too big"."""
    limit = sqlite3.connect(":memory:").getlimit(sqlite3.SQLITE_LIMIT_LENGTH)
    assert bulk._MAX_BYTES <= limit
    monkeypatch.setattr(bulk, "_MAX_BYTES", 64)
    assert pack_pairs([(b"k%d" % i, b"v") for i in range(15)]) is None  # the JSON text
    assert pack_pairs([(b"k", b"v" * 70)]) is None  # the blob
    assert pack_pairs([(b"k", b"v")]) is not None
    with Store(tmp_path / "chain.db") as store:
        rows = {b"key%04d" % i: b"value%d" % i for i in range(100)}
        store.save_state_nodes({}, dict(rows))  # through the fallback
        assert [store.get_latest(k) for k in rows] == list(rows.values())


def test_pack_hashes():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (h BLOB NOT NULL, a INTEGER, b INTEGER)")
    rows = sorted((random.Random(i).randbytes(32), i) for i in range(700))
    conn.execute(f"INSERT INTO t (h, a, b) {HASHES_SELECT}", (*pack_hashes(rows), 42))
    assert conn.execute("SELECT h, a, b FROM t ORDER BY rowid").fetchall() == [
        (h, 42, i) for h, i in rows
    ]
    assert pack_hashes([(b"x" * 31, 0), (b"y" * 33, 1)]) is None


def test_oversized_values_fall_back_and_round_trip(tmp_path):
    with Store(tmp_path / "s.db") as db:
        big = b"\x01" * 70_000
        db.save_state_nodes({b"n" * 70_000: big, b"n1": b""}, {b"c/big": big, b"c/empty": b""})
        assert db.get_latest(b"c/big") == big and db.get_latest(b"c/empty") == b""
        assert db.get_node(b"n" * 70_000) == big and db.get_node(b"n1") == b""


# ---------------------------------------------------------------------- two-part tx index


def _with_txs(chain: Chain, parts, txs):
    """`parts` (a block of len(txs) transactions) with these transactions instead."""
    block, _, receipts, nodes, updates = parts
    again = Block(msgspec.structs.replace(block.header, tx_count=len(txs)), list(txs))
    h = block.header.height
    vote = sign_vote(chain.validator, CHAIN, h, 0, PRECOMMIT, again.hash, 1_000_000 + h)
    cert = CommitCertificate(
        1, CHAIN, h, 0, again.hash, [CommitSig(vote.validator, vote.time_ms, vote.signature)]
    )
    return again, cert, receipts, nodes, updates


def test_tx_lookups_across_merges(tmp_path, monkeypatch):
    monkeypatch.setattr(store_sqlite, "TX_MERGE_ROWS", 10)
    path = tmp_path / "s.db"
    chain = Chain()
    db = Store(path)
    saved = fill(db, chain, range(1, 9), lambda h: [3, 4, 0, 5, 1, 2, 8, 3][h - 1])
    # 26 rows: merged after block 4 (12 rows) and block 7 (11 more); block 8's are recent
    assert _count(path, "tx_index") == 23 and _count(path, "tx_recent") == 3
    hashes = []
    for h, (block, _, receipts, _, _) in enumerate(saved, start=1):
        for i, tx in enumerate(block.txs):
            assert db.has_tx(tx.hash)
            assert db.load_tx(tx.hash) == TxRecord(tx, receipts[i], h, i)
            hashes.append(tx.hash)
    unknown = [bytes([i]) * 32 for i in range(3)]
    assert db.committed_txs(hashes + unknown + hashes[:5]) == set(hashes)
    assert db.committed_txs([]) == set() and not db.has_tx(unknown[0])
    # hashes of another length take the IN (...) path, with the same answer
    assert db.committed_txs([b"short", *hashes[:3], hashes[-1] + b"x"]) == set(hashes[:3])
    assert db.load_tx(unknown[1]) is None

    # A hash committed again keeps its first position, whichever part holds it.
    old, recent = saved[0][0].txs[1], saved[7][0].txs[0]
    parts = chain.next(9, 3)
    db.save_block(*_with_txs(chain, parts, [old, recent, parts[0].txs[2]]))
    assert (db.load_tx(old.hash).height, db.load_tx(old.hash).index) == (1, 1)
    assert (db.load_tx(recent.hash).height, db.load_tx(recent.hash).index) == (8, 0)
    assert db.load_tx(parts[0].txs[2].hash).height == 9
    db.close()

    # `old` got a second row in tx_recent, `recent` did not (3 + 2 rows)
    assert _count(path, "tx_recent") == 5
    # the count of recent rows is read again at open; the next merge moves them all
    with Store(path) as again:
        assert again._recent_rows == 5
        fill(again, chain, range(10, 12), 3)  # 8, then 11 rows: merged
        # block 8's 3 rows, block 9's new one, 6 more; `old`'s second row is not kept
        assert _count(path, "tx_recent") == 0 and _count(path, "tx_index") == 23 + 3 + 1 + 6
        assert again.committed_txs(hashes) == set(hashes)
        assert again.load_tx(old.hash).height == 1 and again.load_tx(recent.hash).height == 8


def test_a_refused_block_does_not_count_towards_the_merge(tmp_path, monkeypatch):
    monkeypatch.setattr(store_sqlite, "TX_MERGE_ROWS", 5)
    chain = Chain()
    with Store(tmp_path / "s.db") as db:
        fill(db, chain, range(1, 2), 3)
        b3 = Chain().next(3, 4)
        with pytest.raises(StoreError):
            db.save_block(*b3)
        assert db._recent_rows == 3
        fill(db, chain, range(2, 3), 1)
        assert db._recent_rows == 4 and _count(tmp_path / "s.db", "tx_recent") == 4


# ---------------------------------------------------------------------- events


def _reference(saved, from_height, contract, name, limit):
    out = []
    for block, _, receipts, _, _ in saved:
        h = block.header.height
        if h < from_height:
            continue
        for i, r in enumerate(receipts):
            for ev in r.events:
                if (contract is None or ev.contract == contract) and (
                    name is None or ev.name == name
                ):
                    out.append((h, i, ev))
    return out[: max(0, limit)]


class EventChain(Chain):
    """Blocks with varied events: several contracts and names, blocks without any."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)

    def next(self, h: int, n_txs: int):
        block, cert, receipts, nodes, updates = super().next(h, n_txs)
        rng = self.rng
        new = []
        for i, r in enumerate(receipts):
            events = [
                Event(
                    rng.choice(["asset", "bank", "gov"]),
                    rng.choice(["a", "b", "c"]),
                    {"h": h, "i": i, "j": j},
                )
                for j in range(rng.choice([0, 0, 1, 2, 3]))
            ]
            new.append(Receipt(r.status, r.gas_used, r.result, r.error, events))
        # (the header's receipts root is stale: the store does not check it)
        return (block, cert), new, nodes, updates


@pytest.mark.parametrize("seed", range(3))
def test_events_equal_a_scan_of_the_receipts(tmp_path, seed):
    chain = EventChain(seed)
    rng = random.Random(100 + seed)
    saved = []
    with Store(tmp_path / "s.db") as db:
        for h in range(1, 26):
            block_cert, receipts, nodes, updates = chain.next(h, rng.choice([0, 1, 4, 9]))
            parts = (*block_cert, receipts, nodes, updates)
            db.save_block(*parts)
            saved.append(parts)
        for _ in range(300):
            args = (
                rng.choice([-3, 0, 1, 2, 7, 13, 25, 26, 40]),
                rng.choice([None, None, "asset", "bank", "gov", "nobody"]),
                rng.choice([None, None, "a", "b", "c", "zzz"]),
                rng.choice([0, 1, 2, 5, 17, 100, 1000, -1]),
            )
            got = db.events(from_height=args[0], contract=args[1], name=args[2], limit=args[3])
            assert got == _reference(saved, *args), args
        assert len(db.events(limit=10_000)) == sum(
            len(r.events) for _, _, rs, _, _ in saved for r in rs
        )


# ---------------------------------------------------------------------- versions

V1_SCHEMA = """
CREATE TABLE genesis (id INTEGER PRIMARY KEY CHECK (id = 0), data BLOB NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE blocks (height INTEGER PRIMARY KEY, hash BLOB NOT NULL, header BLOB NOT NULL,
    txs BLOB NOT NULL, cert BLOB NOT NULL, receipts BLOB NOT NULL);
CREATE TABLE tx_index (hash BLOB PRIMARY KEY, height INTEGER NOT NULL, idx INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE events (height INTEGER NOT NULL, tx_idx INTEGER NOT NULL, ev_idx INTEGER NOT NULL,
    contract TEXT NOT NULL, name TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (height, tx_idx, ev_idx)) WITHOUT ROWID;
CREATE INDEX events_by_contract ON events (contract, height, tx_idx, ev_idx);
CREATE TABLE tree_nodes (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE state (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
"""


def _write_v1(path, saved) -> None:
    """A version-1 file, as the version-1 store wrote it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(V1_SCHEMA)
    conn.execute("BEGIN")
    for block, cert, receipts, nodes, updates in saved:
        h = block.header.height
        conn.execute(
            "INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?)",
            (
                h,
                block.hash,
                encode(block.header),
                encode(block.txs),
                encode(cert),
                encode_list([encode(r) for r in receipts]),
            ),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO tx_index VALUES (?, ?, ?)",
            sorted((tx.hash, h, i) for i, tx in enumerate(block.txs)),
        )
        conn.executemany(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
            [
                (h, i, j, e.contract, e.name, encode(e.data))
                for i, r in enumerate(receipts)
                for j, e in enumerate(r.events)
            ],
        )
        conn.executemany("INSERT OR REPLACE INTO tree_nodes VALUES (?, ?)", sorted(nodes.items()))
        conn.executemany(
            "INSERT OR REPLACE INTO state VALUES (?, ?)",
            sorted((k, v) for k, v in updates.items() if v is not None),
        )
    conn.execute("INSERT INTO meta VALUES ('last', ?)", (str(len(saved)).encode(),))
    conn.execute("PRAGMA user_version=1")
    conn.execute("COMMIT")
    conn.close()


def test_a_version_1_file_is_migrated_at_open(tmp_path):
    chain = EventChain(9)
    saved = []
    for h in range(1, 8):
        block_cert, receipts, nodes, updates = chain.next(h, 5)
        saved.append((*block_cert, receipts, nodes, updates))
    path = tmp_path / "v1.db"
    _write_v1(path, saved)
    with Store(path) as db:
        assert db.height() == 7 and db.get_meta("last") == b"7"
        for block, _, receipts, _, _ in saved:
            h = block.header.height
            assert db.load_block(h) == block and db.load_receipts(h) == receipts
            for i, tx in enumerate(block.txs):
                assert db.load_tx(tx.hash) == TxRecord(tx, receipts[i], h, i)
        for contract in (None, "asset", "gov"):
            for name in (None, "b"):
                assert db.events(contract=contract, name=name, limit=1000) == _reference(
                    saved, 1, contract, name, 1000
                )
            assert db.height_of_block(block.hash) == h
        # and it goes on as a version-2 store
        block_cert, receipts, nodes, updates = chain.next(8, 3)
        db.save_block(*block_cert, receipts, nodes, updates)
        assert db.load_tx(block_cert[0].txs[2].hash).height == 8
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "events" not in tables and "events_by_contract" not in tables
        assert {"event_index", "tx_recent", "tx_index", "blocks_by_hash"} <= tables
    finally:
        conn.close()


def test_an_unknown_schema_version_is_refused_by_name(tmp_path):
    path = tmp_path / "future.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=3")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 3 is not supported"):
        Store(path)
    conn = sqlite3.connect(path)
    try:  # refused without touching it
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    finally:
        conn.close()


def test_a_block_is_found_by_its_hash_through_an_index_made_at_open(tmp_path):
    """`height_of_block` is one lookup in the index `blocks_by_hash`, which every open
    creates when a (version-2) file lacks it, from the blocks already stored."""
    path = tmp_path / "chain.db"
    chain = EventChain(3)
    with Store(path) as db:
        for h in range(1, 6):
            block_cert, receipts, nodes, updates = chain.next(h, 2)
            db.save_block(*block_cert, receipts, nodes, updates)
        hashes = {h: db.load_header(h).hash for h in range(1, 6)}
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX blocks_by_hash")  # a file written before the index existed
    conn.commit()
    conn.close()
    with Store(path) as db:
        assert all(db.height_of_block(b) == h for h, b in hashes.items())
        assert db.height_of_block(b"\x00" * 32) is None
        block_cert, receipts, nodes, updates = chain.next(6, 1)
        db.save_block(*block_cert, receipts, nodes, updates)
        assert db.height_of_block(block_cert[0].hash) == 6
    conn = sqlite3.connect(path)
    try:
        plan = " ".join(
            str(r[-1])
            for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT height FROM blocks WHERE hash = ? "
                "ORDER BY height LIMIT 1",
                (hashes[1],),
            )
        )
        assert "INDEX blocks_by_hash (hash=?)" in plan, plan
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()
