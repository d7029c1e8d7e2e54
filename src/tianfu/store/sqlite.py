"""The node's block store: blocks, certificates, receipts, indexes and state in one SQLite file.

Durability: the file is in WAL mode with `synchronous=FULL`; each height (block, commit
certificate, receipts, tx and event indexes, Merkle tree nodes, latest state values and
optional meta rows) is written in ONE SQLite transaction, so after a crash at any moment
(kill -9, power loss) a height is either wholly present or wholly absent. After every
commit the WAL is checkpointed into the database file (`PRAGMA wal_checkpoint(FULL)`,
which waits for readers of older snapshots), before the write returns: a committed height
is in `chain.db` itself, so it survives the loss of `chain.db-wal` (ADR 0006). Inside
`grouped_writes()` (block sync's batches) one thread's heights form one transaction,
committed and checkpointed together (a height whose write fails takes the group with it);
the group's tree nodes and latest values are written once, at its end.

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
A thread's read connection is closed when the thread ends (worker pools end idle threads
and start new ones: kept until `close()`, each ended thread's connection leaked two file
handles and its page cache), and every one left at `close()`. The one exception:
the thread inside its own `grouped_writes` reads through the writer's connection (and the
group's rows kept in memory), so that it sees what it wrote; others wait for the COMMIT.

Stored rows are decoded with msgspec directly (the database is trusted and written only by
this class), without the canonical re-encoding check of `tianfu.codec.decode`.
"""

from __future__ import annotations

import sqlite3

from tianfu.codec import encode, encode_list
from tianfu.store.bulk import HASHES_SELECT, PAIRS_SELECT, pack_hashes, pack_pairs
from tianfu.store.connection import WriteGroup
from tianfu.store.errors import (  # noqa: F401 - re-exported
    StoreBusy,
    StoreClosed,
    StoreDamaged,
    StoreError,
    StoreNoMemory,
    StoreWriteError,
)
from tianfu.store.reads import StoreReads, TxRecord
from tianfu.types import Block, CommitCertificate, Receipt

# `tx_recent` is merged into `tx_index` once it holds this many rows (ADR 0016): a block's
# rows land in a small table (few pages to rewrite), the big one gets key-sorted runs.
TX_MERGE_ROWS = 16_384


class Store(StoreReads):
    """One node's durable ledger (see the module docstring for atomicity and threads)."""

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

    def probe(self) -> None:
        """A trivial read and write: the latest block's header read through this thread's
        connection, and the meta row `probe` written (committed and checkpointed, as every
        write). Raises the store's typed error if either fails (`StoreClosed` once closed):
        whether the store itself answers, when building blocks meets a host fault again
        and again (`tianfu.consensus.culprit.store_answers`)."""
        self._one("SELECT header FROM blocks WHERE height = ?", (self.height(),))
        self.set_meta("probe", b"\x01")

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
        group = self._mine()
        if group is not None and height != group.height + 1:  # before writing: the group stays
            raise StoreError(f"cannot store block {height}: the store is at height {group.height}")
        with self._write() as conn:
            if group is None:
                current = conn.execute("SELECT MAX(height) FROM blocks").fetchone()[0] or 0
                recent_rows = self._recent_rows + n
            else:  # the group's transaction: its height is exact
                current, recent_rows = group.height, group.recent_rows + n
            if height != current + 1:
                self._written(current, recent_rows - n)
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
            if group is None:
                self._write_state(conn, tree_nodes, state_updates)
            else:  # written once at the group's end, read from memory until then
                group.nodes.update(tree_nodes)
                group.state.update(state_updates)
            if meta:
                conn.executemany(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", sorted(meta.items())
                )
            # Before COMMIT: a hash readable in the index always has its bit (a rolled back
            # block leaves bits that only cost a query).
            self._seen.add(tx_hashes)
        self._written(height, recent_rows)  # committed: only now may readers be told

    def _flush(self, conn: sqlite3.Connection, group: WriteGroup) -> None:
        self._write_state(conn, group.nodes, group.state)

    def save_state_nodes(
        self, nodes: dict[bytes, bytes], state_updates: dict[bytes, bytes | None]
    ) -> None:
        """Tree nodes and latest values outside a block (the genesis state), atomically."""
        with self._write() as conn:
            self._write_state(conn, nodes, state_updates)


__all__ = ["Store", "StoreBusy", "StoreDamaged", "StoreError", "StoreWriteError", "TxRecord"]
