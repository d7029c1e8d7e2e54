"""The node's block store: blocks, certificates, receipts, indexes and state in one SQLite file.

Durability: the file is in WAL mode with `synchronous=FULL`; each height (block, commit
certificate, receipts, tx and event indexes, Merkle tree nodes, latest state values and
optional meta rows) is written in ONE SQLite transaction, so after a crash at any moment
(kill -9, power loss) a height is either wholly present or wholly absent. After every
commit the WAL is checkpointed into the database file (`PRAGMA wal_checkpoint(FULL)`,
which waits for readers of older snapshots), before the write returns: a committed height
is in `chain.db` itself, so it survives the loss of `chain.db-wal` (ADR 0006).

Failures are typed: `StoreWriteError` — a write SQLite could not do (disk full, I/O
error, read-only file); the transaction was rolled back and the store is unchanged, so the
write may be retried later. `StoreDamaged` — SQLite reports the file damaged, or stored
bytes do not decode; `on_damage` (if set) hears of it before it is raised.

Rows per block (ADR 0016): the block row (header, transactions, certificate and receipts,
events included, as blobs), one tx-index row per transaction, one event-index row per
(contract, event name) occurring in the block, the tree nodes and the latest values. The
many-row batches go in as one statement each (`tianfu.store.bulk`), key-sorted.

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

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from tianfu.codec import encode, encode_list
from tianfu.store.bulk import HASHES_SELECT, PAIRS_SELECT, pack_hashes, pack_pairs
from tianfu.store.schema import connect, init_schema
from tianfu.store.seen import TxHashFilter
from tianfu.types import Block, BlockHeader, CommitCertificate, Event, Receipt, Transaction

log = logging.getLogger(__name__)

_dec_header = msgspec.msgpack.Decoder(BlockHeader)
_dec_txs = msgspec.msgpack.Decoder(list[Transaction])
_dec_tx = msgspec.msgpack.Decoder(Transaction)
_dec_cert = msgspec.msgpack.Decoder(CommitCertificate)
_dec_receipts = msgspec.msgpack.Decoder(list[Receipt])
_dec_receipt = msgspec.msgpack.Decoder(Receipt)
_dec_raw_list = msgspec.msgpack.Decoder(list[msgspec.Raw])

_SCAN_BATCH = 512

# `tx_recent` is merged into `tx_index` once it holds this many rows (ADR 0016): a block's
# rows land in a small table (few pages to rewrite), the big one gets key-sorted runs.
TX_MERGE_ROWS = 16_384

# A hash's first position in either part of the tx index (tx_index holds older heights).
_TX_POSITION = (
    "SELECT height, idx FROM tx_index WHERE hash = ?1 UNION ALL "
    "SELECT height, idx FROM tx_recent WHERE hash = ?1 ORDER BY height, idx LIMIT 1"
)
# The committed ones of 32-byte hashes packed by `pack_hashes` (?1 blob, ?2 JSON array).
_COMMITTED_OF_PACKED = (
    "SELECT h FROM (SELECT substr(?1, key * 32 + 2, 32) AS h FROM json_each(?2)) "
    "WHERE EXISTS (SELECT 1 FROM tx_index WHERE hash = h) "
    "OR EXISTS (SELECT 1 FROM tx_recent WHERE hash = h)"
)


class StoreError(Exception):
    """A refused write (wrong height, different genesis, ...) or a database failure."""


class StoreWriteError(StoreError):
    """SQLite could not write (disk full, I/O error, read-only file). The transaction was
    rolled back: the store is as it was, and the same write may succeed later."""


class StoreDamaged(StoreError):
    """The store file is damaged: SQLite says so (malformed image, not a database, I/O
    error on read) or stored bytes do not decode. Reads will not get better by retrying."""


# SQLite's primary result codes (`sqlite3.Error.sqlite_errorcode & 0xFF`) that mean the file
# itself is bad, and those of a write the system could not do.
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_NOTADB = 10, 11, 26
_DAMAGE_CODES = frozenset({_SQLITE_CORRUPT, _SQLITE_NOTADB})
_WRITE_CODES = frozenset({3, 8, 10, 13, 14})  # PERM, READONLY, IOERR, FULL, CANTOPEN


def _code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


_T = TypeVar("_T")


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
        self._recent_rows = 0  # rows in tx_recent (writer's view, see `save_block`)
        # Every indexed tx hash, in memory: "never committed" without a query (`seen.py`).
        self._seen = TxHashFilter()
        # Called (from the thread that found it) when a read or write finds the file damaged.
        self.on_damage: Callable[[StoreDamaged], None] | None = None
        self.checkpoints_incomplete = 0  # commits whose WAL frames could not all be copied
        self.write_failures = 0  # writes SQLite could not do (the store stayed as it was)
        try:
            conn = self._writer_conn()
            init_schema(conn)
            top = conn.execute("SELECT MAX(height) FROM blocks").fetchone()[0]
            self._height = int(top or 0)
            recent = conn.execute("SELECT COUNT(*) FROM tx_recent").fetchone()[0]
            self._recent_rows = int(recent)
            self._seen = self._load_seen(conn)
        except sqlite3.Error as exc:
            self.close()
            if _code(exc) in _DAMAGE_CODES or _code(exc) == _SQLITE_IOERR:
                raise StoreDamaged(f"store {self._path}: cannot open it: {exc}") from None
            raise StoreError(f"cannot open store {self._path}: {exc}") from None
        except StoreDamaged:
            self.close()
            raise

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _load_seen(conn: sqlite3.Connection) -> TxHashFilter:
        """The filter of every hash in both parts of the tx index (at open: no writer yet)."""
        total = conn.execute(
            "SELECT (SELECT COUNT(*) FROM tx_index) + (SELECT COUNT(*) FROM tx_recent)"
        ).fetchone()[0]
        seen = TxHashFilter(int(total))
        for table in ("tx_index", "tx_recent"):
            cur = conn.execute(f"SELECT hash FROM {table}")
            while batch := cur.fetchmany(4096):
                seen.add([r[0] for r in batch])  # BLOB columns come back as bytes
        return seen

    def _open(self) -> sqlite3.Connection:
        try:
            conn = connect(self._path)
        except sqlite3.Error as exc:
            if _code(exc) in _DAMAGE_CODES or _code(exc) == _SQLITE_IOERR:
                raise self._damaged(f"cannot open it: {exc}") from None
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

    def _failed(self, exc: sqlite3.Error, doing: str) -> StoreError:
        """The typed error for a SQLite failure (and `on_damage` told of a damaged file)."""
        code = _code(exc)
        if doing != "read":
            self.write_failures += 1
        if code in _DAMAGE_CODES or (code == _SQLITE_IOERR and doing == "read"):
            return self._damaged(f"{doing} failed: {exc}")
        if doing != "read" and code in _WRITE_CODES:
            return StoreWriteError(f"{doing} failed: {exc}")
        return StoreError(f"{doing} failed: {exc}")

    def _damaged(self, message: str) -> StoreDamaged:
        err = StoreDamaged(f"store {self._path}: {message}")
        hook = self.on_damage
        if hook is not None:
            try:
                hook(err)
            except Exception:  # the listener's bug must not hide the damage
                log.exception("store damage listener failed")
        return err

    def _decoded(self, decode: Callable[[Any], _T], data: Any, what: str) -> _T:
        """`decode(data)` of stored bytes; bytes that do not decode mean a damaged file."""
        try:
            return decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError, TypeError, IndexError) as exc:
            raise self._damaged(f"stored {what} does not decode: {exc}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed (and checkpointed), or none of it."""
        with self._write_lock:
            conn = self._writer_conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._failed(exc, "starting a write") from None
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._failed(exc, "write") from None
                raise
            self._checkpoint(conn)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        """Copy the WAL into the database file and sync it (the write is committed already).

        FULL waits (busy handler) for readers of older snapshots to finish, then copies
        every frame: the committed height no longer depends on `chain.db-wal`. If it cannot
        (disk full while the file grows, a reader held on past the busy timeout), the
        height stays committed and durable in the WAL; the next write's checkpoint copies
        it along.
        """
        try:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        except sqlite3.Error as exc:
            busy, frames, copied = 1, -1, -1
            log.warning("checkpoint after a commit failed: %s", exc)
        if busy or copied < frames:
            self.checkpoints_incomplete += 1

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        try:
            return self._conn().execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise self._failed(exc, "read") from None

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._failed(exc, "read") from None

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
    def _put_pairs(conn: sqlite3.Connection, table: str, pairs: list[tuple[bytes, bytes]]) -> None:
        """`INSERT OR REPLACE` key-sorted (key, value) rows, in one statement when they fit."""
        if not pairs:
            return
        packed = pack_pairs(pairs)
        if packed is None:
            conn.executemany(f"INSERT OR REPLACE INTO {table} (key, value) VALUES (?, ?)", pairs)
        else:
            conn.execute(f"INSERT OR REPLACE INTO {table} (key, value) {PAIRS_SELECT}", packed)

    @classmethod
    def _write_state(
        cls,
        conn: sqlite3.Connection,
        nodes: dict[bytes, bytes],
        state_updates: dict[bytes, bytes | None],
    ) -> None:
        cls._put_pairs(conn, "tree_nodes", sorted(nodes.items()))
        puts = sorted((k, v) for k, v in state_updates.items() if v is not None)
        deletes = sorted((k,) for k, v in state_updates.items() if v is None)
        cls._put_pairs(conn, "state", puts)
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
        # (hash, index) sorted: a hash repeated in the block keeps its first index
        tx_rows = sorted(zip(tx_hashes, range(n), strict=True))
        tx_packed = pack_hashes(tx_rows)
        event_rows = sorted({(ev.contract, height, ev.name) for r in receipts for ev in r.events})
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
            if tx_packed is not None and tx_rows:
                conn.execute(
                    f"INSERT OR IGNORE INTO tx_recent (hash, height, idx) {HASHES_SELECT}",
                    (*tx_packed, height),
                )
            elif tx_rows:
                conn.executemany(
                    "INSERT OR IGNORE INTO tx_recent (hash, height, idx) VALUES (?, ?, ?)",
                    [(h, height, i) for h, i in tx_rows],
                )
            recent_rows = self._recent_rows + n
            if recent_rows >= TX_MERGE_ROWS:
                # Older positions are in tx_index already and stay (first position wins).
                conn.execute(
                    "INSERT OR IGNORE INTO tx_index (hash, height, idx) "
                    "SELECT hash, height, idx FROM tx_recent ORDER BY hash"
                )
                conn.execute("DELETE FROM tx_recent")
                recent_rows = 0
            if event_rows:
                conn.executemany(
                    "INSERT INTO event_index (contract, height, name) VALUES (?, ?, ?)",
                    event_rows,
                )
            self._write_state(conn, tree_nodes, state_updates)
            if meta:
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", sorted(meta.items())
                )
            # Before COMMIT: a hash readable in the index always has its bit (a rolled back
            # block leaves bits that only cost a query).
            self._seen.add(tx_hashes)
        self._height = height  # committed: only now may readers be told
        self._recent_rows = recent_rows

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
        header = self._decoded(_dec_header.decode, row[0], f"header {height}")
        return Block(header, self._decoded(_dec_txs.decode, row[1], f"block {height}"))

    def load_block_encoded(self, height: int) -> bytes | None:
        """`codec.encode(load_block(height))`, from the stored bytes without decoding them.

        For serving blocks to peers (commit frames, sync): a `Block` is a msgpack array of
        two, its header and its transaction list, each stored in its canonical encoding.
        """
        row = self._one("SELECT header, txs FROM blocks WHERE height = ?", (height,))
        return None if row is None else b"\x92" + row[0] + row[1]

    def load_header(self, height: int) -> BlockHeader | None:
        row = self._one("SELECT header FROM blocks WHERE height = ?", (height,))
        if row is None:
            return None
        return self._decoded(_dec_header.decode, row[0], f"header {height}")

    def load_cert(self, height: int) -> CommitCertificate | None:
        row = self._one("SELECT cert FROM blocks WHERE height = ?", (height,))
        if row is None:
            return None
        return self._decoded(_dec_cert.decode, row[0], f"certificate {height}")

    def load_receipts(self, height: int) -> list[Receipt] | None:
        row = self._one("SELECT receipts FROM blocks WHERE height = ?", (height,))
        if row is None:
            return None
        return self._decoded(_dec_receipts.decode, row[0], f"receipts {height}")

    def headers(self, start: int, limit: int) -> list[BlockHeader]:
        """Up to `limit` consecutive headers from height `start`."""
        rows = self._all(
            "SELECT header FROM blocks WHERE height >= ? ORDER BY height LIMIT ?",
            (start, max(0, limit)),
        )
        return [self._decoded(_dec_header.decode, r[0], "header") for r in rows]

    def load_tx(self, tx_hash: bytes) -> TxRecord | None:
        if self._closed:
            raise StoreError("the store is closed")
        if type(tx_hash) is not bytes:
            tx_hash = bytes(tx_hash)
        if not self._seen.might_contain(tx_hash):
            return None
        row = self._one(
            f"SELECT t.height, t.idx, b.txs, b.receipts FROM ({_TX_POSITION}) t "
            "JOIN blocks b ON b.height = t.height",
            (tx_hash,),
        )
        if row is None:
            return None
        height, idx, txs, receipts = row
        # Slice the one entry out of each list without decoding the whole block.
        what = f"transaction {height}/{idx}"
        tx = self._decoded(lambda b: _dec_tx.decode(_dec_raw_list.decode(b)[idx]), txs, what)
        receipt = self._decoded(
            lambda b: _dec_receipt.decode(_dec_raw_list.decode(b)[idx]), receipts, what
        )
        return TxRecord(tx, receipt, height, idx)

    def tx_position(self, tx_hash: bytes) -> tuple[int, int] | None:
        """(height, index) of a committed transaction, or None."""
        if self._closed:
            raise StoreError("the store is closed")
        if type(tx_hash) is not bytes:
            tx_hash = bytes(tx_hash)
        if not self._seen.might_contain(tx_hash):
            return None
        row = self._one(_TX_POSITION, (tx_hash,))
        return None if row is None else (int(row[0]), int(row[1]))

    def has_tx(self, tx_hash: bytes) -> bool:
        if self._closed:
            raise StoreError("the store is closed")
        if type(tx_hash) is not bytes:
            tx_hash = bytes(tx_hash)
        if not self._seen.might_contain(tx_hash):
            return False
        return self._one(_TX_POSITION, (tx_hash,)) is not None

    def committed_txs(self, tx_hashes: list[bytes]) -> set[bytes]:
        """Which of `tx_hashes` are committed: `has_tx` for many, as of one snapshot.

        The hash filter rules out the never-indexed ones; the others are looked up in one
        statement (one snapshot: a merge cannot move a hash between the two parts of the
        index unseen). If a block began committing meanwhile, a hash ruled out before it may
        be in that statement's snapshot: then all are looked up again, in one statement.
        """
        if self._closed:
            raise StoreError("the store is closed")
        seen = self._seen
        generation = seen.generation
        unique = set(tx_hashes)
        maybe = seen.maybe(unique)
        if not maybe:
            return set()  # = the index at the filter's look (every committed hash has a bit)
        found = self._committed(sorted(maybe))
        if seen.generation != generation:
            found = self._committed(sorted(unique))
        return found

    def _committed(self, unique: list[bytes]) -> set[bytes]:
        """The committed ones of `unique` (sorted, distinct), in one snapshot."""
        packed = pack_hashes([(h, 0) for h in unique])
        if packed is not None:
            rows = self._all(_COMMITTED_OF_PACKED, packed)
            return {bytes(r[0]) for r in rows}
        found: set[bytes] = set()
        for i in range(0, len(unique), _IN_CHUNK):  # hashes that are not 32 bytes long
            chunk = unique[i : i + _IN_CHUNK]
            marks = ",".join(f"?{j}" for j in range(1, len(chunk) + 1))
            rows = self._all(
                f"SELECT hash FROM tx_index WHERE hash IN ({marks}) UNION ALL "
                f"SELECT hash FROM tx_recent WHERE hash IN ({marks})",
                tuple(chunk),
            )
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
        """Events from `from_height` on, in chain order: (height, tx index, event).

        The event index names the blocks holding a matching event (each such block gives
        at least one, so at most `limit` blocks are read); the events themselves come from
        those blocks' receipts, read by one statement, so from one snapshot.
        """
        limit = max(0, limit)
        out: list[tuple[int, int, Event]] = []
        if limit == 0:
            return out
        where = ["height >= ?"]
        params: list[Any] = [from_height]
        if contract is not None:
            where.append("contract = ?")
            params.append(contract)
        if name is not None:
            where.append("name = ?")
            params.append(name)
        params.append(limit)
        sql = (
            "SELECT height, receipts FROM blocks WHERE height IN "
            "(SELECT DISTINCT height FROM event_index WHERE "
            + " AND ".join(where)
            + " ORDER BY height LIMIT ?) ORDER BY height"
        )
        try:
            cur = self._conn().execute(sql, tuple(params))
        except sqlite3.Error as exc:
            raise self._failed(exc, "read") from None
        try:
            while len(out) < limit:
                try:
                    row = cur.fetchone()
                except sqlite3.Error as exc:
                    raise self._failed(exc, "read") from None
                if row is None:
                    break
                height = row[0]
                receipts = self._decoded(_dec_receipts.decode, row[1], f"receipts {height}")
                for i, receipt in enumerate(receipts):
                    for ev in receipt.events:
                        if (contract is None or ev.contract == contract) and (
                            name is None or ev.name == name
                        ):
                            out.append((height, i, ev))
        finally:
            cur.close()
        return out[:limit]

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
            raise self._failed(exc, "read") from None
        try:
            while True:
                try:
                    batch = cur.fetchmany(_SCAN_BATCH)
                except sqlite3.Error as exc:
                    raise self._failed(exc, "read") from None
                if not batch:
                    return
                yield from batch
        finally:
            cur.close()
