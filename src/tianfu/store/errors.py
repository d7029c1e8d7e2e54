"""The block store's typed failures and the SQLite result codes that select them."""

from __future__ import annotations

import sqlite3


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
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_NOTADB = 10, 11, 26
DAMAGE_CODES = frozenset({SQLITE_CORRUPT, SQLITE_NOTADB})
WRITE_CODES = frozenset({3, 8, 10, 13, 14})  # PERM, READONLY, IOERR, FULL, CANTOPEN


def sqlite_code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
