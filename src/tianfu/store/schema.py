"""SQLite schema of the block store and the per-connection settings (WAL, synchronous=FULL).

Schema versions (in `PRAGMA user_version`; ADR 0006, ADR 0016):
1. events stored as rows ((height, tx, event) -> contract, name, data, plus an index by
   contract), a copy of what the receipts already hold.
2. events are read from the block's receipts; `event_index` keeps one row per
   (contract, height, name) that occurs, to find the blocks. The tx index is in two
   parts: `tx_recent` takes each block's rows and is merged into `tx_index` in bulk.
   A version-1 file is migrated at open, in one transaction. Any other version is refused.
   The index `blocks_by_hash` is part of version 2: every open creates it if it is missing
   (built from the stored rows in the opening transaction), and SQLite keeps it up to date
   for any writer, so a file written without it stays readable and writable both ways.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 2
PAGE_SIZE = 4096  # of new files
WAL_AUTOCHECKPOINT = 1000  # pages

# Every table keyed by what it is read by; WITHOUT ROWID keeps each row in its primary key's
# B-tree, so one key-sorted batch per block appends to a few pages instead of many.
SCHEMA = """
CREATE TABLE IF NOT EXISTS genesis (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    header BLOB NOT NULL,
    txs BLOB NOT NULL,        -- encoded list[Transaction]
    cert BLOB NOT NULL,       -- encoded CommitCertificate
    receipts BLOB NOT NULL    -- encoded list[Receipt]
);
CREATE INDEX IF NOT EXISTS blocks_by_hash ON blocks (hash);  -- a block found by its hash
CREATE TABLE IF NOT EXISTS tx_index (  -- tx hash -> position, merged from tx_recent
    hash BLOB PRIMARY KEY,
    height INTEGER NOT NULL,
    idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tx_recent (  -- the latest blocks' part of the tx index (ADR 0016)
    hash BLOB PRIMARY KEY,
    height INTEGER NOT NULL,
    idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS event_index (  -- blocks whose receipts hold such events
    contract TEXT NOT NULL,
    height INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (contract, height, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_index_by_height ON event_index (height, name);
CREATE TABLE IF NOT EXISTS tree_nodes (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
"""


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit BEGIN ... COMMIT)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    try:
        conn.execute("PRAGMA synchronous=FULL")  # per connection: fsync the WAL on every commit
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA cache_size=-32768")  # 32 MiB page cache
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
    except BaseException:  # (a file that is not a database fails here): no handle left open
        conn.close()
        raise
    return conn


# Version 1 -> 2: the blocks' (contract, name) pairs from the event rows, then drop them.
MIGRATE_1_TO_2 = """
INSERT OR IGNORE INTO event_index (contract, height, name)
    SELECT DISTINCT contract, height, name FROM events;
DROP INDEX IF EXISTS events_by_contract;
DROP TABLE events;
"""


class SchemaVersionError(sqlite3.DatabaseError):
    """The file was written by an unknown (newer, or foreign) version of the store."""


def init_schema(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (persistent), create or migrate the tables, check the version."""
    # Takes effect only while the file is still empty, i.e. for a new store.
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot switch the database to WAL mode (got {mode})")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, SCHEMA_VERSION):
            raise SchemaVersionError(
                f"store schema version {version} is not supported: this node reads version "
                f"{SCHEMA_VERSION} (and migrates version 1)"
            )
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if version == 1:
            for statement in MIGRATE_1_TO_2.split(";"):
                if statement.strip():
                    conn.execute(statement)
        if version != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
