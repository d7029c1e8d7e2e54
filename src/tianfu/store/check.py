"""Store checks: SQLite's own check of the file, then the chain's (hash links, certificates, roots).

Two levels (ADR 0006, "Checks"):

- **quick** (every node start, and after a write failure before voting again):
  `PRAGMA quick_check` (page structure, free lists, record formats — linear in the file
  size, about 1 GB/s from the page cache); the block rows are exactly heights 1..N; every
  stored header decodes, hashes to its stored hash and links to the one before (the
  first to the genesis); the certificates of the latest `RECENT` blocks decode, name their
  block and — with `verify_certificate` — carry a valid quorum; the latest header's state
  root is the root of the stored state tree at N; `SAMPLES` latest-state rows, picked at
  random, equal the tree's values.
- **full** (`tianfu node check --full`, offline): `PRAGMA integrity_check` (also index
  contents), every certificate, every block's transaction and receipt roots, every
  transaction's tx-index position, the whole state tree at N re-hashed from its leaves,
  and every latest-state row against the tree (and as many rows as the tree has leaves).

Any finding raises `StoreDamaged` with one line saying what is wrong and where.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from tianfu.crypto.merkle import merkle_root
from tianfu.state import MerkleState
from tianfu.state.nodes import (
    InternalNode,
    LeafNode,
    Node,
    NullNode,
    decode_node,
    node_key,
    path_of,
)
from tianfu.store.sqlite import Store, StoreDamaged, StoreError
from tianfu.types import BlockHeader, CommitCertificate, Transaction

RECENT = 64  # latest certificates checked at quick level
SAMPLES = 64  # latest-state rows compared with the tree at quick level
_PROBLEMS = 5  # SQLite findings quoted in the error

_dec_header = msgspec.msgpack.Decoder(BlockHeader)
_dec_cert = msgspec.msgpack.Decoder(CommitCertificate)
_dec_raw_list = msgspec.msgpack.Decoder(list[msgspec.Raw])
_dec_tx = msgspec.msgpack.Decoder(Transaction)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
CertificateCheck = Callable[[int, CommitCertificate], None]  # raises if not a valid quorum


@dataclass(frozen=True)
class CheckReport:
    """What a check looked at (it raised if it found anything wrong)."""

    path: str
    level: str  # "quick" or "full"
    height: int
    file_bytes: int
    headers: int  # headers decoded, hashed and linked
    certificates: int  # certificates decoded and matched (and verified, if asked)
    bodies: int  # blocks whose tx and receipt roots were recomputed
    state_rows: int  # latest-state rows compared with the tree
    seconds: float


class _Reader:
    """A read-only connection of its own to the store file (never the node's writer)."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0)
        except sqlite3.Error as exc:
            raise StoreDamaged(f"store {path}: cannot open it to check it: {exc}") from None

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> Iterator[tuple[Any, ...]]:
        try:
            cur = self.conn.execute(sql, params)
            while batch := cur.fetchmany(512):
                yield from batch
        except sqlite3.Error as exc:
            raise StoreDamaged(f"store {self.path}: reading it failed: {exc}") from None

    def one(self, sql: str, params: tuple[object, ...] = ()) -> tuple[Any, ...] | None:
        return next(iter(self.rows(sql, params)), None)

    def close(self) -> None:
        self.conn.close()


def _damaged(path: str, what: str) -> StoreDamaged:
    return StoreDamaged(f"store {path} is damaged: {what}")


def check_store(
    store: Store,
    genesis_hash: bytes,
    *,
    full: bool = False,
    verify_certificate: CertificateCheck | None = None,
    progress: Progress | None = None,
) -> CheckReport:
    """Check `store` (see the module docstring); raises `StoreDamaged` on the first finding."""
    started = time.monotonic()
    path = store.path
    reader = _Reader(path)
    try:
        _sqlite_check(reader, full)
        height = _check_rows(reader, store)
        headers = _check_headers(reader, genesis_hash, height, progress)
        certs = _check_certificates(
            reader, height, 1 if full else max(1, height - RECENT + 1), verify_certificate
        )
        bodies = _check_bodies(reader, height, progress) if full else 0
        _check_state_root(store, reader, height)
        rows = _check_state_rows(store, reader, height, full, progress)
    finally:
        reader.close()
    return CheckReport(
        path=path,
        level="full" if full else "quick",
        height=height,
        file_bytes=_size(path),
        headers=headers,
        certificates=certs,
        bodies=bodies,
        state_rows=rows,
        seconds=time.monotonic() - started,
    )


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _sqlite_check(reader: _Reader, full: bool) -> None:
    pragma = "integrity_check" if full else "quick_check"
    found = [str(r[0]) for r in reader.rows(f"PRAGMA {pragma}({_PROBLEMS})")]
    if found != ["ok"]:
        lines = [ln.strip() for f in found for ln in f.splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith("***")]
        raise _damaged(reader.path, f"SQLite {pragma}: " + "; ".join(lines[:_PROBLEMS]))


def _check_rows(reader: _Reader, store: Store) -> int:
    """The block rows are heights 1..N, N the store's height; returns N."""
    row = reader.one("SELECT COUNT(*), MIN(height), MAX(height) FROM blocks")
    count, low, top = (int(v) if v is not None else 0 for v in (row or (0, 0, 0)))
    if count and (low != 1 or top != count):
        raise _damaged(reader.path, f"{count} blocks stored but the heights run {low}..{top}")
    if top != store.height():
        raise _damaged(reader.path, f"blocks up to {top} but the store reports {store.height()}")
    return top


def _check_headers(
    reader: _Reader, genesis_hash: bytes, height: int, progress: Progress | None
) -> int:
    prev = genesis_hash
    n = 0
    for h, stored_hash, raw in reader.rows(
        "SELECT height, hash, header FROM blocks ORDER BY height"
    ):
        try:
            header = _dec_header.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _damaged(reader.path, f"header {h} does not decode: {exc}") from None
        if header.height != h:
            raise _damaged(
                reader.path, f"the header stored at height {h} is of height {header.height}"
            )
        if header.hash != stored_hash:
            raise _damaged(reader.path, f"header {h} does not hash to its stored hash")
        if header.prev_hash != prev:
            what = "the genesis" if h == 1 else f"block {h - 1}"
            raise _damaged(reader.path, f"block {h} does not link to {what}")
        prev = header.hash
        n += 1
        if progress is not None and n % 1000 == 0:
            progress("headers", n, height)
    return n


def _check_certificates(
    reader: _Reader, height: int, start: int, verify: CertificateCheck | None
) -> int:
    n = 0
    for h, block_hash, raw in reader.rows(
        "SELECT height, hash, cert FROM blocks WHERE height >= ? ORDER BY height", (start,)
    ):
        try:
            cert = _dec_cert.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _damaged(reader.path, f"certificate {h} does not decode: {exc}") from None
        if cert.height != h or cert.block_hash != block_hash:
            raise _damaged(
                reader.path, f"the certificate stored at height {h} is not for block {h}"
            )
        if verify is not None:
            try:
                verify(int(h), cert)
            except Exception as exc:  # the verifier's typed error, whatever it is
                raise _damaged(reader.path, f"certificate {h} does not verify: {exc}") from None
        n += 1
    return n


def _check_bodies(reader: _Reader, height: int, progress: Progress | None) -> int:
    """Every block's transaction and receipt roots, and each transaction's index position."""
    n = 0
    for h, raw_header, txs, receipts in reader.rows(
        "SELECT height, header, txs, receipts FROM blocks ORDER BY height"
    ):
        header = _dec_header.decode(raw_header)
        try:
            items = [bytes(r) for r in _dec_raw_list.decode(txs)]
            rec = [bytes(r) for r in _dec_raw_list.decode(receipts)]
            hashes = [_dec_tx.decode(t).hash for t in items]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _damaged(reader.path, f"block {h}'s body does not decode: {exc}") from None
        if len(items) != header.tx_count or merkle_root(items) != header.tx_root:
            raise _damaged(reader.path, f"block {h}'s transactions do not match its header")
        if len(rec) != len(items) or merkle_root(rec) != header.receipts_root:
            raise _damaged(reader.path, f"block {h}'s receipts do not match its header")
        for idx, tx_hash in enumerate(hashes):
            pos = reader.one(
                "SELECT height, idx FROM tx_index WHERE hash = ?1 UNION ALL "
                "SELECT height, idx FROM tx_recent WHERE hash = ?1 ORDER BY height, idx LIMIT 1",
                (tx_hash,),
            )
            if pos is None or (int(pos[0]), int(pos[1])) > (int(h), idx):
                raise _damaged(reader.path, f"transaction {h}/{idx} is missing from the tx index")
        n += 1
        if progress is not None and n % 100 == 0:
            progress("bodies", n, height)
    return n


def _check_state_root(store: Store, reader: _Reader, height: int) -> None:
    if height == 0:
        return
    row = reader.one("SELECT header FROM blocks WHERE height = ?", (height,))
    assert row is not None  # _check_rows saw it
    expected = _dec_header.decode(row[0]).state_root
    try:
        root = MerkleState(store).root(height)
    except (ValueError, msgspec.DecodeError, StoreError) as exc:
        raise _damaged(
            reader.path, f"the state tree of height {height} is unreadable: {exc}"
        ) from None
    if root != expected:
        raise _damaged(reader.path, f"the state root of height {height} differs from its header's")


def _check_state_rows(
    store: Store, reader: _Reader, height: int, full: bool, progress: Progress | None
) -> int:
    """Latest-state rows against the tree at `height`: a sample, or (full) all of them
    plus a walk of the whole tree that re-hashes every node and counts its leaves."""
    state = MerkleState(store)
    if full:
        leaves = _walk_tree(reader, height)
        rows = reader.rows("SELECT key, value FROM state ORDER BY key")
    else:
        leaves = -1
        picks = _probes(reader)
        rows = (
            r
            for p in sorted(picks)
            for r in [reader.one("SELECT key, value FROM state WHERE key >= ? LIMIT 1", (p,))]
            if r is not None
        )
    n = 0
    for key, value in rows:
        try:
            in_tree = state.get(bytes(key), height)
        except (ValueError, msgspec.DecodeError, StoreError) as exc:
            raise _damaged(reader.path, f"the state tree is unreadable: {exc}") from None
        if in_tree != value:
            raise _damaged(
                reader.path, f"the latest value of state key {key!r:.60} differs from the tree's"
            )
        n += 1
        if progress is not None and full and n % 10_000 == 0:
            progress("state", n, max(leaves, n))
    if full:
        # The tree also holds one entry per committed transaction (`0x01 ‖ hash`, which
        # the latest-state table does not keep); tombstones were not counted as values.
        txs = sum(
            reader.one(f"SELECT COUNT(*) FROM {table}", ())[0]  # type: ignore[index]
            for table in ("tx_index", "tx_recent")
        )
        if n + txs != leaves:
            raise _damaged(
                reader.path,
                f"{n} latest-state rows and {txs} committed transactions but {leaves} "
                "values in the state tree",
            )
    return n


def _probes(reader: _Reader) -> list[bytes]:
    """`SAMPLES` random keys spread over the range the state table's keys occupy."""
    row = reader.one("SELECT MIN(key), MAX(key) FROM state")
    if row is None or row[0] is None:
        return []
    low = int.from_bytes(bytes(row[0])[:8].ljust(8, b"\0"), "big")
    high = int.from_bytes(bytes(row[1])[:8].ljust(8, b"\0"), "big")
    rng = random.Random()
    return [rng.randint(low, high).to_bytes(8, "big") for _ in range(SAMPLES)]


def _walk_tree(reader: _Reader, version: int) -> int:
    """Re-hash the whole tree at `version` from its leaves; returns the number of leaves
    that hold a value (tombstones, the versions that deleted an entry, are not counted)."""

    def load(v: int, path: bytes) -> Node:
        row = reader.one("SELECT value FROM tree_nodes WHERE key = ?", (node_key(v, path),))
        if row is None:
            raise _damaged(reader.path, f"state tree node ({v}, {path.hex() or 'root'}) is missing")
        try:
            return decode_node(row[0])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _damaged(
                reader.path, f"state tree node ({v}, {path.hex()}) does not decode: {exc}"
            ) from None

    leaves = 0
    stack: list[tuple[int, bytes, bytes | None]] = [(version, b"", None)]  # (version, path, hash)
    while stack:
        v, path, expected = stack.pop()
        node = load(v, path)
        if isinstance(node, NullNode):
            continue
        if expected is not None and node.hash() != expected:
            raise _damaged(
                reader.path, f"state tree node ({v}, {path.hex()}) does not match its parent's hash"
            )
        if isinstance(node, LeafNode):
            if path_of(node.key_hash, len(path)) != path:
                raise _damaged(reader.path, f"state leaf at {path.hex()} is misplaced")
            if node.value is not None:
                leaves += 1
        elif isinstance(node, InternalNode):
            for child in node.children:
                stack.append((child.version, path + bytes((child.nibble,)), child.hash))
    return leaves
