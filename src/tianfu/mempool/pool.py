"""A bounded, de-duplicating, first-come-first-served pool of admitted transactions, with a
share of it per sender."""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable

from tianfu.types import Transaction

DEFAULT_SENDER_TXS = 10_000  # pending transactions of one signing key
DEFAULT_SENDER_BYTES = 32 << 20  # ... and their bytes


class MempoolFull(Exception):
    """The pool holds its maximum number of transactions or bytes."""


class SenderFull(MempoolFull):
    """The pool holds its maximum number of transactions or bytes of this transaction's
    signer (so that one sender cannot fill the pool and lock every other sender out)."""


class Mempool:
    """Pending transactions in arrival order, plus an index by expiry height.

    The index (hashes bucketed by expiry, and a heap of the expiries) makes
    `evict_expired` cost what it evicts, not a scan of the whole pool, at every block. The
    heap may hold expiries whose bucket is gone (dropped lazily); it is rebuilt when those
    outnumber the live ones, so its size stays within twice the pool's plus a constant.

    One signer (`tx.body.signer`) may have at most `max_sender_txs` transactions and
    `max_sender_bytes` bytes pending (`SenderFull` beyond).
    """

    def __init__(
        self,
        max_txs: int = 50_000,
        max_bytes: int = 128 << 20,
        max_sender_txs: int = DEFAULT_SENDER_TXS,
        max_sender_bytes: int = DEFAULT_SENDER_BYTES,
    ) -> None:
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.max_sender_txs = max_sender_txs
        self.max_sender_bytes = max_sender_bytes
        self._txs: OrderedDict[bytes, tuple[Transaction, int]] = OrderedDict()
        self._bytes = 0
        self._senders: dict[bytes, list[int]] = {}  # signer -> [pending txs, their bytes]
        self._by_expiry: dict[int, dict[bytes, None]] = {}  # expiry -> hashes, in order
        self._expiries: list[int] = []  # heap of expiries (some maybe without a bucket)

    def __len__(self) -> int:
        return len(self._txs)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._txs

    def get(self, tx_hash: bytes) -> Transaction | None:
        """The pending transaction of this hash, if any (safe from any thread)."""
        entry = self._txs.get(tx_hash)
        return entry[0] if entry is not None else None

    def add(self, tx: Transaction, size: int | None = None) -> bool:
        """Add an already-checked transaction; False if it is already pending."""
        h = tx.hash
        if h in self._txs:
            return False
        if size is None:
            size = len(tx.encoded())
        if len(self._txs) >= self.max_txs or self._bytes + size > self.max_bytes:
            raise MempoolFull(
                f"mempool is full ({len(self._txs)} transactions, {self._bytes} bytes)"
            )
        signer = tx.body.signer
        share = self._senders.get(signer)
        count, used = share if share is not None else (0, 0)
        if count >= self.max_sender_txs or used + size > self.max_sender_bytes:
            raise SenderFull(
                f"mempool holds this signer's maximum ({count} transactions, {used} bytes "
                "pending); retry when some are committed"
            )
        if share is None:
            share = self._senders[signer] = [0, 0]
        share[0] += 1
        share[1] += size
        self._txs[h] = (tx, size)
        self._bytes += size
        expiry = tx.body.expiry
        bucket = self._by_expiry.get(expiry)
        if bucket is None:
            bucket = self._by_expiry[expiry] = {}
            expiries = self._expiries
            if len(expiries) > 2 * len(self._by_expiry) + 64:  # mostly dropped buckets
                expiries[:] = self._by_expiry
                heapq.heapify(expiries)
            else:
                heapq.heappush(expiries, expiry)
        bucket[h] = None
        return True

    def take(self, max_txs: int, max_bytes: int) -> list[Transaction]:
        """The oldest pending transactions, within the limits; they stay pending until removed."""
        out: list[Transaction] = []
        total = 0
        for tx, size in self._txs.values():
            if len(out) >= max_txs or total + size > max_bytes:
                break
            out.append(tx)
            total += size
        return out

    def remove(self, hashes: Iterable[bytes]) -> None:
        txs = self._txs
        by_expiry = self._by_expiry
        for h in hashes:
            entry = txs.pop(h, None)
            if entry is not None:
                self._bytes -= entry[1]
                self._release(entry)
                expiry = entry[0].body.expiry
                bucket = by_expiry[expiry]
                del bucket[h]
                if not bucket:
                    del by_expiry[expiry]

    def evict_expired(self, next_height: int) -> list[bytes]:
        """Drop transactions that can no longer be included (expiry below `next_height`)."""
        stale: list[bytes] = []
        expiries = self._expiries
        by_expiry = self._by_expiry
        while expiries and expiries[0] < next_height:
            bucket = by_expiry.pop(heapq.heappop(expiries), None)
            if bucket:
                stale.extend(bucket)
        txs = self._txs
        for h in stale:
            entry = txs.pop(h)
            self._bytes -= entry[1]
            self._release(entry)
        return stale

    def _release(self, entry: tuple[Transaction, int]) -> None:
        """Give a removed transaction's share back to its signer."""
        signer = entry[0].body.signer
        share = self._senders[signer]
        if share[0] == 1:
            del self._senders[signer]
        else:
            share[0] -= 1
            share[1] -= entry[1]
