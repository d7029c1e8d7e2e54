"""A bounded, de-duplicating pool of admitted transactions, taken for blocks in turns across
senders, with a share of it per sender, and one share for all outsiders together (open
profile)."""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator
from itertools import chain

from tianfu.types import Transaction

DEFAULT_SENDER_TXS = 10_000  # pending transactions of one signing key
DEFAULT_SENDER_BYTES = 32 << 20  # ... and their bytes


class MempoolFull(Exception):
    """The pool holds its maximum number of transactions or bytes."""


class SenderFull(MempoolFull):
    """The pool holds its maximum number of transactions or bytes of this transaction's
    signer (so that one sender cannot fill the pool and lock every other sender out)."""


class OutsidersFull(MempoolFull):
    """The pool holds the outsiders' maximum: transactions of accounts and applicants of an
    open-profile chain (anyone can make those keys) together may hold at most a share of
    the pool, so that however many keys they make, members' transactions find room."""


class Mempool:
    """Pending transactions in arrival order, each signer's in a lane of its own, plus an
    index by expiry height.

    `take` gives the senders turns (`take`): one sender's thousands of pending transactions
    do not stand before another sender's one, whatever a block's limits let through.

    The index (hashes bucketed by expiry, and a heap of the expiries) makes
    `evict_expired` cost what it evicts, not a scan of the whole pool, at every block. The
    heap may hold expiries whose bucket is gone (dropped lazily); it is rebuilt when those
    outnumber the live ones, so its size stays within twice the pool's plus a constant.

    One signer (`tx.body.signer`) may have at most `max_sender_txs` transactions and
    `max_sender_bytes` bytes pending (`SenderFull` beyond). Outsiders' transactions (`add(...,
    outsider=True)`: an open chain's accounts and applicants) together may have at most
    `max_outsider_txs` transactions and `max_outsider_bytes` bytes pending — by default half
    the pool — (`OutsidersFull` beyond).
    """

    def __init__(
        self,
        max_txs: int = 50_000,
        max_bytes: int = 128 << 20,
        max_sender_txs: int = DEFAULT_SENDER_TXS,
        max_sender_bytes: int = DEFAULT_SENDER_BYTES,
        max_outsider_txs: int | None = None,
        max_outsider_bytes: int | None = None,
    ) -> None:
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.max_sender_txs = max_sender_txs
        self.max_sender_bytes = max_sender_bytes
        self.max_outsider_txs = max_txs // 2 if max_outsider_txs is None else max_outsider_txs
        self.max_outsider_bytes = (
            max_bytes // 2 if max_outsider_bytes is None else max_outsider_bytes
        )
        # Per hash: the transaction, its size and whether an outsider sent it.
        self._txs: OrderedDict[bytes, tuple[Transaction, int, bool]] = OrderedDict()
        self._outsiders = [0, 0]  # outsiders' pending transactions, their bytes
        self._bytes = 0
        self._senders: dict[bytes, list[int]] = {}  # signer -> [pending txs, their bytes]
        # signer -> its pending hashes in arrival order; signers in turn order: a lane opens
        # at the end, and goes back to the end when one of its transactions is removed
        # (committed or dropped: it had its turn).
        self._lanes: dict[bytes, dict[bytes, None]] = {}
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

    def add(self, tx: Transaction, size: int | None = None, *, outsider: bool = False) -> bool:
        """Add an already-checked transaction; False if it is already pending. `outsider`:
        it is an open chain's account's or applicant's (see `OutsidersFull`)."""
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
        if outsider:
            outsiders = self._outsiders
            if (
                outsiders[0] >= self.max_outsider_txs
                or outsiders[1] + size > self.max_outsider_bytes
            ):
                raise OutsidersFull(
                    f"mempool holds the maximum of accounts' transactions ({outsiders[0]} "
                    f"transactions, {outsiders[1]} bytes pending); retry when some are committed"
                )
            outsiders[0] += 1
            outsiders[1] += size
        if share is None:
            share = self._senders[signer] = [0, 0]
            self._lanes[signer] = {}
        self._lanes[signer][h] = None
        share[0] += 1
        share[1] += size
        self._txs[h] = (tx, size, outsider)
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

    def take(self, max_txs: int, max_bytes: int, skip: Collection[bytes] = ()) -> list[Transaction]:
        """Pending transactions for a block, within the limits, in turns across senders:
        the oldest of each sender, then the second of each, and so on; each sender's in
        arrival order. The senders in turn order: a sender goes to the end when one of its
        transactions is removed (`remove`: it had its turn), a new one opens at the end. It
        stops at the first that does not fit. They stay pending until removed. `skip`:
        hashes taken as if they were removed, in that order (a block being decided).

        The take stops at the first transaction that does not fit, so the first in turn
        order must change from block to block: it goes in (it fits alone, or is dropped)
        and its sender to the end, so each sender is first within as many blocks as there
        are senders before it. Senders kept in the order their lanes opened left a large
        transaction behind a sender that always has one pending out of every block (and
        every sender after it).

        In arrival order alone, a member with thousands of pending transactions — each
        cheap to admit, and each using a transaction's whole gas to fail — would fill
        every block before anyone else's transaction (a block holds `max_block_gas /
        max_gas_per_tx` of them) until other senders' transactions expired unincluded."""
        out: list[Transaction] = []
        if max_txs <= 0:
            return out
        txs = self._txs
        total = 0
        # Each lane's iterator is made when its first turn comes (a take stops long before
        # the last of thousands of one-transaction senders).
        order: Iterable[dict[bytes, None]] = self._lanes.values()
        if skip:  # the order `remove(skip)` leaves: a lane with one of them to the end
            moved: dict[bytes, None] = {}
            for h in skip:
                entry = txs.get(h)
                if entry is not None:
                    signer = entry[0].body.signer
                    moved.pop(signer, None)
                    moved[signer] = None
            if moved:
                all_lanes = self._lanes
                order = chain(
                    (lane for s, lane in all_lanes.items() if s not in moved),
                    (all_lanes[s] for s in moved),
                )
        lanes: Iterable[Iterator[bytes]] = map(iter, order)
        while True:
            live: list[Iterator[bytes]] = []
            for lane in lanes:
                for h in lane:
                    if h in skip:
                        continue
                    tx, size, _ = txs[h]
                    if total + size > max_bytes:
                        return out
                    out.append(tx)
                    total += size
                    if len(out) >= max_txs:
                        return out
                    live.append(lane)
                    break
            if not live:
                return out
            lanes = live

    def remove(self, hashes: Iterable[bytes]) -> None:
        txs = self._txs
        by_expiry = self._by_expiry
        for h in hashes:
            entry = txs.pop(h, None)
            if entry is not None:
                self._bytes -= entry[1]
                self._release(entry, to_end=True)
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

    def _release(self, entry: tuple[Transaction, int, bool], to_end: bool = False) -> None:
        """Give a removed transaction's share back to its signer (and the outsiders);
        `to_end`: its sender had its turn (its lane goes to the end of the turn order)."""
        if entry[2]:
            self._outsiders[0] -= 1
            self._outsiders[1] -= entry[1]
        tx = entry[0]
        signer = tx.body.signer
        share = self._senders[signer]
        if share[0] == 1:
            del self._senders[signer]
            del self._lanes[signer]
        else:
            lanes = self._lanes
            del lanes[signer][tx.hash]
            if to_end:
                lanes[signer] = lanes.pop(signer)
            share[0] -= 1
            share[1] -= entry[1]
