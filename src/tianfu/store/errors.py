"""The block store's typed failures and the SQLite result codes that select them."""

from __future__ import annotations

import sqlite3


class StoreError(Exception):
    """A refused write (wrong height, different genesis, ...) or a database failure."""


class StoreWriteError(StoreError):
    """SQLite could not write (disk full, I/O error, read-only file). The transaction was
    rolled back: the store is as it was, and the same write may succeed later."""

    not_a_tx_fault = True  # the host's failure: a proposer blames no transaction for it
    write_fault = True  # not even when it repeats while the store answers a small write


class StoreBusy(StoreError):
    """Another connection holds the database locked past the busy timeout ("database is
    locked", "database table is locked"). Nothing was read or written; a later try may
    succeed."""

    not_a_tx_fault = True


class StoreDamaged(StoreError):
    """The store file is damaged: SQLite says so (malformed image, not a database, I/O
    error on read) or stored bytes do not decode. Reads will not get better by retrying."""

    not_a_tx_fault = True


class StoreNoMemory(StoreError):
    """SQLite ran out of memory (SQLITE_NOMEM): nothing was read or written; a later try may
    succeed. The host's failure, not a transaction's."""

    not_a_tx_fault = True


class StoreClosed(StoreError):
    """The store was closed (the node is stopping, or a repair moved it aside): nothing was
    read or written. Not a transaction's fault, nor damage."""

    not_a_tx_fault = True


# SQLite's primary result codes (`sqlite3.Error.sqlite_errorcode & 0xFF`) that mean the file
# itself is bad, and those of a write the system could not do.
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_NOTADB = 10, 11, 26
BUSY_CODES = frozenset({5, 6})  # BUSY, LOCKED
SQLITE_NOMEM = 7
DAMAGE_CODES = frozenset({SQLITE_CORRUPT, SQLITE_NOTADB})
WRITE_CODES = frozenset({3, 8, 10, 13, 14})  # PERM, READONLY, IOERR, FULL, CANTOPEN


# SQLite's extended I/O error codes of a write, a sync, or the shared-memory index beside a
# WAL database (`chain.db-shm`, sized and mapped at open): WRITE, FSYNC, DIR_FSYNC,
# TRUNCATE, SHMOPEN, SHMSIZE, SHMMAP. The system could not do it (a full disk, a
# read-only file system); the database file is not damaged. (A full disk at open is
# SQLITE_IOERR_SHMSIZE: the index cannot be sized.)
IOERR_NOT_DAMAGE = frozenset(SQLITE_IOERR | (n << 8) for n in (3, 4, 5, 6, 18, 19, 21))


def sqlite_code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def cannot_write(exc: sqlite3.Error) -> bool:
    """Whether `exc` is an I/O error of a write or of the shared-memory index, not of
    reading the file (see `IOERR_NOT_DAMAGE`)."""
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) in IOERR_NOT_DAMAGE
