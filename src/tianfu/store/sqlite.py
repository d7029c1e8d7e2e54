"""The node's block store: blocks, certificates, receipts, indexes and state in one SQLite file.

Durability: the file is in WAL mode with `synchronous=FULL`; each height (block, commit
certificate, receipts, tx and event indexes, Merkle tree nodes, latest state values and
optional meta rows) is written in ONE SQLite transaction, so after a crash at any moment
(kill -9, power loss) a height is either wholly present or wholly absent.

Threads: writes go through one writer connection, serialised by a lock, each as
`BEGIN IMMEDIATE ... COMMIT`. Reads go through a connection per thread (`threading.local`),
never the writer's: in WAL mode a reader keeps reading the last committed snapshot while a
block is being written, and sees the new height only once it is wholly committed. A single
read call runs one statement, so it sees one snapshot; `iter_latest` holds one cursor for
the whole scan, so it is one snapshot too, even if the same thread commits meanwhile.
Read connections of threads that have ended stay open until `close()`.

Stored rows are decoded with msgspec directly (the database is trusted and written only by
this class), without the canonical re-encoding check of `tianfu.codec.decode`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from tianfu.codec import encode
from tianfu.store.schema import connect, init_schema
from tianfu.types import Block, BlockHeader, CommitCertificate, Event, Receipt, Transaction

_dec_header = msgspec.msgpack.Decoder(BlockHeader)
_dec_txs = msgspec.msgpack.Decoder(list[Transaction])
_dec_tx = msgspec.msgpack.Decoder(Transaction)
_dec_cert = msgspec.msgpack.Decoder(CommitCertificate)
_dec_receipts = msgspec.msgpack.Decoder(list[Receipt])
_dec_receipt = msgspec.msgpack.Decoder(Receipt)
_dec_raw_list = msgspec.msgpack.Decoder(list[msgspec.Raw])
_dec_data = msgspec.msgpack.Decoder(dict[str, Any])

_SCAN_BATCH = 512


class StoreError(Exception):
    """A refused write (wrong height, different genesis, ...) or a database failure."""


@dataclass(frozen=True)
class TxRecord:
    """A committed transaction with its receipt and position."""

    tx: Transaction
    receipt: Receipt
    height: int
    index: int


def _prefix_end(prefix: bytes) -> bytes | None:
    """Smallest key greater than every key starting with `prefix` (None: no bound)."""
    p = bytearray(prefix)
    while p and p[-1] == 0xFF:
        p.pop()
    if not p:
        return None
    p[-1] += 1
    return bytes(p)


_IN_CHUNK = 500  # host parameters per IN (...) query, well under SQLite's limit


def encode_list(encoded: list[bytes]) -> bytes:
    """`encode(items)` from the items' own canonical encodings, without re-encoding them.

    A msgpack array is its header (the shortest form for its length) followed by its
    items' encodings, so this is byte for byte what `tianfu.codec.encode` gives.
    """
    n = len(encoded)
    if n < 16:
        head = bytes((0x90 | n,))
    elif n < 1 << 16:
        head = b"\xdc" + n.to_bytes(2, "big")
    else:
        head = b"\xdd" + n.to_bytes(4, "big")
    return head + b"".join(encoded)


class Store:
    """One node's durable ledger (see the module docstring for atomicity and threads)."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False
        self._writer: sqlite3.Connection | None = None
        # The committed height, kept in memory: this object is the file's only writer (one
        # database per node, writes serialised here), and `save_block` still checks the
        # stored height inside its own transaction before it writes.
        self._height = 0
        try:
            init_schema(self._writer_conn())
            top = self._writer_conn().execute("SELECT MAX(height) FROM blocks").fetchone()[0]
            self._height = int(top or 0)
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"cannot open store {self._path}: {exc}") from None

    # ------------------------------------------------------------------ plumbing

    def _open(self) -> sqlite3.Connection:
        try:
            conn = connect(self._path)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {self._path}: {exc}") from None
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _writer_conn(self) -> sqlite3.Connection:
        """The one connection that writes (call with the write lock held, or from __init__)."""
        if self._closed:
            raise StoreError("the store is closed")
        if self._writer is None:
            self._writer = self._open()
        return self._writer

    def _conn(self) -> sqlite3.Connection:
        """This thread's read connection."""
        if self._closed:
            raise StoreError("the store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        with self._write_lock:
            conn = self._writer_conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot start a write: {exc}") from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"write failed: {exc}") from None
                raise

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        try:
            return self._conn().execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from None

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from None

    def close(self) -> None:
        """Close every thread's connection; further calls raise `StoreError`."""
        self._closed = True
        with self._write_lock, self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
            self._writer = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ genesis / meta

    def save_genesis(self, genesis_bytes: bytes) -> None:
        """Store the genesis once; storing the same bytes again is a no-op."""
        with self._write() as conn:
            row = conn.execute("SELECT data FROM genesis WHERE id = 0").fetchone()
            if row is not None:
                if row[0] != genesis_bytes:
                    raise StoreError("this store already holds a different genesis")
                return
            conn.execute("INSERT INTO genesis (id, data) VALUES (0, ?)", (genesis_bytes,))

    def load_genesis(self) -> bytes | None:
        row = self._one("SELECT data FROM genesis WHERE id = 0")
        return None if row is None else row[0]

    def get_meta(self, key: str) -> bytes | None:
        row = self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else row[0]

    def set_meta(self, key: str, value: bytes) -> None:
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ writes

    @staticmethod
    def _write_state(
        conn: sqlite3.Connection,
        nodes: dict[bytes, bytes],
        state_updates: dict[bytes, bytes | None],
    ) -> None:
        if nodes:
            conn.executemany(
                "INSERT OR REPLACE INTO tree_nodes (key, value) VALUES (?, ?)",
                sorted(nodes.items()),
            )
        puts = sorted((k, v) for k, v in state_updates.items() if v is not None)
        deletes = sorted((k,) for k, v in state_updates.items() if v is None)
        if puts:
            conn.executemany("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", puts)
        if deletes:
            conn.executemany("DELETE FROM state WHERE key = ?", deletes)

    def save_block(
        self,
        block: Block,
        cert: CommitCertificate,
        receipts: list[Receipt],
        tree_nodes: dict[bytes, bytes],
        state_updates: dict[bytes, bytes | None],
        meta: dict[str, bytes] | None = None,
        *,
        encoded_txs: list[bytes] | None = None,
        encoded_receipts: list[bytes] | None = None,
        tx_hashes: list[bytes] | None = None,
    ) -> None:
        """Commit one height atomically. Refused unless it is the next height.

        A transaction hash already indexed (at an earlier height or earlier in this block)
        keeps its first position; the store does not judge replays, execution does.
        `encoded_txs`, `encoded_receipts` and `tx_hashes`, when given, are the canonical
        encodings of `block.txs` and `receipts` and the transactions' hashes, already
        computed by the caller (the ledger): they are used instead of computing them again.
        """
        height = block.header.height
        n = len(block.txs)
        if len(receipts) != n:
            raise StoreError(f"{len(receipts)} receipts for {n} transactions")
        block_hash = block.hash
        if cert.height != height or cert.block_hash != block_hash:
            raise StoreError(f"the commit certificate is not for block {height}")
        # Encode everything before taking the write lock: the transaction stays short.
        row = (
            height,
            block_hash,
            encode(block.header),
            encode_list(encoded_txs)
            if encoded_txs and len(encoded_txs) == n
            else encode(block.txs),
            encode(cert),
            encode_list(encoded_receipts)
            if encoded_receipts and len(encoded_receipts) == n
            else encode(receipts),
        )
        if tx_hashes is None or len(tx_hashes) != n:
            tx_hashes = [tx.hash for tx in block.txs]
        tx_rows = sorted(zip(tx_hashes, [height] * n, range(n), strict=True))
        event_rows = [
            (height, i, j, ev.contract, ev.name, encode(ev.data))
            for i, r in enumerate(receipts)
            for j, ev in enumerate(r.events)
        ]
        with self._write() as conn:
            current = conn.execute("SELECT MAX(height) FROM blocks").fetchone()[0] or 0
            if height != current + 1:
                self._height = current
                raise StoreError(f"cannot store block {height}: the store is at height {current}")
            conn.execute(
                "INSERT INTO blocks (height, hash, header, txs, cert, receipts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
            if tx_rows:
                conn.executemany(
                    "INSERT OR IGNORE INTO tx_index (hash, height, idx) VALUES (?, ?, ?)", tx_rows
                )
            if event_rows:
                conn.executemany(
                    "INSERT INTO events (height, tx_idx, ev_idx, contract, name, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    event_rows,
                )
            self._write_state(conn, tree_nodes, state_updates)
            if meta:
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", sorted(meta.items())
                )
        self._height = height  # committed: only now may readers be told

    def save_state_nodes(
        self, nodes: dict[bytes, bytes], state_updates: dict[bytes, bytes | None]
    ) -> None:
        """Tree nodes and latest values outside a block (the genesis state), atomically."""
        with self._write() as conn:
            self._write_state(conn, nodes, state_updates)

    # ------------------------------------------------------------------ block reads

    def height(self) -> int:
        """Latest committed height, 0 when no block is stored (kept in memory)."""
        if self._closed:
            raise StoreError("the store is closed")
        return self._height

    def load_block(self, height: int) -> Block | None:
        row = self._one("SELECT header, txs FROM blocks WHERE height = ?", (height,))
        if row is None:
            return None
        return Block(_dec_header.decode(row[0]), _dec_txs.decode(row[1]))

    def load_header(self, height: int) -> BlockHeader | None:
        row = self._one("SELECT header FROM blocks WHERE height = ?", (height,))
        return None if row is None else _dec_header.decode(row[0])

    def load_cert(self, height: int) -> CommitCertificate | None:
        row = self._one("SELECT cert FROM blocks WHERE height = ?", (height,))
        return None if row is None else _dec_cert.decode(row[0])

    def load_receipts(self, height: int) -> list[Receipt] | None:
        row = self._one("SELECT receipts FROM blocks WHERE height = ?", (height,))
        return None if row is None else _dec_receipts.decode(row[0])

    def headers(self, start: int, limit: int) -> list[BlockHeader]:
        """Up to `limit` consecutive headers from height `start`."""
        rows = self._all(
            "SELECT header FROM blocks WHERE height >= ? ORDER BY height LIMIT ?",
            (start, max(0, limit)),
        )
        return [_dec_header.decode(r[0]) for r in rows]

    def load_tx(self, tx_hash: bytes) -> TxRecord | None:
        row = self._one(
            "SELECT t.height, t.idx, b.txs, b.receipts FROM tx_index t "
            "JOIN blocks b ON b.height = t.height WHERE t.hash = ?",
            (tx_hash,),
        )
        if row is None:
            return None
        height, idx, txs, receipts = row
        # Slice the one entry out of each list without decoding the whole block.
        tx = _dec_tx.decode(_dec_raw_list.decode(txs)[idx])
        receipt = _dec_receipt.decode(_dec_raw_list.decode(receipts)[idx])
        return TxRecord(tx, receipt, height, idx)

    def has_tx(self, tx_hash: bytes) -> bool:
        return self._one("SELECT 1 FROM tx_index WHERE hash = ?", (tx_hash,)) is not None

    def committed_txs(self, tx_hashes: list[bytes]) -> set[bytes]:
        """Which of `tx_hashes` are committed: `has_tx` for many, a few queries in all."""
        found: set[bytes] = set()
        unique = sorted(set(tx_hashes))
        for i in range(0, len(unique), _IN_CHUNK):
            chunk = unique[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = self._all(f"SELECT hash FROM tx_index WHERE hash IN ({marks})", tuple(chunk))
            found.update(bytes(r[0]) for r in rows)
        return found

    def events(
        self,
        *,
        from_height: int = 1,
        contract: str | None = None,
        name: str | None = None,
        limit: int = 100,
    ) -> list[tuple[int, int, Event]]:
        """Events from `from_height` on, in chain order: (height, tx index, event)."""
        where = ["height >= ?"]
        params: list[Any] = [from_height]
        if contract is not None:
            where.append("contract = ?")
            params.append(contract)
        if name is not None:
            where.append("name = ?")
            params.append(name)
        params.append(max(0, limit))
        rows = self._all(
            "SELECT height, tx_idx, contract, name, data FROM events WHERE "
            + " AND ".join(where)
            + " ORDER BY height, tx_idx, ev_idx LIMIT ?",
            tuple(params),
        )
        return [(h, i, Event(c, n, _dec_data.decode(d))) for h, i, c, n, d in rows]

    # ------------------------------------------------------------------ state reads

    def get_node(self, node_key: bytes) -> bytes | None:
        """A Merkle tree node by its key (the state tree's NodeReader)."""
        row = self._one("SELECT value FROM tree_nodes WHERE key = ?", (node_key,))
        return None if row is None else row[0]

    def get_latest(self, key: bytes) -> bytes | None:
        """The latest committed value of a state key."""
        row = self._one("SELECT value FROM state WHERE key = ?", (key,))
        return None if row is None else row[0]

    def iter_latest(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Latest state under `prefix`, in key order, from one snapshot."""
        end = _prefix_end(prefix)
        if end is None:
            sql, params = "SELECT key, value FROM state WHERE key >= ? ORDER BY key", (prefix,)
        else:
            sql = "SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key"
            params = (prefix, end)  # type: ignore[assignment]
        try:
            cur = self._conn().execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"read failed: {exc}") from None
        try:
            while True:
                try:
                    batch = cur.fetchmany(_SCAN_BATCH)
                except sqlite3.Error as exc:
                    raise StoreError(f"read failed: {exc}") from None
                if not batch:
                    return
                yield from batch
        finally:
            cur.close()
