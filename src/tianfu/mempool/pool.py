"""A bounded, de-duplicating, first-come-first-served pool of admitted transactions."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from tianfu.types import Transaction


class MempoolFull(Exception):
    """The pool holds its maximum number of transactions or bytes."""


class Mempool:
    def __init__(self, max_txs: int = 50_000, max_bytes: int = 128 << 20) -> None:
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self._txs: OrderedDict[bytes, tuple[Transaction, int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._txs)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._txs

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
        self._txs[h] = (tx, size)
        self._bytes += size
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
        for h in hashes:
            entry = self._txs.pop(h, None)
            if entry is not None:
                self._bytes -= entry[1]

    def evict_expired(self, next_height: int) -> list[bytes]:
        """Drop transactions that can no longer be included (expiry below `next_height`)."""
        stale = [h for h, (tx, _) in self._txs.items() if tx.body.expiry < next_height]
        self.remove(stale)
        return stale
