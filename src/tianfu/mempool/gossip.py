"""Transaction gossip: batch newly admitted transactions into KIND_TXS frames for peers, and
admit the transactions peers send (each checked like one from the API).

Decoding a transaction costs up to ~0.5 s for a crafted 1 MiB one (its map keys scanned,
its values checked, in Python), and admitting it a signature check, and more for a
first-use certificate, all on the event loop that also carries the votes. So on a running
loop `handle` decodes only the frame's list of transaction bytes; those go to one bounded
inbox (`MAX_INBOX_TXS` units: a transaction is one per 4 KiB started, so the inbox holds at
most 32 MiB) in chunks of at most `ADMIT_CHUNK` transactions and `CHUNK_BYTES` (a larger
transaction alone), which one task decodes and admits a chunk at a time with a
turn of the loop in between, a chunk of more than `DECODE_IN_PLACE_BYTES` decoded in a
worker thread: however many peers (on an open network, anonymous observers) send, the
loop waits for at most one small chunk. Transactions that do not decode are counted
`malformed` when their chunk is decoded (one over `MAX_TX_BYTES` at once).

The inbox is shared by groups of peers, each group by its subs (`share(peer)` gives both;
by default each peer is a group of its own), and the task takes one chunk from each group in
turn (from its subs in turn), so a peer that floods waits behind its own transactions, not
the others behind it, and its chunks' decoding waits its turn too (a turn pays for
`CHUNK_BYTES` of decoding: each group gets about the same bytes decoded). A group alone
may fill the inbox; when it is full, a frame from a group holding less than an equal share
(`MAX_INBOX_TXS` units over the groups with transactions waiting, the sender's counted)
takes the room of the newest transactions of the groups holding the most; a frame from a
group past its share may take room inside its own group only, if its sub holds less than
an equal share of the group's units; any other frame is dropped (`dropped_busy`) — the
transactions dropped are still in the mempools of the nodes that admitted them first.

On an open network anyone can make new identities, so the node composition groups the
observer port's peers (`ObserverTransport.gossip_share`): every link whose key is not a
validator's is in one group, subdivided by its IP address. However many identities (or
IPs) send, they hold one equal share between them when the inbox is full; each member
node and each validator by stake keeps its own.

A transaction an honest node passes on has a signature it checked. So a verdict `FORGED`
(a bad signature) blames the peer that sent it: `on_forged(peer, n)` hears of each chunk
holding `n` of them (the node composition strikes an observer-port link, and counts a
member's), and `stats["forged"]` counts them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Hashable
from typing import Annotated, Any

import msgspec

from tianfu.codec import DEFAULT_MAX_SIZE, CodecError, decode, encode
from tianfu.types import Transaction
from tianfu.types.tx import decode_tx

log = logging.getLogger(__name__)

KIND_TXS = 1  # == tianfu.p2p.protocol.KIND_TXS
MAX_BATCH_TXS = 2000
MAX_BATCH_BYTES = 8 << 20
ADMIT_CHUNK = 64  # received transactions admitted between two turns of the event loop
# A chunk holds at most this many bytes of transactions (or a single larger transaction):
# a turn of a group decodes at most this much, or one transaction.
CHUNK_BYTES = 256 << 10
# A chunk of more bytes than this is decoded in a worker thread, off the event loop.
DECODE_IN_PLACE_BYTES = 32 << 10
MAX_TX_BYTES = DEFAULT_MAX_SIZE  # decode_tx's limit
# Received transactions waiting to be admitted, counted in units: a transaction is one
# unit per `UNIT_BYTES` started, so the inbox holds at most MAX_INBOX_TXS * UNIT_BYTES
# (32 MiB) of them however large they are.
MAX_INBOX_TXS = 4 * MAX_BATCH_TXS
UNIT_BYTES = 4096
FORGED = "forged"  # the verdict on a peer's transaction whose signature does not verify
Verdict = bool | str  # True admitted, False refused, FORGED refused and the sender to blame


class TxBatch(msgspec.Struct, array_like=True, frozen=True):
    txs: Annotated[list[bytes], msgspec.Meta(max_length=MAX_BATCH_TXS)]


# (the peer that sent it, the transactions' bytes, their size in bytes, their units)
Chunk = tuple[Any, list[bytes], int, int]


def units(raw: bytes) -> int:
    """The inbox units of one transaction: one per `UNIT_BYTES` started (at least one)."""
    return max(1, -(-len(raw) // UNIT_BYTES))


def _chunks(raws: list[bytes]) -> list[tuple[list[bytes], int, int]]:
    """`raws` cut in order into chunks of at most `ADMIT_CHUNK` transactions and at most
    `CHUNK_BYTES` bytes (a larger transaction is a chunk of its own), with their sizes in
    bytes and in units."""
    out: list[tuple[list[bytes], int, int]] = []
    chunk: list[bytes] = []
    size = weight = 0
    for raw in raws:
        if chunk and (len(chunk) == ADMIT_CHUNK or size + len(raw) > CHUNK_BYTES):
            out.append((chunk, size, weight))
            chunk, size, weight = [], 0, 0
        chunk.append(raw)
        size += len(raw)
        weight += units(raw)
    if chunk:
        out.append((chunk, size, weight))
    return out


def _decode(raws: list[bytes]) -> tuple[list[Transaction], int]:
    """The transactions of `raws` that decode, and how many do not (malformed)."""
    txs: list[Transaction] = []
    for raw in raws:
        try:  # strict like codec.decode; the hash is taken from `raw`, not re-encoded
            txs.append(decode_tx(raw, max_size=MAX_TX_BYTES))
        except CodecError:
            pass
    return txs, len(raws) - len(txs)


def _own_share(peer: Any) -> tuple[Hashable, Hashable]:
    key = getattr(peer, "address", peer)
    return key, key


class TxGossip:
    def __init__(
        self,
        network: Any,
        admit: Callable[[Transaction], bool],  # True if admitted; never raises
        *,
        flush_interval_s: float = 0.01,
        admit_many: Callable[[list[Transaction]], list[Verdict]] | None = None,
        share: Callable[[Any], tuple[Hashable, Hashable]] | None = None,
        on_forged: Callable[[Any, int], None] | None = None,
        on_admitted: Callable[[Any, int], None] | None = None,
    ) -> None:
        self.network = network
        self.admit = admit
        # The same check for a whole received batch at once (one store lookup), if given.
        self.admit_many = admit_many
        self.flush_interval = flush_interval_s
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._scheduled = False
        self.on_forged = on_forged
        self.on_admitted = on_admitted  # (peer, n): n of its transactions were admitted
        self.stats = {
            "sent": 0, "received": 0, "admitted": 0, "refused": 0, "malformed": 0, "forged": 0,
        }  # fmt: skip
        # Who shares the inbox with whom: `share(peer)` is (group, sub); by default each
        # peer is a group of its own.
        self._share = share or _own_share
        # The inbox: per group, per sub, its transactions' bytes waiting, in chunks
        # (`_chunks`). Each chunk keeps the peer that sent it (a forged transaction blames
        # that peer), its size in bytes and in units.
        self._inbox: dict[Hashable, dict[Hashable, deque[Chunk]]] = {}
        self._queued: dict[Hashable, int] = {}  # units waiting, per group
        self._sub_queued: dict[Hashable, dict[Hashable, int]] = {}  # and per sub
        self._inbox_txs = 0  # units waiting (`units`: one per small transaction)
        # Per group whose next chunk is larger than one turn pays for: the bytes its
        # turns so far pay for (`_drain`).
        self._credit: dict[Hashable, int] = {}
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
        """Frames of kind KIND_TXS from a peer: admit each valid transaction, drop the rest.
        On a running loop only the frame's list of transaction bytes is decoded here; each
        transaction is decoded when its chunk is admitted (`_drain`)."""
        if kind != KIND_TXS:
            return
        try:
            batch = decode(payload, TxBatch, max_size=MAX_BATCH_BYTES)
        except CodecError:
            self.stats["malformed"] += 1
            return
        self.stats["received"] += len(batch.txs)
        raws = []
        for raw in batch.txs:
            if len(raw) > MAX_TX_BYTES:  # decode_tx refuses it: no need to queue it
                self.stats["malformed"] += 1
            else:
                raws.append(raw)
        if not raws:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop to share: admit at once
            txs, bad = _decode(raws)
            self.stats["malformed"] += bad
            self._admit(peer, txs)
            return
        group, sub = self._share(peer)
        chunks = _chunks(raws)
        n = sum(weight for _, _, weight in chunks)
        if not self._make_room(group, sub, n):
            self.dropped_busy += 1
            return
        subs = self._inbox.setdefault(group, {})
        queue = subs.get(sub)
        if queue is None:
            queue = subs[sub] = deque()
        for chunk, size, weight in chunks:
            queue.append((peer, chunk, size, weight))
        self._queued[group] = self._queued.get(group, 0) + n
        counts = self._sub_queued.setdefault(group, {})
        counts[sub] = counts.get(sub, 0) + n
        self._inbox_txs += n
        if self._admitting is None:
            self._admitting = loop.create_task(self._drain(), name="tx-gossip-admission")

    def _make_room(self, group: Hashable, sub: Hashable, n: int) -> bool:
        """Whether `n` more units of `sub` in share group `group` fit in the inbox.
        When it is full: a group within an equal share of the inbox (`MAX_INBOX_TXS` over
        the groups with transactions waiting, its own counted) takes the room of the groups
        holding the most; a group past its share may still make room inside itself, for a
        `sub` within an equal share of what the group holds, from its subs holding the
        most. Anything else does not fit."""
        if self._inbox_txs + n <= MAX_INBOX_TXS:
            return True
        queued = self._queued
        groups = len(queued) + (group not in queued)
        if queued.get(group, 0) + n <= MAX_INBOX_TXS // groups:
            while self._inbox_txs + n > MAX_INBOX_TXS:  # the groups over the share hold enough
                self._evict(max(queued, key=queued.__getitem__))
            return True
        counts = self._sub_queued.get(group, {})
        subs = len(counts) + (sub not in counts)
        if counts.get(sub, 0) + n > queued.get(group, 0) // subs:
            return False
        while self._inbox_txs + n > MAX_INBOX_TXS:  # the group's other subs hold at least n
            self._evict(group)
        return True

    def _evict(self, group: Hashable) -> None:
        """Drop the newest chunk of the sub of `group` holding the most."""
        counts = self._sub_queued[group]
        most = max(counts, key=counts.__getitem__)
        _, chunk, _, weight = self._inbox[group][most].pop()
        self._forget(group, most, weight)
        self.evicted += len(chunk)

    def _forget(self, group: Hashable, sub: Hashable, n: int) -> None:
        """`n` units of `sub` in `group` left the inbox."""
        self._inbox_txs -= n
        counts = self._sub_queued[group]
        left = counts[sub] - n
        if left:
            counts[sub] = left
        else:
            del counts[sub], self._inbox[group][sub]
        left = self._queued[group] - n
        if left:
            self._queued[group] = left
        else:
            del self._queued[group], self._sub_queued[group], self._inbox[group]
            self._credit.pop(group, None)

    async def _drain(self) -> None:
        """Decode and admit the inbox, one chunk of each group in turn (of its subs in
        turn), until it is empty. Each turn gives a group `CHUNK_BYTES` to decode: a larger
        chunk (one transaction) waits for as many turns as its size takes, so each group
        gets about the same bytes decoded. A chunk of more than `DECODE_IN_PLACE_BYTES` is
        decoded in a worker thread, so the loop keeps turning while its map keys are
        scanned."""
        credit = self._credit
        try:
            while self._inbox:
                for group in list(self._inbox):
                    subs = self._inbox.get(group)
                    if not subs:  # emptied to make room meanwhile
                        continue
                    sub, queue = next(iter(subs.items()))
                    have = credit.pop(group, 0) + CHUNK_BYTES
                    if queue[0][2] > have:  # its turns so far do not pay for the chunk
                        credit[group] = have
                        continue
                    sender, chunk, size, weight = queue.popleft()
                    if len(subs) > 1:  # its next chunk waits behind the group's other subs
                        del subs[sub]
                        subs[sub] = queue
                    self._forget(group, sub, weight)
                    if size > DECODE_IN_PLACE_BYTES:
                        txs, bad = await asyncio.to_thread(_decode, chunk)
                    else:
                        txs, bad = _decode(chunk)
                    self.stats["malformed"] += bad
                    if txs:
                        self._admit(sender, txs)
                    await asyncio.sleep(0)
        finally:
            self._admitting = None

    def _admit(self, peer: Any, txs: list[Transaction]) -> None:
        verdicts: list[Verdict]
        if self.admit_many is not None:
            verdicts = self.admit_many(txs)
        else:
            verdicts = [self.admit(tx) for tx in txs]
        admitted = sum(1 for ok in verdicts if ok is True)
        forged = sum(1 for ok in verdicts if ok == FORGED)
        self.stats["admitted"] += admitted
        self.stats["refused"] += len(txs) - admitted
        if admitted and self.on_admitted is not None:
            self.on_admitted(peer, admitted)
        if forged:
            self.stats["forged"] += forged
            if self.on_forged is not None:
                self.on_forged(peer, forged)
