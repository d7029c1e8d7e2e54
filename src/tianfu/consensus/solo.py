"""Single-validator block production for the dev chain.

One validator holding all the voting power: it builds a block from the mempool, signs
its precommit (which alone is more than 2/3 of the power) and commits block and
certificate together. Blocks, headers and certificates are exactly those a
multi-validator network produces; only the agreement step is trivial.

If a block cannot be built or stored, the transaction that causes it is found by
bisection and dropped (`tianfu.consensus.culprit`): the chain goes on without it. A store
that cannot be written (`write_failures`: a full disk, an I/O error, a read-only file
system) is no transaction's fault: nothing is dropped, the transactions stay pending, one
ERROR line says what is wrong and what to do, and production retries with a backoff (a
WARNING a minute while it lasts, one when a block is stored again). Any other failure of
the host (`culprit.host_fault`: the store cannot be read, no memory) is met the same way,
its ERROR line saying `cannot make block H: <error>`. When such failures repeat on the
same transactions `culprit.HOST_FAULT_REPEATS` times in a row while the store answers its
probe, they are the transactions' after all: the culprit search runs taking them for a
transaction's, and drops the one that causes them.

BFT time: a block is dated with the time of the previous block's precommit. A dev chain
makes blocks only when transactions arrive, so after an idle spell the next block would
carry a stale time; when it is more than `STALE_TIME_MS` old, an empty block is committed
first (its precommit carries the current time), as a network's empty blocks would have.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol

from tianfu.consensus.culprit import (
    HostFaultStreak,
    build_dropping_culprit,
    host_fault,
    store_answers,
    write_fault,
)
from tianfu.consensus.retry import Retry
from tianfu.crypto import KeyPair, sign_vote
from tianfu.types import PRECOMMIT, CommitCertificate, CommitSig, VoteDomain

log = logging.getLogger(__name__)

STALE_TIME_MS = 1000  # a next block time older than this gets an empty block first
ANY_SIZE = 1 << 62  # a take's byte limit that any transaction fits


class BlockBuilder(Protocol):
    chain_id: str
    vote_domain: VoteDomain

    def build_block(self, txs: list, proposer: bytes, verified: Any = None) -> Any: ...
    def next_block_time(self) -> int: ...
    def commit(self, executed: Any, cert: CommitCertificate) -> None: ...
    @property
    def height(self) -> int: ...


class TxSource(Protocol):
    def take(self, max_txs: int, max_bytes: int) -> list: ...
    def remove(self, hashes: Any) -> None: ...
    def __len__(self) -> int: ...


@dataclass(eq=False)
class SoloDriver:
    ledger: BlockBuilder
    mempool: TxSource
    key: KeyPair
    _: KW_ONLY
    max_block_txs: int
    max_block_bytes: int
    interval_ms: int  # at least this long from one block's start to the next one's
    verified: Callable[[Any], bool] | None = None  # (a transaction)
    on_commit: Callable[[Any], None] | None = None
    clock: Callable[[], float] = time.time
    # Failures of the store, not of a transaction (the node adds its store's write error).
    write_failures: tuple[type[BaseException], ...] = (OSError,)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _inflight: asyncio.Future[Any] | None = field(default=None, init=False)
    _retry: Retry | None = field(default=None, init=False)  # while the store cannot be written
    # Host faults in a row on the same transactions (`culprit.HostFaultStreak`).
    _streak: HostFaultStreak = field(default_factory=HostFaultStreak, init=False)

    def notify(self) -> None:
        """A transaction arrived."""
        self.wakeup.set()

    def produce_one(self, txs: list) -> Any:
        """Build, sign and commit one block of the candidate `txs` (blocking; any thread)."""
        if txs and int(self.clock() * 1000) - self.ledger.next_block_time() > STALE_TIME_MS:
            self._produce_block([])
        return self._produce_block(txs)

    def _produce_block(self, txs: list) -> Any:
        executed = self.ledger.build_block(txs, self.key.public_key, self.verified)
        header = executed.block.header
        # BFT time with one validator: its precommit's time dates the next block.
        time_ms = max(int(self.clock() * 1000), header.time_ms + 1)
        vote = sign_vote(
            self.key, self.ledger.vote_domain, header.height, 0, PRECOMMIT, header.hash, time_ms
        )
        cert = CommitCertificate(
            1,
            self.ledger.chain_id,
            header.height,
            0,
            header.hash,
            [CommitSig(vote.validator, vote.time_ms, vote.signature)],
        )
        self.ledger.commit(executed, cert)
        return executed

    def produce(self, txs: list, blame_host: bool = False) -> tuple[Any, list[bytes]]:
        """`produce_one`, or if that fails, blocks of shorter prefixes of `txs` until one
        commits; a transaction that fails a block on its own is dropped (logged). Returns
        the executed block and the hashes to take out of the mempool: those committed, those
        execution refused, and the culprit. Raises if even an empty block fails, and a
        `write_failures` error or other host fault at once (nothing dropped) unless
        `blame_host` (the store answered its probe after repeated ones)."""
        built = build_dropping_culprit(
            self.produce_one,
            txs,
            stop_at_success=True,
            not_a_tx_fault=self.write_failures,
            blame_host=blame_host,
        )
        executed = built.result
        done = [t.hash for t in executed.block.txs]
        for h, why in getattr(executed.result, "dropped", []):
            log.info("dropping transaction %s: %s", h.hex(), why)
            done.append(h)
        if built.culprit is not None:
            log.warning(
                "dropping transaction %s: a block holding it cannot be built or stored (%s)",
                built.culprit.hash.hex(),
                built.error,
            )
            done.append(built.culprit.hash)
        elif built.attempts > 1:
            log.warning(
                "block %d holds %d of %d candidates: a block of all of them failed",
                executed.block.header.height,
                built.used,
                len(txs),
            )
        return executed, done

    async def run(self) -> None:
        if self.ledger.height == 0:
            await self._produce()  # a first (empty) block anchors state proofs at height 1
        last_start = 0.0
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while len(self.mempool):
                # At most one block per interval: under load, transactions gather into the
                # next block while this one is built; after idle, the first goes at once.
                gap = last_start + self.interval_ms / 1000 - asyncio.get_running_loop().time()
                if gap > 0:
                    await asyncio.sleep(gap)
                last_start = asyncio.get_running_loop().time()
                await self._produce()

    def _store_failed(self, exc: BaseException) -> float:
        """A block could not be stored: say so (once an outage, then a line a minute) and
        return the wait before the next attempt."""
        retry = self._retry
        if retry is None:
            height = self.ledger.height + 1
            log.error(
                "cannot store block %d: %s: no block is made until the store can be written "
                "again (free disk space, or fix the disk, under the chain's data directory); "
                "the transactions stay pending and production retries by itself",
                height,
                exc,
            )
            retry = self._retry = Retry(f"store block {height}", logger=log)
        retry.failed(exc)
        return retry.wait()

    def _host_failed(self, exc: BaseException) -> float:
        """A block could not be made for the host's failure (`culprit.host_fault`: the
        store cannot be read, no memory): as `_store_failed`, with its own words."""
        retry = self._retry
        if retry is None:
            height = self.ledger.height + 1
            log.error(
                "cannot make block %d: %s: the host's failure, not a transaction's; the "
                "transactions stay pending and production retries by itself",
                height,
                f"{type(exc).__name__}: {exc}",
            )
            retry = self._retry = Retry(f"make block {height}", logger=log)
        retry.failed(exc)
        return retry.wait()

    async def _theirs(self, txs: list, exc: BaseException) -> bool:
        """Whether a host fault met making a block of `txs` is to be searched for as a
        transaction's: the `HOST_FAULT_REPEATS`-th in a row on the same transactions, and
        the store answers its probe (else nothing is dropped)."""
        if not self._streak.failed([t.hash for t in txs]):
            return False
        store = getattr(self.ledger, "store", None)
        if not await asyncio.to_thread(store_answers, store):
            return False
        log.warning(
            "block %d: %d attempts in a row failed on the host (%s: %s) while the store "
            "answers: searching for the transaction that causes it",
            self.ledger.height + 1,
            self._streak.count,
            type(exc).__name__,
            exc,
        )
        self._streak.reset()
        return True

    async def drain(self) -> None:
        """Wait for a block being built or stored to finish (on shutdown, after cancel)."""
        if self._inflight is not None:
            with contextlib.suppress(Exception):
                await self._inflight

    def limits(self) -> tuple[int, int]:
        """(transactions, transaction bytes) the next block may hold: `max_block_txs` and
        `max_block_bytes`, within the chain's parameters of that height when the ledger
        has them (`Ledger.params`: a vote changes them from H + 2; every other ledger
        refuses a block over them)."""
        txs, nbytes = self.max_block_txs, self.max_block_bytes
        params_at = getattr(self.ledger, "params", None)
        if callable(params_at):
            p = params_at(self.ledger.height + 1)
            txs, nbytes = min(txs, p.max_block_txs), min(nbytes, p.max_block_bytes)
        return txs, nbytes

    async def _produce(self) -> None:
        # The mempool is only touched on the event loop; execution runs in a worker thread.
        max_txs, max_bytes = self.limits()
        txs = self.mempool.take(max_txs, max_bytes)
        if not txs and len(self.mempool):
            # The first in turn is larger than the limit: it goes alone, or, larger than any
            # block of this height, is dropped (else the take stops at it every time).
            txs = self.mempool.take(1, ANY_SIZE)
        blame_host = False
        while True:
            try:
                work = asyncio.to_thread(self.produce, txs, blame_host)
                self._inflight = asyncio.ensure_future(work)
                executed, done = await asyncio.shield(self._inflight)
                break
            except Exception as exc:  # even an empty block failed (a task's top level)
                hosts = isinstance(exc, self.write_failures) or host_fault(exc)
                repeat = hosts and not blame_host and not write_fault(exc)
                if repeat and await self._theirs(txs, exc):
                    blame_host = True  # the store answers: search, blaming a transaction
                    continue
                if isinstance(exc, self.write_failures):  # the store cannot be written
                    await asyncio.sleep(self._store_failed(exc))
                elif hosts:  # the store cannot be read, no memory: wait, retry
                    await asyncio.sleep(self._host_failed(exc))
                else:
                    log.exception("block production failed")
                    await asyncio.sleep(max(self.interval_ms / 1000, 0.1))
                return
        self._streak.reset()
        if self._retry is not None:
            log.warning(
                "store writable again: block %d stored after %d failed attempts",
                executed.block.header.height,
                self._retry.failures,
            )
            self._retry = None
        # Candidates left out (the block's gas or receipt budget was full) stay pending.
        self.mempool.remove(done)
        if self.on_commit is not None:
            self.on_commit(executed)
