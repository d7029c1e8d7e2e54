"""The block store's reads: blocks, headers, certificates, receipts, transactions, events
and state values, each from one snapshot of the file (`tianfu.store.sqlite`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from tianfu.store.bulk import pack_hashes
from tianfu.store.connection import StoreFile
from tianfu.store.errors import StoreClosed, StoreError
from tianfu.types import Block, BlockHeader, CommitCertificate, Event, Receipt, Transaction

_dec_header = msgspec.msgpack.Decoder(BlockHeader)
_dec_txs = msgspec.msgpack.Decoder(list[Transaction])
_dec_tx = msgspec.msgpack.Decoder(Transaction)
_dec_cert = msgspec.msgpack.Decoder(CommitCertificate)
_dec_receipts = msgspec.msgpack.Decoder(list[Receipt])
_dec_receipt = msgspec.msgpack.Decoder(Receipt)
_dec_raw_list = msgspec.msgpack.Decoder(list[msgspec.Raw])

_SCAN_BATCH = 512

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


class StoreReads(StoreFile):
    """The reads of an open store file."""

    # ------------------------------------------------------------------ block reads

    def height(self) -> int:
        """Latest committed height, 0 when no block is stored (kept in memory); inside this
        thread's `grouped_writes`, the latest height the group wrote."""
        if self._closed:
            raise StoreClosed("the store is closed")
        if self._group is None:
            return self._height
        group = self._mine()
        return self._height if group is None else group.height

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

    def load_blocks_encoded(self, start: int, count: int) -> list[tuple[bytes, bytes]]:
        """Up to `count` consecutive stored blocks from `start`, each as (`load_block_encoded`,
        the certificate's stored encoding): one query, nothing decoded (for serving sync)."""
        rows = self._all(
            "SELECT height, header, txs, cert FROM blocks WHERE height >= ? AND height < ? "
            "ORDER BY height",
            (start, start + count),
        )
        out: list[tuple[bytes, bytes]] = []
        for height, header, txs, cert in rows:
            if height != start + len(out):
                break
            out.append((b"\x92" + header + txs, cert))
        return out

    def load_header(self, height: int) -> BlockHeader | None:
        row = self._one("SELECT header FROM blocks WHERE height = ?", (height,))
        if row is None:
            return None
        return self._decoded(_dec_header.decode, row[0], f"header {height}")

    def height_of_block(self, block_hash: bytes) -> int | None:
        """The height of the stored block whose header hashes to `block_hash` (one lookup in
        the index `blocks_by_hash`), or None."""
        row = self._one(
            "SELECT height FROM blocks WHERE hash = ? ORDER BY height LIMIT 1", (block_hash,)
        )
        return None if row is None else int(row[0])

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

    def _maybe_committed(self, tx_hash: bytes) -> bytes | None:
        """`tx_hash` as bytes if it may be committed; None if the hash filter rules it out."""
        if self._closed:
            raise StoreClosed("the store is closed")
        if type(tx_hash) is not bytes:
            tx_hash = bytes(tx_hash)
        return tx_hash if self._seen.might_contain(tx_hash) else None

    def load_tx(self, tx_hash: bytes) -> TxRecord | None:
        key = self._maybe_committed(tx_hash)
        if key is None:
            return None
        row = self._one(
            f"SELECT t.height, t.idx, b.txs, b.receipts FROM ({_TX_POSITION}) t "
            "JOIN blocks b ON b.height = t.height",
            (key,),
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
        key = self._maybe_committed(tx_hash)
        if key is None:
            return None
        row = self._one(_TX_POSITION, (key,))
        return None if row is None else (int(row[0]), int(row[1]))

    def has_tx(self, tx_hash: bytes) -> bool:
        key = self._maybe_committed(tx_hash)
        return key is not None and self._one(_TX_POSITION, (key,)) is not None

    def committed_txs(self, tx_hashes: list[bytes]) -> set[bytes]:
        """Which of `tx_hashes` are committed: `has_tx` for many, as of one snapshot.

        The hash filter rules out the never-indexed ones; the others are looked up in one
        statement (one snapshot: a merge cannot move a hash between the two parts of the
        index unseen). If a block began committing meanwhile, a hash ruled out before it may
        be in that statement's snapshot: then all are looked up again, in one statement.
        """
        if self._closed:
            raise StoreClosed("the store is closed")
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

    def events_before(
        self, contract: str, names: tuple[str, ...], before: int | None, blocks: int
    ) -> list[tuple[int, int, Event]]:
        """Events of `contract` named one of `names` in the latest `blocks` blocks below
        height `before` (None: up to the latest) that hold such events, newest first:
        (height, tx index, event). The event index names the blocks (a descending range of
        its primary key), so at most `blocks` blocks' receipts are read."""
        if blocks <= 0 or not names:
            return []
        marks = ",".join("?" * len(names))
        sql = (
            "SELECT height, receipts FROM blocks WHERE height IN "
            "(SELECT DISTINCT height FROM event_index WHERE contract = ? AND height < ? "
            f"AND name IN ({marks}) ORDER BY height DESC LIMIT ?) ORDER BY height DESC"
        )
        top = (1 << 62) if before is None else before
        out: list[tuple[int, int, Event]] = []
        for height, raw in self._all(sql, (contract, top, *names, blocks)):
            receipts = self._decoded(_dec_receipts.decode, raw, f"receipts {height}")
            found = [
                (height, i, ev)
                for i, receipt in enumerate(receipts)
                for ev in receipt.events
                if ev.contract == contract and ev.name in names
            ]
            out.extend(reversed(found))
        return out

    # ------------------------------------------------------------------ state reads

    def get_node(self, node_key: bytes) -> bytes | None:
        """A Merkle tree node by its key (the state tree's NodeReader)."""
        if self._group is not None and (group := self._mine()) is not None:
            node = group.nodes.get(node_key)
            if node is not None:
                return node
        row = self._one("SELECT value FROM tree_nodes WHERE key = ?", (node_key,))
        return None if row is None else row[0]

    def get_latest(self, key: bytes) -> bytes | None:
        """The latest committed value of a state key (in this thread's group: as written)."""
        if self._group is not None and (group := self._mine()) is not None:
            if key in group.state:
                return group.state[key]
        row = self._one("SELECT value FROM state WHERE key = ?", (key,))
        return None if row is None else row[0]

    def latest_before(
        self, prefix: bytes, before: bytes | None, limit: int
    ) -> list[tuple[bytes, bytes]]:
        """At most `limit` latest state entries under `prefix` whose key is below `before`
        (None: no upper bound), in descending key order: one range read of the primary
        key, so its cost is `limit` rows however many entries the prefix holds."""
        if self._mine() is not None:
            raise StoreError("latest_before cannot read inside this thread's grouped_writes")
        if limit <= 0:
            return []
        end = _prefix_end(prefix)
        if before is not None and before.startswith(prefix) and (end is None or before < end):
            end = before
        if end is None:
            sql = "SELECT key, value FROM state WHERE key >= ? ORDER BY key DESC LIMIT ?"
            params: tuple[Any, ...] = (prefix, limit)
        else:
            sql = (
                "SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key DESC LIMIT ?"
            )
            params = (prefix, end, limit)
        return [(bytes(k), bytes(v)) for k, v in self._all(sql, params)]

    def iter_latest(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Latest state under `prefix`, in key order, from one snapshot (not inside this
        thread's `grouped_writes`, whose state rows are written at its end)."""
        if self._mine() is not None:
            raise StoreError("iter_latest cannot read inside this thread's grouped_writes")
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
