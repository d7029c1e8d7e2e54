"""An open block-store file: its writer and per-thread reader connections, the writer's
lock and checkpoint, and the typed failures every read and write reports.

`tianfu.store.sqlite` describes durability and threads; `tianfu.store.reads` and
`tianfu.store.sqlite.Store` build the reads and writes on this class.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import msgspec

from tianfu.store.errors import (
    BUSY_CODES,
    DAMAGE_CODES,
    SQLITE_IOERR,
    SQLITE_NOMEM,
    WRITE_CODES,
    StoreBusy,
    StoreClosed,
    StoreDamaged,
    StoreError,
    StoreNoMemory,
    StoreWriteError,
    cannot_write,
    sqlite_code,
)
from tianfu.store.schema import connect, init_schema
from tianfu.store.seen import TxHashFilter

log = logging.getLogger("tianfu.store.sqlite")

_T = TypeVar("_T")


class _ThreadConn:
    """A thread's read connection, held by that thread only (its `threading.local`): closed
    when the thread ends and its locals go, or when the store closes. A pool of worker
    threads ends its idle workers and starts new ones under the next load; holding each
    connection until the store closed leaked two file handles and up to a page cache's
    memory per ended thread, until the node could open no file at all."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


@dataclass
class WriteGroup:
    """The writes of one thread grouped into one transaction (`grouped_writes`): the
    thread, the height and tx_recent rows as that transaction sees them, and the rows kept
    in memory until the group's end (tree nodes; latest state values, the newest wins)."""

    thread: int
    conn: sqlite3.Connection
    height: int
    recent_rows: int
    failed: bool = False  # a write of the group raised: the group is rolled back whole
    nodes: dict[bytes, bytes] = field(default_factory=dict)
    state: dict[bytes, bytes | None] = field(default_factory=dict)


class StoreFile:
    """One node's store file, opened (see `tianfu.store.sqlite` for atomicity and threads)."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []  # the writer's
        self._readers: weakref.WeakSet[_ThreadConn] = weakref.WeakSet()  # the threads'
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
        # The open `grouped_writes` transaction (None: every write is its own transaction).
        self._group: WriteGroup | None = None
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
            if cannot_write(exc):
                raise self._cannot_open(exc) from None
            if sqlite_code(exc) in DAMAGE_CODES or sqlite_code(exc) == SQLITE_IOERR:
                raise StoreDamaged(f"store {self._path}: cannot open it: {exc}") from None
            if sqlite_code(exc) in BUSY_CODES:  # another process holds it locked
                raise StoreBusy(f"cannot open store {self._path}: {exc}") from None
            raise StoreError(f"cannot open store {self._path}: {exc}") from None
        except BaseException:  # anything else (Ctrl-C while the tx hashes load): closed too
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

    def _cannot_open(self, exc: sqlite3.Error) -> StoreWriteError:
        """Opening needed a write the system refused (`cannot_write`): not damage."""
        name = getattr(exc, "sqlite_errorname", "")
        return StoreWriteError(
            f"cannot open store {self._path}: the file system refused a write ({exc}, "
            f"{name}): free disk space, or make it writable, under "
            f"{Path(self._path).parent}; the store is not damaged"
        )

    def _open(self) -> sqlite3.Connection:
        """A new connection (the caller keeps it: the writer's, or a thread's)."""
        try:
            conn = connect(self._path)
        except sqlite3.Error as exc:
            if cannot_write(exc):
                raise self._cannot_open(exc) from None
            if sqlite_code(exc) in DAMAGE_CODES or sqlite_code(exc) == SQLITE_IOERR:
                raise self._damaged(f"cannot open it: {exc}") from None
            if sqlite_code(exc) in BUSY_CODES:  # another process holds it locked
                raise StoreBusy(f"cannot open store {self._path}: {exc}") from None
            raise StoreError(f"cannot open store {self._path}: {exc}") from None
        return conn

    def _writer_conn(self) -> sqlite3.Connection:
        """The one connection that writes (call with the write lock held, or from __init__)."""
        if self._closed:
            raise StoreClosed("the store is closed")
        if self._writer is None:
            self._writer = self._open()
            with self._conns_lock:
                self._conns.append(self._writer)
        return self._writer

    def _mine(self) -> WriteGroup | None:
        """The group of writes this thread has open, if any."""
        group = self._group
        return group if group is not None and group.thread == threading.get_ident() else None

    def _conn(self) -> sqlite3.Connection:
        """This thread's read connection (the writer's inside its own `grouped_writes`, so
        that it reads what it wrote)."""
        if self._closed:
            raise StoreClosed("the store is closed")
        group = self._group
        if group is not None and group.thread == threading.get_ident():
            return group.conn
        mine: _ThreadConn | None = getattr(self._local, "conn", None)
        if mine is None:
            mine = _ThreadConn(self._open())
            with self._conns_lock:
                if self._closed:  # closed meanwhile: nothing is left open after close()
                    mine.conn.close()
                    raise StoreClosed("the store is closed")
                self._readers.add(mine)
            self._local.conn = mine
        return mine.conn

    def _failed(self, exc: sqlite3.Error, doing: str) -> StoreError:
        """The typed error for a SQLite failure (and `on_damage` told of a damaged file)."""
        code = sqlite_code(exc)
        if doing != "read":
            self.write_failures += 1
        if cannot_write(exc):  # (a read may need the shared-memory index grown)
            return StoreWriteError(f"{doing} failed: {exc}")
        if code in DAMAGE_CODES or (code == SQLITE_IOERR and doing == "read"):
            return self._damaged(f"{doing} failed: {exc}")
        if code in WRITE_CODES:  # (a read's: its temporary files, no space or no access)
            return StoreWriteError(f"{doing} failed: {exc}")
        if code in BUSY_CODES:
            return StoreBusy(f"{doing} failed: {exc}")
        if code == SQLITE_NOMEM:
            return StoreNoMemory(f"{doing} failed: {exc}")
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
        """One write transaction: all of it is committed (and checkpointed), or none of it.

        Inside this thread's `grouped_writes`, part of the group's transaction instead; if
        it raises, the whole group is rolled back when it ends."""
        group = self._mine()
        if group is not None:
            try:
                yield group.conn
            except BaseException as exc:
                group.failed = True
                if isinstance(exc, sqlite3.Error):
                    raise self._failed(exc, "write") from None
                raise
            return
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
            self._checkpoint(conn)  # synchronous=FULL: the COMMIT fsynced the WAL

    @contextmanager
    def grouped_writes(self) -> Iterator[None]:
        """This thread's writes inside the block form ONE transaction, committed (one fsync,
        one checkpoint) when the block exits normally, rolled back whole if it raises or if
        one of the writes raised (then StoreWriteError: nothing of the group is stored).

        This thread reads through the writer's connection meanwhile, so it sees its own
        writes, and `height()` gives it the group's height; every other thread sees the
        store as of before the group until its COMMIT, and a crash or power loss before the
        COMMIT leaves the store as it was before the group. Other threads' writes wait
        until the group ends. Raises StoreWriteError (and keeps nothing of the group) if the
        COMMIT fails. Not reentrant.
        """
        if self._mine() is not None:
            raise StoreError("grouped_writes is already in use by this thread")
        with self._write() as conn:
            try:
                top = conn.execute("SELECT MAX(height) FROM blocks").fetchone()[0]
            except sqlite3.Error as exc:
                raise self._failed(exc, "read") from None
            group = WriteGroup(threading.get_ident(), conn, int(top or 0), self._recent_rows)
            self._group = group
            try:
                yield
            finally:
                self._group = None
            if group.failed:
                raise StoreWriteError("a write of the group failed: none of it is stored")
            self._flush(conn, group)
        self._height, self._recent_rows = group.height, group.recent_rows

    def _flush(self, conn: sqlite3.Connection, group: WriteGroup) -> None:
        """Write the rows `group` kept in memory, inside its transaction (`Store` does)."""
        raise NotImplementedError

    def _written(self, height: int, recent_rows: int) -> None:
        """A block at `height` was written (tx_recent now holds `recent_rows`): committed, or
        in this thread's open group (then the group's view moves, not the readers')."""
        group = self._mine()
        if group is None:
            self._height, self._recent_rows = height, recent_rows
        else:
            group.height, group.recent_rows = height, recent_rows

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
        """Close every thread's connection; further calls raise `StoreClosed`."""
        self._closed = True
        with self._write_lock, self._conns_lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
            for reader in list(self._readers):
                reader.conn.close()
            self._readers.clear()
            self._writer = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
