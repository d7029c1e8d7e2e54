"""NodeService: the node's ChainService — admits transactions, streams events, and answers reads
(`tianfu.node.reads`)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from tianfu.api.service import (
    CommittedEvent,
    TxBadSignature,
    TxBusy,
    TxDuplicate,
    TxQuotaExceeded,
    TxRecord,
    TxRejected,
    TxSignerRefused,
    TxStateUnavailable,
    TxUnchecked,
)
from tianfu.codec import encode
from tianfu.contracts.identity import AuthError
from tianfu.execution.contract_api import ContractError
from tianfu.execution.errors import STATE_UNREADABLE, host_read_failure
from tianfu.execution.executor import TxInvalid
from tianfu.execution.refusals import BadSignature, QuotaExceeded
from tianfu.ledger import Ledger
from tianfu.mempool import Mempool, MempoolFull
from tianfu.mempool.gossip import FORGED, Verdict
from tianfu.node.forged import Forged, signer_of, vouched_check
from tianfu.node.reads import ChainReads
from tianfu.proofs.build import ProofBuilder
from tianfu.types import (
    Block,
    ConsensusParams,
    Receipt,
    Transaction,
)

log = logging.getLogger(__name__)
# Events one event stream may have left unread when a block's events arrive (a slower one
# is dropped); a block's events are queued whole, so a valid block with more (up to its
# gas: tens of thousands) never drops a stream that keeps up.
SUBSCRIBER_QUEUE = 10_000
# ... and their canonical bytes: an event of 64 KiB of one-byte values takes about 0.5 MB of
# the node's memory, so 10,000 of them held gigabytes for one stream that does not read.
SUBSCRIBER_QUEUE_BYTES = 16 << 20
EVENT_SHARE_MAX = 4096  # an event's share of its receipt's bytes counted as its own, at most
ADMIT_CHUNK = 64  # transactions of a batch admitted between two turns of the event loop


class _Subscription:
    """An event stream's queue of (event, its canonical bytes), and the bytes it holds."""

    __slots__ = ("held", "queue")

    def __init__(self) -> None:
        # Unbounded itself: `NodeService._publish` bounds it between blocks.
        self.queue: asyncio.Queue[tuple[CommittedEvent, int] | None] = asyncio.Queue()
        self.held = 0


class _Waiter:
    """A wait for the commit of `hashes`: one future, resolved when the last one commits."""

    __slots__ = ("future", "hashes", "records", "remaining")

    def __init__(self, hashes: list[bytes]) -> None:
        self.future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.hashes = hashes
        self.records: dict[bytes, TxRecord] = {}
        self.remaining = len(hashes)

    def committed(self, tx_hash: bytes, record: TxRecord) -> None:
        if tx_hash in self.records:
            return
        self.records[tx_hash] = record
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(None)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class NodeService(ChainReads):
    def __init__(
        self,
        ledger: Ledger,
        mempool: Mempool,
        *,
        node_name: str,
        org: str,
        is_validator: bool,
        max_body_bytes: int = 1 << 20,
        on_tx: Callable[[Transaction], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = ledger.store
        self.mempool = mempool
        self.chain_id = ledger.chain_id
        self.node_name = node_name
        self.org = org
        self.is_validator = is_validator
        self.max_body_bytes = max_body_bytes
        self.on_tx = on_tx
        # "ok" or "degraded: ...", and the reason code of each problem it names
        # (`tianfu.node.health.NodeHealth.state`); a node without probes is ok.
        self.health: Callable[[], tuple[str, list[str]]] = lambda: ("ok", [])
        self.verified: set[bytes] = set()  # signatures checked at admission, until committed
        self._waiters: dict[bytes, list[_Waiter]] = {}  # tx hash -> waits for its commit
        self._subscribers: set[_Subscription] = set()
        self._proofs: ProofBuilder | None = None
        # Private data (`tianfu.privdata.node.PrivateDataNode`), when the node keeps it: told
        # of every committed block, served by `tianfu.api.private`.
        self.private: Any = None
        self.registry = CollectorRegistry()
        gauge = functools.partial(Gauge, registry=self.registry)
        counter = functools.partial(Counter, registry=self.registry)
        self.m_height = gauge("tianfu_height", "Latest committed height")
        self.m_txs = counter("tianfu_txs_committed", "Committed transactions")
        self.m_failed = counter("tianfu_txs_failed", "Committed transactions with a failed receipt")
        self.m_rejected = counter("tianfu_txs_rejected", "Transactions refused at admission")
        self.m_mempool = gauge("tianfu_mempool_size", "Pending transactions")
        self.m_block_txs = Histogram(
            "tianfu_block_txs",
            "Transactions per block",
            registry=self.registry,
            buckets=(0, 1, 10, 100, 500, 1000, 2000, 5000),
        )
        self.m_height.set(self.store.height())
        # The consensus driver's clock minus the validators' clocks (the median over the
        # last decided certificate's precommits, as they arrived; ms); None until a block
        # was decided here live, or for a node without consensus.
        self.clock_offset: Callable[[], int | None] = lambda: None
        gauge(
            "tianfu_clock_offset_ms",
            "This node's clock minus the network's BFT time at the last commit (ms)",
        ).set_function(lambda: float(self.clock_offset() or 0))

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        head = self.ledger.head()
        health, reasons = self.health()
        return {
            "chain_id": self.chain_id,
            "height": head.height if head else 0,
            "latest_hash": head.hash.hex() if head else "",
            "time_ms": head.time_ms if head else 0,
            "node": self.node_name,
            "org": self.org,
            "validator": self.is_validator,
            "genesis_hash": self.ledger.genesis.hash.hex(),
            "suite": self.ledger.genesis.suite,
            "mempool": len(self.mempool),
            "health": health,
            "health_reasons": reasons,
            "clock_offset_ms": self.clock_offset(),
        }

    # -- transactions ----------------------------------------------------------------------
    async def submit(self, tx: Transaction) -> bytes:
        h = self.admit(tx)
        if self.on_tx is not None:
            self.on_tx(tx)
        return h

    async def submit_many(self, txs: list[Transaction]) -> list[bytes | TxRejected]:
        """`submit` for a batch (the API's batch route): per transaction, its hash or the
        refusal `submit` would have raised; the admitted ones go to `on_tx` (the gossip
        batches them into frames).

        A batch is admitted `ADMIT_CHUNK` transactions at a time, and the event loop runs
        (votes, timers, other requests) between two chunks: admitting one costs a signature
        check, and a first-use certificate's check about 0.4 ms more, so a batch of 1,000
        from anyone at all would otherwise hold the loop for about half a second."""
        outcomes: list[bytes | TxRejected] = []
        forged = Forged()
        for start in range(0, len(txs), ADMIT_CHUNK):
            if start:
                await asyncio.sleep(0)
            outcomes += self._admit_batch(txs[start : start + ADMIT_CHUNK], start, forged)
        on_tx = self.on_tx
        if on_tx is not None:
            for tx, outcome in zip(txs, outcomes, strict=True):
                if isinstance(outcome, bytes):
                    on_tx(tx)
        return outcomes

    def admit(self, tx: Transaction) -> bytes:
        """Check a transaction against committed state and add it to the mempool; its hash,
        or the refusal (`TxDuplicate` / `TxRejected`) raised."""
        outcome = self._admit_batch([tx])[0]
        if isinstance(outcome, bytes):
            return outcome
        raise outcome

    def admit_many(self, txs: list[Transaction]) -> list[bool]:
        """`admit` for a batch (gossip): whether each was admitted; never raises."""
        return [isinstance(o, bytes) for o in self._admit_batch(txs)]

    def gossip_verdicts(self, txs: list[Transaction]) -> list[Verdict]:
        """`admit_many` for transactions a peer sent: True (admitted), False (refused), or
        `FORGED` for a refusal the peer is to blame for (a bad signature)."""
        return [
            True if isinstance(o, bytes) else FORGED if isinstance(o, TxBadSignature) else False
            for o in self._admit_batch(txs, vouched=True)
        ]

    def _admit_batch(
        self,
        txs: list[Transaction],
        offset: int = 0,
        forged: Forged | None = None,
        *,
        vouched: bool = False,
    ) -> list[bytes | TxRejected]:
        """`admit` for each of `txs`: its hash, or the refusal `admit` would have raised.

        For the API's batches (`forged`: what the batch met so far, `Forged`; `offset`: the
        index of `txs[0]` in it): after its first forged transaction — a bad signature, or
        a signer refused: unknown, revoked, a certificate no member CA issued — one that is
        neither pending nor committed gets only the checks that need neither a signature
        check nor state, then the refusal its signer already had in the batch (the same key
        and certificate), else it is refused unchecked (`TxUnchecked`): a batch costs at
        most one signature check for a refusal.
        An honest client's batch has neither; a batch of 1,000 of either cost 1,000
        signature checks on the event loop (and a first-use certificate's check each). A
        peer's transactions (gossip: the peer is struck for a forged one) are each checked,
        and a forged one is told even when its signer is refused (`vouched`,
        `tianfu.node.forged.vouched_check`).

        The replay check, the next height and the clock (which only a first-use
        certificate's validity period reads) come once for the batch (the store only grows,
        and the execution of every block checks replays again); the mempool gauge is set
        once at the end. `Executor.check_tx` keeps the callers and method tables it resolved
        (`tianfu.execution.admission_memo`), so a batch from a few senders costs about one
        signature verify per transaction.
        """
        mempool = self.mempool
        hashes = [tx.hash for tx in txs]
        try:
            committed = self.store.committed_txs([h for h in hashes if h not in mempool])
            next_height = self.store.height() + 1
        except Exception as exc:
            if not host_read_failure(exc):
                raise
            return [TxStateUnavailable(STATE_UNREADABLE) for _ in txs]
        time_ms = int(time.time() * 1000)
        check_tx = self.ledger.executor.check_tx
        if vouched:
            check_tx = vouched_check(check_tx)
        reader = self.ledger.latest.get
        add = mempool.add
        verified = self.verified
        out: list[bytes | TxRejected] = []
        params: ConsensusParams | None = None  # of block next_height, for `_unchecked`
        unchecked = 0
        for i, (tx, h) in enumerate(zip(txs, hashes, strict=True)):
            if h in mempool:
                out.append(TxDuplicate("transaction is already pending"))
                continue
            if h in committed:
                out.append(TxDuplicate("transaction is already committed (replay)"))
                continue
            if forged is not None and forged.first is not None:
                if params is None:
                    try:
                        params = self.ledger.executor.params_for(next_height)
                    except Exception as exc:  # the store cannot be read now: as in check_tx
                        if not host_read_failure(exc):
                            raise
                        out.append(TxStateUnavailable(STATE_UNREADABLE))
                        continue
                out.append(self._unchecked(tx, next_height, params, forged))
                unchecked += 1
                continue
            try:
                outsider = check_tx(tx, next_height, time_ms, reader)
                add(tx, outsider=outsider)  # raises nothing else: h is not pending
            except QuotaExceeded as exc:
                self.m_rejected.inc()
                out.append(TxQuotaExceeded(str(exc)))
                continue
            except BadSignature as exc:
                self.m_rejected.inc()
                out.append(TxBadSignature(str(exc)))
                if forged is not None:
                    forged.first = offset + i
                continue
            except AuthError as exc:  # the signer: unknown, revoked, its certificate refused
                self.m_rejected.inc()
                refused = TxSignerRefused(str(exc))
                out.append(refused)
                if forged is not None:
                    forged.first = offset + i
                    forged.signers[signer_of(tx)] = refused
                continue
            except MempoolFull as exc:  # no room now (for this signer, or outsiders): retry
                self.m_rejected.inc()
                out.append(TxBusy(str(exc)))
                continue
            except (TxInvalid, ContractError) as exc:
                self.m_rejected.inc()
                out.append(TxRejected(str(exc)))
                continue
            except Exception as exc:  # the store cannot be read now: not the transaction's
                if not host_read_failure(exc):
                    raise
                out.append(TxStateUnavailable(STATE_UNREADABLE))
                continue
            verified.add(h)
            out.append(h)
        if unchecked:
            self.m_rejected.inc(unchecked)
        self.m_mempool.set(len(mempool))
        return out

    def _unchecked(
        self, tx: Transaction, next_height: int, params: ConsensusParams, forged: Forged
    ) -> TxRejected:
        """The refusal of a batch's transaction after its first forged one: what the checks
        that need neither a signature check nor state say (chain, expiry, size, under
        `params`, those of block `next_height`: as `admit` would say it), else the refusal
        of its signer earlier in the batch, else `TxUnchecked` (one answer for all of them).
        The caller counts it refused. The parameters are read once per chunk, and the
        refusal made once per batch: they took about half of a forged batch's time on the
        event loop."""
        executor = self.ledger.executor
        try:
            executor.check_static(tx, next_height, params, signature=False)
            executor.check_size(tx, params)
        except TxInvalid as exc:
            return TxRejected(str(exc))
        known = forged.signers.get(signer_of(tx))
        if known is not None:
            return known
        if forged.unchecked is None:
            forged.unchecked = TxUnchecked(
                f"not checked: transaction {forged.first} of this batch has a bad signature "
                "or a refused signer (nothing after it is)"
            )
        return forged.unchecked

    def signature_checked(self, tx: Transaction) -> bool:
        """Whether admission checked `tx`'s signature: this very transaction, pending (the
        ledger's `verified`; safe from a worker thread). Its hash covers the body alone: a
        proposer may put an admitted transaction's body under other signature bytes, which
        must be checked, or this node would find valid a block that a node without the
        transaction pending (one syncing from the genesis) finds invalid."""
        h = tx.hash
        if h not in self.verified:
            return False
        pending = self.mempool.get(h)
        return pending is tx or (pending is not None and pending.signature == tx.signature)

    async def wait_committed(self, tx_hash: bytes, timeout_s: float) -> TxRecord | None:
        record = self.get_tx(tx_hash)
        if record is not None:
            return record
        waiter = _Waiter([tx_hash])
        await self._wait(waiter, timeout_s)
        return waiter.records.get(tx_hash)

    async def wait_committed_many(
        self, tx_hashes: list[bytes], timeout_s: float
    ) -> list[TxRecord | None]:
        """`wait_committed` for many: one store lookup and one future for all of them.

        A hash still pending in the mempool is not looked up in the store: a transaction
        leaves the mempool in `block_committed` of its block (or an earlier removal) and is
        never admitted again once stored, so its commit is yet to be announced, on this event
        loop, after the waiter below is registered (no await in between). A batch of
        just-admitted transactions (the batch route) costs no store lookup at all.
        """
        unique = list(dict.fromkeys(tx_hashes))
        records: dict[bytes, TxRecord] = {}
        mempool = self.mempool
        unknown = [h for h in unique if h not in mempool]
        for h in self.store.committed_txs(unknown) if unknown else ():
            record = self.get_tx(h)
            if record is not None:
                records[h] = record
        missing = [h for h in unique if h not in records]
        if missing:
            waiter = _Waiter(missing)
            await self._wait(waiter, timeout_s)
            records.update(waiter.records)
        return [records.get(h) for h in tx_hashes]

    async def _wait(self, waiter: _Waiter, timeout_s: float) -> None:
        """Register `waiter` for its hashes; return when all are committed or at the timeout."""
        if timeout_s <= 0:
            return
        waiters = self._waiters
        for h in waiter.hashes:
            listed = waiters.get(h)
            if listed is None:
                waiters[h] = [waiter]
            else:
                listed.append(waiter)
        future = waiter.future
        # The timeout resolves the future itself (no wait_for wrapper: one timer, no task).
        timer = future.get_loop().call_later(timeout_s, _resolve, future)
        try:
            await future
        finally:
            timer.cancel()
            if waiter.remaining:  # timed out or cancelled: unregister what is still waited
                for h in waiter.hashes:
                    if h in waiter.records:
                        continue
                    listed = waiters.get(h)
                    if listed is not None:
                        if waiter in listed:
                            listed.remove(waiter)
                        if not listed:
                            del waiters[h]

    def block_committed(self, executed: Any) -> None:
        """Called on the event loop after a block is durably stored.

        The per-transaction work is kept to what is needed: each hash computed once,
        counters bumped once per block, a record built only for a waited transaction, an
        event only when someone subscribes.
        """
        block: Block = executed.block
        txs = block.txs
        receipts: list[Receipt] = executed.result.receipts
        height = block.header.height
        hashes = [tx.hash for tx in txs]
        self.m_height.set(height)
        self.m_block_txs.observe(len(txs))
        if hashes:
            self.m_txs.inc(len(hashes))
            failed = sum(1 for r in receipts if not r.ok)
            if failed:
                self.m_failed.inc(failed)
            self.verified.difference_update(hashes)
        waiters = self._waiters
        if waiters:
            for i, h in enumerate(hashes):
                listed = waiters.pop(h, None)
                if listed is not None:
                    record = TxRecord(txs[i], receipts[i], height, i)
                    for waiter in listed:
                        waiter.committed(h, record)
        if self._subscribers:
            encoded: list[bytes] | None = getattr(executed, "encoded_receipts", None)
            if encoded is None or len(encoded) != len(receipts):
                encoded = None
            published: list[tuple[CommittedEvent, int]] = []
            for i, (h, receipt) in enumerate(zip(hashes, receipts, strict=True)):
                events = receipt.events
                if not events:
                    continue
                # Each event's share of its receipt's bytes (together, at least theirs),
                # when small; else its own bytes (a large result beside small events is
                # not theirs: it would drop a stream a few hundred events behind).
                share = len(encoded[i]) // len(events) + 1 if encoded is not None else 0
                for ev in events:
                    size = share if 0 < share <= EVENT_SHARE_MAX else len(encode(ev)) + 1
                    published.append((CommittedEvent(height, i, h, ev), size))
            if published:
                self._publish(published)
        mempool = self.mempool
        mempool.remove(hashes)
        stale = mempool.evict_expired(height + 1)
        verified = self.verified
        if stale:
            verified.difference_update(stale)
        # Every admitted transaction is pending here until committed or expired, unless a
        # proposer dropped it from the mempool (it can never be in a block): then its hash is
        # forgotten here too (a set of every such hash would only grow). In place: worker
        # threads read it through `signature_checked`.
        if len(verified) > len(mempool):
            verified.difference_update([h for h in verified if h not in mempool])
        self.m_mempool.set(len(self.mempool))
        if self.private is not None:
            self.private.block_committed(executed)

    def _publish(self, events: list[tuple[CommittedEvent, int]]) -> None:
        """Queue a block's `events` (each with its canonical bytes) for every event stream,
        whole. A stream that has not read `SUBSCRIBER_QUEUE` events, or
        `SUBSCRIBER_QUEUE_BYTES` of them, when they arrive is dropped (its reader gets what
        was queued, then its end), never the node: it holds at most those plus one
        block's. The bound is on what a stream left unread between blocks, as the event
        loop does not turn while a block is published: a bound within one block dropped
        every stream, however fast its reader, at a valid block with more events."""
        added = sum(size for _, size in events)
        for sub in list(self._subscribers):
            q = sub.queue
            if q.qsize() >= SUBSCRIBER_QUEUE or sub.held >= SUBSCRIBER_QUEUE_BYTES:
                self._subscribers.discard(sub)  # a slow consumer is dropped, never the node
                q.put_nowait(None)  # (unbounded: the reader stops cleanly after the rest)
                continue
            for item in events:
                q.put_nowait(item)
            sub.held += added

    async def subscribe(self) -> AsyncIterator[CommittedEvent]:
        sub = _Subscription()
        self._subscribers.add(sub)
        try:
            while True:
                item = await sub.queue.get()
                if item is None:
                    return
                sub.held -= item[1]
                yield item[0]
        finally:
            self._subscribers.discard(sub)

    def metrics(self) -> bytes:
        self.m_mempool.set(len(self.mempool))
        return generate_latest(self.registry)
