"""SQLite schema of the block store and the per-connection settings (WAL, synchronous=FULL)."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 1

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
CREATE TABLE IF NOT EXISTS tx_index (
    hash BLOB PRIMARY KEY,
    height INTEGER NOT NULL,
    idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    height INTEGER NOT NULL,
    tx_idx INTEGER NOT NULL,
    ev_idx INTEGER NOT NULL,
    contract TEXT NOT NULL,
    name TEXT NOT NULL,
    data BLOB NOT NULL,       -- encoded dict
    PRIMARY KEY (height, tx_idx, ev_idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_contract ON events (contract, height, tx_idx, ev_idx);
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
    conn.execute("PRAGMA synchronous=FULL")  # per connection: fsync the WAL on every commit
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA cache_size=-32768")  # 32 MiB page cache
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def init_schema(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (persistent), create the tables, check the schema version."""
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot switch the database to WAL mode (got {mode})")
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise sqlite3.DatabaseError(f"unknown store schema version {version}")
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
