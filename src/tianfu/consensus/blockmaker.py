"""Building this node's proposal blocks and executing proposed ones, for the driver.

One block is built or executed at a time (the driver's ledger lock), in a worker thread
(`LedgerWork`), and only while the core is still at the block's height: a result for an
abandoned height is dropped. `build` first waits, on an idle chain, until transactions
arrive or the empty-block interval has passed (bounded, well inside the others' propose
timeout); it drops from the mempool the transactions the ledger left out of the block and
the one that made building fail. A failure of the host, not of a transaction
(`culprit.host_fault`: a store read or write that fails, no memory) drops nothing: the
height gets no proposal from this node, one ERROR line says why (then a WARNING every 12th
failure, and one when a block builds again), `build_failure` holds it for the node's health,
and the transactions stay in the mempool for the next build — unless the same transactions
meet a host fault `culprit.HOST_FAULT_REPEATS` builds in a row and the store answers its
probe: then the culprit search runs taking host faults for the transactions', and drops the
one that causes them (a transaction that raises a host-fault type on every node would
otherwise halt the chain). Executing a proposed block that fails on the host is no verdict
on the block: it is tried again with a backoff (`execute_failure` holds why for the node's
health), and answered invalid only when it fails `culprit.HOST_FAULT_REPEATS` times in a
row, the last between two probes the store answered (`_execute_retrying`). `executed` keeps
the executed blocks of the current height, so that committing one does not execute it again.

Pipelined heights (ADR 0030): when this node is the next height's first proposer, `prepare`
starts building that block as soon as the current one is decided, on its executed state,
while it is being stored (`Ledger.build_on`): the mempool's oldest transactions not in the
decided block, taken without changing the mempool, and the decided certificate as the new
block's `last_commit` (which fixes its BFT time). It does so only when that block is full —
the mempool holds more than it takes — so that a build at the next height would select the
same transactions; a block with room is built at its height, with whatever arrived
meanwhile. Nothing is signed: `build` at the next height uses the prepared block if the
block stored below it is the one it was built on, else discards it and builds afresh; every
other ledger work waits for a prepared build to finish first.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

from tianfu.consensus.culprit import (
    HOST_FAULT_REPEATS,
    HostFaultStreak,
    host_fault,
    write_fault,
)
from tianfu.consensus.interfaces import E, MempoolLike
from tianfu.consensus.ledgerwork import Built, DriverTools, LedgerWork, WrongBytes
from tianfu.consensus.messages import (
    BlockBytesWrong,
    BlockExecuted,
    CreateProposalBlock,
    ExecuteBlock,
    ProposalBlockReady,
)
from tianfu.consensus.retry import Retry
from tianfu.types import CommitCertificate, ConsensusParams, Transaction
from tianfu.types.block import block_time_of

log = logging.getLogger("tianfu.consensus.driver")  # what the driver does, in its log

IDLE_POLL_S = 0.01  # how often an idle proposer looks at the mempool
MIN_BUDGET_BYTES = 1 << 20  # the smallest transaction bytes a proposal is limited to
UNLIMITED_BYTES = 1 << 62  # a take of one transaction whatever its size


@dataclass
class Prepared:
    """A proposal block of `height` being built, ahead, on the decided block `parent`."""

    height: int
    parent: bytes
    work: asyncio.Future[Any]


def selection_after(
    mempool: MempoolLike,
    params: ConsensusParams,
    decided: list[Transaction],
    max_bytes: int | None = None,
) -> tuple[list[Transaction], bool]:
    """What `mempool.take` gives once the `decided` transactions are removed, without
    removing them (the take skips them; `max_bytes`: `params.max_block_bytes` unless
    given). And whether the block is full: the mempool holds more than the selection once
    the `decided` are removed (the take stopped at a limit), so transactions arriving later
    cannot join it."""
    if max_bytes is None:
        max_bytes = params.max_block_bytes
    left_out = dict.fromkeys(t.hash for t in decided)  # (in order: `take`'s turn order)
    out = mempool.take(params.max_block_txs, max_bytes, left_out)
    pending = len(mempool) - sum(1 for h in left_out if mempool.get(h) is not None)
    return out, len(out) < pending


class BlockMaker(Generic[E]):
    def __init__(
        self,
        mempool: MempoolLike,
        work: LedgerWork[E],
        tools: DriverTools,
    ) -> None:
        self.mempool, self.work = mempool, work
        self.timers, self.stats = tools.timers, tools.stats
        self.run_blocking, self.mark = tools.run_blocking, tools.mark
        self.executed: dict[bytes, E] = {}  # blocks of the current height, by hash
        self.prepared: Prepared | None = None  # the next height's block, built ahead
        self.budget: int | None = None  # transaction bytes of a round-0 proposal (None: max)
        self.build_failure: str | None = None  # the host's failure that stops our proposals
        self.execute_failure: str | None = None  # the host's failure that stops our verdicts
        self._retry: Retry | None = None  # while building fails on the host
        self._streak = HostFaultStreak()  # host faults in a row on the same transactions

    def limit(self, params: ConsensusParams, round: int) -> int:
        """Transaction bytes this node puts in its proposal of `round`: the budget (at most
        `max_block_bytes`) halved for each round already failed at this height, never below
        `MIN_BUDGET_BYTES` (or `max_block_bytes` if smaller). A block the network cannot
        move and execute within the round's timeouts makes the round fail; a smaller one
        in the next round gets through."""
        top = params.max_block_bytes
        if self.budget is not None:
            top = min(top, self.budget)
        return max(min(MIN_BUDGET_BYTES, params.max_block_bytes), top >> min(round, 30))

    def decided(self, params: ConsensusParams, round: int) -> None:
        """A height was decided in `round`: a round-0 decision doubles the budget (up to
        `max_block_bytes`), a later one halves it for each failed round. Each node keeps
        its own; block validity does not depend on it."""
        budget = params.max_block_bytes if self.budget is None else self.budget
        if round == 0:
            budget = min(params.max_block_bytes, budget * 2)
        else:
            budget = max(min(MIN_BUDGET_BYTES, params.max_block_bytes), budget >> min(round, 30))
        self.budget = budget

    def keep_executed(self, held: Callable[[bytes], bool]) -> None:
        """Forget the executed blocks whose hash is not `held` (the core forgot their
        bytes in a long stall: committing one executes it again)."""
        for h in [h for h in self.executed if not held(h)]:
            del self.executed[h]

    def block_time(self, block_hash: bytes, held: dict[bytes, bytes]) -> int:
        """The header time of a block of the current height: executed here, or one of the
        encoded blocks `held` (the core's)."""
        executed = self.executed.get(block_hash)
        if executed is not None:
            return executed.block.header.time_ms
        return block_time_of(held.get(block_hash, b""))

    def prepare(
        self,
        decided: E,
        certificate: CommitCertificate,
        params: ConsensusParams,
        proposer: bytes,
    ) -> bool:
        """Start building the block after `decided` (being stored) in a worker thread
        if it is full (`selection_after`): True if started. A block with room is built by
        `build` at its height instead, with the transactions that arrive until then.
        `params`: those of the next height."""
        if self.prepared is not None:
            return False
        limit = self.limit(params, 0)
        txs, full = selection_after(self.mempool, params, list(decided.block.txs), limit)
        if not txs or not full:
            if txs:
                self.stats["prepare_not_full"] += 1
            return False
        header = decided.block.header
        work = asyncio.ensure_future(
            self.run_blocking(self.work.build, txs, proposer, (decided, certificate))
        )
        self.prepared = Prepared(header.height + 1, header.hash, work)
        self.mark("prepare")
        self.stats["prepared"] += 1
        return True

    async def settle(self) -> Prepared | None:
        """Wait for a build started by `prepare` (call under the ledger lock) and hand it
        over: no other ledger work runs beside it. None if there is none."""
        prepared, self.prepared = self.prepared, None
        if prepared is not None:
            await asyncio.wait([prepared.work])
            if not prepared.work.cancelled():
                prepared.work.exception()  # (retrieved: a discarded failure is not logged)
        return prepared

    async def _use_prepared(self, height: int, lock: asyncio.Lock) -> Built[E] | None:
        """The block prepared for `height` if the block stored below it is the one it was
        built on; any other prepared build is waited for and discarded."""
        async with lock:
            prepared = await self.settle()
        if prepared is None:
            return None
        try:
            below = self.work.ledger.store.load_header(height - 1)
        except Exception as exc:  # the store cannot be read now: not on it, for all we know
            if not host_fault(exc):
                raise
            log.warning("cannot tell whether block %d was built on the stored one: %s", height, exc)
            below = None
        usable = prepared.height == height and below is not None and below.hash == prepared.parent
        if usable and not prepared.work.cancelled() and prepared.work.exception() is None:
            self.mark("build")
            self.stats["prepared_used"] += 1
            built: Built[E] = prepared.work.result()
            return built
        if usable and not prepared.work.cancelled():  # it failed: build again, log why
            log.warning("building block %d ahead failed: %s", height, prepared.work.exception())
        self.stats["prepared_discarded"] += 1
        return None

    async def execute(
        self, a: ExecuteBlock, lock: asyncio.Lock, height: Callable[[], int | None]
    ) -> BlockExecuted | BlockBytesWrong | None:
        """Execute a proposed block: the core's answer, or None if the height moved on.
        Bytes that are not the block of the hash (`WrongBytes`, or no bytes) are
        answered as such, never as an invalid block."""
        valid = False
        if not a.block:
            self.stats["block_bytes_wrong"] += 1
            return a.bytes_wrong()
        try:
            executed = await self._execute_retrying(a, lock, height)
            if executed is None:
                return None
            valid = True
            if height() == a.height:
                self.executed[a.block_hash] = executed
        except WrongBytes as exc:
            log.info(
                "bytes given for block %d %s are not it: %s", a.height, a.block_hash.hex()[:12], exc
            )
            self.stats["block_bytes_wrong"] += 1
            return a.bytes_wrong()
        except ValueError as exc:  # the ledger's InvalidBlock
            log.info("block %d %s is invalid: %s", a.height, a.block_hash.hex()[:12], exc)
        except Exception:  # a task's top level: treat as invalid, log
            log.exception("executing block %d failed", a.height)
        self.stats["executed"] += 1
        return a.executed(valid)

    async def _execute_retrying(
        self, a: ExecuteBlock, lock: asyncio.Lock, height: Callable[[], int | None]
    ) -> E | None:
        """The proposed block executed, or None once the height moved on. A failure of
        this node's host (`culprit.host_fault`: its store cannot be read, no memory) says
        nothing of the block: no verdict is given (the core waits for one), one ERROR line
        says why, `execute_failure` holds it for the node's health, and execution is tried
        again with the driver's backoff until it gives one — unless it fails
        `HOST_FAULT_REPEATS` times in a row, the last attempt between two probes the store
        answered: then the block makes this host fail (a transaction that raises a
        host-fault type), and it is invalid (a `ValueError`), or a Byzantine proposer could
        halt every validator with it. From the `HOST_FAULT_REPEATS - 1`-th failure on, the
        store is probed after each one, and an attempt follows at once when it answers: a
        failure met before the store answered (an outage that has just ended) never makes
        the block invalid. A write the file system refused (`write_fault`) is never the
        block's."""
        retry: Retry | None = None
        answered = False  # the store answered its probe just before the last attempt
        while True:
            try:
                async with lock:
                    if height() != a.height:
                        if retry is not None:
                            self.execute_failure = None  # (the height was decided without us)
                        return None
                    if await self.settle() is not None:
                        self.stats["prepared_discarded"] += 1
                    self.mark("exec_begin")
                    executed = await self.run_blocking(self.work.execute, a.block, a.block_hash)
                    self.mark("executed")
            except Exception as exc:
                if isinstance(exc, ValueError) or not host_fault(exc):
                    self.execute_failure = None  # a verdict is given: nothing stops them
                    raise  # the block's verdict (or a top-level failure: see `execute`)
                self.stats["execute_host_failures"] += 1
                self.execute_failure = f"{type(exc).__name__}: {exc}"
                if retry is None:
                    log.error(
                        "cannot execute block %d %s: %s: the host's failure, not the block's: "
                        "this node gives it no verdict and tries again",
                        a.height,
                        a.block_hash.hex()[:12],
                        self.execute_failure,
                    )
                    retry = Retry(f"execute block {a.height}", logger=log)
                retry.failed(exc)
                before, answered = answered, False
                if retry.failures >= HOST_FAULT_REPEATS - 1 and not write_fault(exc):
                    async with lock:
                        answered = await self.run_blocking(self.work.store_answers)
                    if answered and before and retry.failures >= HOST_FAULT_REPEATS:
                        # The same failure every time, the store fine around it: the block's.
                        self.execute_failure = None
                        raise ValueError(
                            f"executing it failed on this host {retry.failures} times in a "
                            f"row while the store answers: {type(exc).__name__}: {exc}"
                        ) from None
                if not answered:  # (answering: the next attempt says whose failure it is)
                    await self.timers.sleep(retry.wait())
                continue
            if retry is not None:
                log.warning(
                    "executing blocks again: block %d executed after %d failed attempts",
                    a.height,
                    retry.failures,
                )
            self.execute_failure = None
            return executed

    async def build(
        self,
        a: CreateProposalBlock,
        params: ConsensusParams,
        proposer: bytes,
        lock: asyncio.Lock,
        height: Callable[[], int | None],
        *,
        idle_until: float,
        stopping: Callable[[], bool],
    ) -> ProposalBlockReady | None:
        """Build our proposal block (or take the one `prepare` built): the core's answer,
        or None (height moved on, or even an empty block failed, which is logged)."""
        built = await self._use_prepared(a.height, lock)
        if built is None:  # wait for transactions on an idle chain, build on the stored one
            while not len(self.mempool) and self.timers.now() < idle_until and not stopping():
                if height() != a.height:
                    return None
                await self.timers.sleep(IDLE_POLL_S)
            self.mark("build")
            txs = self.mempool.take(params.max_block_txs, self.limit(params, a.round))
            if not txs:  # a transaction larger than the limit goes alone (one larger
                # than any block is taken too: the build drops it, `check_size`, and the
                # next selection no longer stops at it)
                txs = self.mempool.take(1, UNLIMITED_BYTES)
            try:
                async with lock:
                    if height() != a.height:
                        return None
                    built = await self.run_blocking(self.work.build, txs, proposer)
            except Exception as exc:  # even an empty block failed (a task's top level)
                if not host_fault(exc):
                    log.exception("building block %d failed", a.height)
                    return None
                built = await self._search_host_fault(a, txs, proposer, lock, height, exc)
                if built is None:
                    return None
        return self._ready(a, built, height)

    async def _search_host_fault(
        self,
        a: CreateProposalBlock,
        txs: list[Transaction],
        proposer: bytes,
        lock: asyncio.Lock,
        height: Callable[[], int | None],
        exc: Exception,
    ) -> Built[E] | None:
        """Building `txs` met a host fault: None (nothing dropped, `_host_failed`) unless
        it is the `HOST_FAULT_REPEATS`-th in a row on the same transactions and the store
        answers its probe; then the block the culprit search makes of them, taking host
        faults for the transactions' (the one that causes them is dropped by `_ready`)."""
        if write_fault(exc) or not self._streak.failed([t.hash for t in txs]):
            self._host_failed(a.height, exc)
            return None
        async with lock:
            if height() != a.height:
                return None
            if not await self.run_blocking(self.work.store_answers):
                self._host_failed(a.height, exc)  # a real outage: nothing is dropped
                return None
            log.warning(
                "block %d: %d builds in a row failed on the host (%s: %s) while the store "
                "answers: searching for the transaction that causes it",
                a.height,
                self._streak.count,
                type(exc).__name__,
                exc,
            )
            self.stats["host_fault_searches"] += 1
            self._streak.reset()
            try:
                build = functools.partial(self.work.build, txs, proposer, blame_host=True)
                return await self.run_blocking(build)
            except Exception as again:  # even an empty block failed (a task's top level)
                if host_fault(again):
                    self._host_failed(a.height, again)
                else:
                    log.exception("building block %d failed", a.height)
                return None

    def _host_failed(self, height: int, exc: BaseException) -> None:
        """Building failed on the host, not a transaction: no proposal, nothing dropped;
        one ERROR line an outage, then a WARNING every 12th failure."""
        self.stats["build_host_failures"] += 1
        self.build_failure = f"{type(exc).__name__}: {exc}"
        if self._retry is None:
            log.error(
                "cannot build block %d: %s: this node proposes no block until it can (the "
                "host's failure, not a transaction's: the transactions stay in the mempool); "
                "free disk space or memory, or fix the disk, under the node's data directory",
                height,
                self.build_failure,
            )
            self._retry = Retry("build a proposal block", logger=log)
        self._retry.failed(exc)

    def _ready(
        self, a: CreateProposalBlock, built: Built[E], height: Callable[[], int | None]
    ) -> ProposalBlockReady | None:
        """Drop from the mempool what the block left out, keep the block: the answer."""
        self.mark("built")
        if self._retry is not None:
            log.warning(
                "building proposals again: block %d built after %d failed attempts",
                a.height,
                self._retry.failures,
            )
            self._retry, self.build_failure = None, None
        self._streak.reset()
        executed, data, culprit, error = built
        dropped = []
        for h, why in executed.result.dropped:
            log.info("dropping transaction %s: %s", h.hex(), why)
            dropped.append(h)
        if culprit is not None:
            log.warning(
                "dropping transaction %s: a block holding it cannot be built (%s)",
                culprit.hash.hex(),
                error,
            )
            dropped.append(culprit.hash)
        if dropped:
            self.mempool.remove(dropped)
        if height() != a.height:
            return None
        block_hash = executed.block.hash
        self.executed[block_hash] = executed
        self.stats["built"] += 1
        return a.ready(block_hash, data)
