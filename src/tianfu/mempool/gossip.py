"""Transaction gossip: batch newly admitted transactions into KIND_TXS frames for peers, and
admit the transactions peers send (each checked like one from the API).

Admitting costs a signature check per transaction, and more for a first-use certificate,
all on the event loop that also carries the votes. So on a running loop the transactions
received go to one bounded inbox (`MAX_INBOX_TXS`), which one task admits `ADMIT_CHUNK` at a
time with a turn of the loop in between: however many peers (on an open network, anonymous
observers) send, the loop waits for at most one chunk.

Each peer has its own queue in the inbox, and the task takes one chunk from each peer in
turn, so a peer that floods waits behind its own transactions, not the others behind it.
A peer alone may fill the inbox; when it is full, a frame from a peer holding less than an
equal share (`MAX_INBOX_TXS` over the peers with transactions waiting, the sender counted)
takes the room of the newest transactions of the peers holding the most, and any other
frame is dropped (`dropped_busy`) — the transactions dropped are still in the mempools of
the nodes that admitted them first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from tianfu.codec import CodecError, decode, encode
from tianfu.types import Transaction
from tianfu.types.tx import decode_tx

log = logging.getLogger(__name__)

KIND_TXS = 1  # == tianfu.p2p.protocol.KIND_TXS
MAX_BATCH_TXS = 2000
MAX_BATCH_BYTES = 8 << 20
ADMIT_CHUNK = 64  # received transactions admitted between two turns of the event loop
MAX_INBOX_TXS = 4 * MAX_BATCH_TXS  # received transactions waiting to be admitted


class TxBatch(msgspec.Struct, array_like=True, frozen=True):
    txs: Annotated[list[bytes], msgspec.Meta(max_length=MAX_BATCH_TXS)]


class TxGossip:
    def __init__(
        self,
        network: Any,
        admit: Callable[[Transaction], bool],  # True if admitted; never raises
        *,
        flush_interval_s: float = 0.01,
        admit_many: Callable[[list[Transaction]], list[bool]] | None = None,
    ) -> None:
        self.network = network
        self.admit = admit
        # The same check for a whole received batch at once (one store lookup), if given.
        self.admit_many = admit_many
        self.flush_interval = flush_interval_s
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._scheduled = False
        self.stats = {"sent": 0, "received": 0, "admitted": 0, "refused": 0, "malformed": 0}
        # The inbox: per peer, its transactions waiting, in chunks of at most ADMIT_CHUNK.
        self._inbox: dict[Any, deque[list[Transaction]]] = {}
        self._queued: dict[Any, int] = {}  # transactions waiting, per peer
        self._inbox_txs = 0
        self._admitting: asyncio.Task[None] | None = None
        self.dropped_busy = 0  # frames dropped because the inbox was full
        self.evicted = 0  # waiting transactions dropped to make room for a fair share

    def publish(self, tx: Transaction) -> None:
        """Queue a transaction admitted locally (from the API) for the next batch."""
        raw = tx.encoded()
        self._pending.append(raw)
        self._pending_bytes += len(raw)
        if len(self._pending) >= MAX_BATCH_TXS or self._pending_bytes >= MAX_BATCH_BYTES // 2:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self.flush_interval, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        self.network.broadcast(KIND_TXS, encode(TxBatch(batch)))
        self.stats["sent"] += len(batch)

    def handle(self, peer: Any, kind: int, payload: bytes) -> None:
        """Frames of kind KIND_TXS from a peer: admit each valid transaction, drop the rest."""
        if kind != KIND_TXS:
            return
        try:
            batch = decode(payload, TxBatch, max_size=MAX_BATCH_BYTES)
        except CodecError:
            self.stats["malformed"] += 1
            return
        txs: list[Transaction] = []
        self.stats["received"] += len(batch.txs)
        for raw in batch.txs:
            try:  # strict like codec.decode; the hash is taken from `raw`, not re-encoded
                txs.append(decode_tx(raw))
            except CodecError:
                self.stats["malformed"] += 1
        if not txs:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop to share: admit at once
            self._admit(txs)
            return
        key = getattr(peer, "address", peer)
        if not self._make_room(key, len(txs)):
            self.dropped_busy += 1
            return
        queue = self._inbox.get(key)
        if queue is None:
            queue = self._inbox[key] = deque()
        for start in range(0, len(txs), ADMIT_CHUNK):
            queue.append(txs[start : start + ADMIT_CHUNK])
        self._queued[key] = self._queued.get(key, 0) + len(txs)
        self._inbox_txs += len(txs)
        if self._admitting is None:
            self._admitting = loop.create_task(self._drain(), name="tx-gossip-admission")

    def _make_room(self, key: Any, n: int) -> bool:
        """Whether `n` more transactions of peer `key` fit in the inbox; makes room for them
        from the peers holding the most when `key` stays within an equal share."""
        if self._inbox_txs + n <= MAX_INBOX_TXS:
            return True
        queued = self._queued
        peers = len(queued) + (key not in queued)
        if queued.get(key, 0) + n > MAX_INBOX_TXS // peers:
            return False
        while self._inbox_txs + n > MAX_INBOX_TXS:  # the peers over the share hold enough
            most = max(queued, key=queued.__getitem__)
            chunk = self._inbox[most].pop()
            self._forget(most, len(chunk))
            self.evicted += len(chunk)
        return True

    def _forget(self, key: Any, n: int) -> None:
        """`n` transactions of peer `key` left the inbox."""
        self._inbox_txs -= n
        left = self._queued[key] - n
        if left:
            self._queued[key] = left
        else:
            del self._queued[key], self._inbox[key]

    async def _drain(self) -> None:
        """Admit the inbox, one chunk of each peer in turn, until it is empty."""
        try:
            while self._inbox:
                for key in list(self._inbox):
                    queue = self._inbox.get(key)
                    if not queue:  # emptied to make room meanwhile
                        continue
                    chunk = queue.popleft()
                    self._forget(key, len(chunk))
                    self._admit(chunk)
                    await asyncio.sleep(0)
        finally:
            self._admitting = None

    def _admit(self, txs: list[Transaction]) -> None:
        if self.admit_many is not None:
            verdicts = self.admit_many(txs)
        else:
            verdicts = [self.admit(tx) for tx in txs]
        admitted = sum(1 for ok in verdicts if ok)
        self.stats["admitted"] += admitted
        self.stats["refused"] += len(txs) - admitted
