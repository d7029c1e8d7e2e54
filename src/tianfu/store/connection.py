"""An open block-store file: its writer and per-thread reader connections, the writer's
lock and checkpoint, and the typed failures every read and write reports.

`tianfu.store.sqlite` describes durability and threads; `tianfu.store.reads` and
`tianfu.store.sqlite.Store` build the reads and writes on this class.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self, TypeVar

import msgspec

from tianfu.store.errors import (
    DAMAGE_CODES,
    SQLITE_IOERR,
    WRITE_CODES,
    StoreDamaged,
    StoreError,
    StoreWriteError,
    sqlite_code,
)
from tianfu.store.schema import WAL_AUTOCHECKPOINT, connect, init_schema
from tianfu.store.seen import TxHashFilter

log = logging.getLogger("tianfu.store.sqlite")

_T = TypeVar("_T")


class StoreFile:
    """One node's store file, opened (see `tianfu.store.sqlite` for atomicity and threads)."""

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
        # The thread inside `deferred_fsync` (None: every commit is durable at once), and
        # whether it committed since the last fsync.
        self._deferring: int | None = None
        self._unsynced = False
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
            if sqlite_code(exc) in DAMAGE_CODES or sqlite_code(exc) == SQLITE_IOERR:
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
            if sqlite_code(exc) in DAMAGE_CODES or sqlite_code(exc) == SQLITE_IOERR:
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
        code = sqlite_code(exc)
        if doing != "read":
            self.write_failures += 1
        if code in DAMAGE_CODES or (code == SQLITE_IOERR and doing == "read"):
            return self._damaged(f"{doing} failed: {exc}")
        if doing != "read" and code in WRITE_CODES:
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
            if self._deferring is None:
                self._checkpoint(conn)  # synchronous=FULL: the COMMIT fsynced the WAL
            elif self._deferring == threading.get_ident():
                self._unsynced = True
            else:  # another thread's write during a deferral is durable at once, as always
                self._make_durable(conn)

    @contextmanager
    def deferred_fsync(self) -> Iterator[None]:
        """Writes of this thread inside the block are durable together at its end.

        Each write is still its own transaction (atomic, seen by readers once committed);
        only its fsync is deferred (`synchronous=NORMAL`, no checkpoint, not even SQLite's
        automatic one), and when the block exits (normally or not) the WAL is fsynced once
        and checkpointed, as after an ordinary commit. Until then a process crash loses nothing (the WAL is written at
        every COMMIT); a power loss may take back the latest writes of the block, never
        part of one: SQLite recovers the WAL up to its last whole transaction. Writes of
        other threads meanwhile are durable when they return, as always. Not reentrant.
        """
        with self._write_lock:
            if self._deferring is not None:
                raise StoreError("deferred_fsync is already in use")
            conn = self._writer_conn()
            try:
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA wal_autocheckpoint=0")  # the end's checkpoint does it
            except sqlite3.Error as exc:
                raise self._failed(exc, "deferring fsync") from None
            self._deferring = threading.get_ident()
        try:
            yield
        finally:
            with self._write_lock:
                self._deferring = None
                writer = self._writer
                if writer is not None:
                    try:
                        writer.execute("PRAGMA synchronous=FULL")
                        writer.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
                    except sqlite3.Error as exc:
                        raise self._failed(exc, "restoring synchronous=FULL") from None
                    finally:
                        if self._unsynced:
                            self._make_durable(writer)

    def _make_durable(self, conn: sqlite3.Connection) -> None:
        """fsync the WAL (every frame written so far), then checkpoint as after a commit.
        Raises StoreWriteError if the fsync fails (durability of the writes is unknown)."""
        self._unsynced = False
        try:
            fd = os.open(self._path + "-wal", os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            self.write_failures += 1
            raise StoreWriteError(f"syncing the WAL failed: {exc}") from None
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
