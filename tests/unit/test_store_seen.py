"""Unit tests: the store's in-memory filter of tx hashes (`tianfu.store.seen`) gives exactly
the tx index's answers (ruled-out hashes, false positives, merges, reopen, a block committed
during a lookup), and `load_block_encoded` is the block's canonical encoding."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest
from test_store import Chain, fill

from tianfu.codec import encode
from tianfu.store import Store, StoreError
from tianfu.store import seen as seen_mod
from tianfu.store import sqlite as store_sqlite
from tianfu.store.seen import TxHashFilter


def _indexed(path) -> set[bytes]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT hash FROM tx_index UNION SELECT hash FROM tx_recent")
        return {bytes(r[0]) for r in rows}
    finally:
        conn.close()


def test_filter_rules_out_only_what_was_never_added():
    f = TxHashFilter()
    added = [os.urandom(32) for _ in range(1000)]
    others = [os.urandom(32) for _ in range(1000)]
    assert f.maybe(added) == [] and not any(f.might_contain(h) for h in added)
    g = f.generation
    f.add(added)
    assert f.generation == g + 1
    assert f.maybe(added) == added and all(f.might_contain(h) for h in added)
    # 1000 of 2**26 bits set: a false positive among 1000 others is very unlikely
    assert len(f.maybe(others)) <= 2


def test_filter_size_follows_the_count_at_open():
    # At least 16 bits per indexed hash, a power of two, from 2**26 bits (8 MiB) up to
    # 2**31 bits (256 MiB).
    assert TxHashFilter(0).size_bits == 1 << 26 == seen_mod.MIN_BITS
    assert TxHashFilter(4_194_304).size_bits == 1 << 26  # exactly 16 bits each
    assert TxHashFilter(4_194_305).size_bits == 1 << 27
    assert TxHashFilter(10_000_000).size_bits == 1 << 28
    assert TxHashFilter(10**12).size_bits == 1 << 31 == seen_mod.MAX_BITS


@pytest.mark.parametrize("bits", [8, 1 << 26])
def test_answers_equal_the_index(tmp_path, monkeypatch, bits):
    """With 8 bits nearly every absent hash is a false positive: the index decides."""
    monkeypatch.setattr(seen_mod, "MIN_BITS", bits)
    monkeypatch.setattr(store_sqlite, "TX_MERGE_ROWS", 10)
    path = tmp_path / "s.db"
    chain = Chain()
    absent = [os.urandom(32) for _ in range(50)] + [b"short", b"\x00" * 33]

    def check(db: Store) -> None:
        indexed = _indexed(path)
        present = sorted(indexed)
        assert db.committed_txs(present + absent + present[:3]) == indexed
        assert db.committed_txs(absent) == set()
        assert all(db.has_tx(h) for h in present) and not any(db.has_tx(h) for h in absent)
        assert all(db.load_tx(h) is not None for h in present)
        assert all(db.load_tx(h) is None for h in absent)
        assert not db.has_tx(bytearray(absent[0]))
        assert not present or db.has_tx(bytearray(present[0]))

    with Store(path) as db:
        check(db)
        fill(db, chain, range(1, 8), lambda h: [3, 4, 0, 5, 1, 2, 8][h - 1])  # merges
        check(db)
    with Store(path) as again:  # the filter is rebuilt from both parts of the index
        assert again._seen.size_bits >= bits  # sized again: >= 16 bits per hash
        check(again)
        fill(again, chain, range(8, 10), 3)
        check(again)


def test_a_refused_block_is_not_reported(tmp_path):
    chain = Chain()
    with Store(tmp_path / "s.db") as db:
        fill(db, chain, range(1, 3), 4)
        block, cert, receipts, nodes, updates = chain.next(3, 4)
        # a value that does not fit the NOT NULL column fails the block inside its transaction
        with pytest.raises(StoreError):
            db.save_block(block, cert, receipts, nodes, {b"k": None, **updates}, {"m": None})
        assert db.height() == 2
        assert not db.has_tx(block.txs[0].hash) and db.load_tx(block.txs[0].hash) is None
        db._seen.add(t.hash for t in block.txs)  # as if the COMMIT itself had failed
        assert not db.has_tx(block.txs[0].hash)  # a set bit only asks the index
        assert db.committed_txs([t.hash for t in block.txs]) == set()


def test_a_block_committed_during_a_lookup_gives_one_snapshot(tmp_path):
    """A hash ruled out by the filter, then committed before the index is read together
    with an earlier one, is reported too: the answer is one snapshot of the index."""
    chain = Chain()
    with Store(tmp_path / "s.db") as db:
        ((old_block, *_),) = fill(db, chain, range(1, 2), 3)
        parts = chain.next(2, 3)
        new = parts[0].txs[0].hash
        old = old_block.txs[0].hash
        assert not db._seen.might_contain(new)
        real = db._committed
        calls: list[list[bytes]] = []

        def committing_meanwhile(unique: list[bytes]) -> set[bytes]:
            calls.append(unique)
            if len(calls) == 1:
                db.save_block(*parts)
            return real(unique)

        db._committed = committing_meanwhile  # type: ignore[method-assign]
        assert db.committed_txs([old, new]) == {old, new}
        assert calls == [[old], sorted([old, new])]
        calls.clear()
        db._committed = real  # type: ignore[method-assign]
        # without a concurrent block, only the filter's "maybe"s go to the index
        assert db.committed_txs([os.urandom(32), old]) == {old}


def test_concurrent_lookups_see_every_committed_hash(tmp_path):
    chain = Chain()
    blocks = [chain.next(h, 30) for h in range(1, 25)]
    errors: list[BaseException] = []
    done = threading.Event()
    with Store(tmp_path / "s.db") as db:

        def reader() -> None:
            try:
                while not done.is_set():
                    h = db.height()
                    hashes = [t.hash for b in blocks[:h] for t in b[0].txs]
                    later = [t.hash for b in blocks[h:] for t in b[0].txs]
                    found = db.committed_txs(hashes + later)
                    assert found >= set(hashes)
                    # anything else is of blocks committed meanwhile (at most one not yet counted)
                    top = db.height()
                    assert found <= {t.hash for b in blocks[: top + 1] for t in b[0].txs}
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for parts in blocks:
            db.save_block(*parts)
        done.set()
        for t in threads:
            t.join()
        assert not errors, errors[0]


def test_load_block_encoded_is_the_blocks_encoding(tmp_path):
    chain = Chain()
    with Store(tmp_path / "s.db") as db:
        saved = fill(db, chain, range(1, 4), lambda h: [0, 1, 20][h - 1])
        for h, (block, *_) in enumerate(saved, start=1):
            assert db.load_block_encoded(h) == encode(block) == encode(db.load_block(h))
        assert db.load_block_encoded(4) is None


def test_lookups_on_a_closed_store_raise(tmp_path):
    db = Store(tmp_path / "s.db")
    db.close()
    for call in (
        lambda: db.has_tx(b"\x01" * 32),
        lambda: db.committed_txs([b"\x01" * 32]),
        lambda: db.load_tx(b"\x01" * 32),
        lambda: db.load_block_encoded(1),
    ):
        with pytest.raises(StoreError):
            call()
