"""Building this node's proposal blocks and executing proposed ones, for the driver.

One block is built or executed at a time (the driver's ledger lock), in a worker thread
(`LedgerWork`), and only while the core is still at the block's height: a result for an
abandoned height is dropped. `build` first waits, on an idle chain, until transactions
arrive or the empty-block interval has passed (bounded, well inside the others' propose
timeout); it drops from the mempool the transactions the ledger left out of the block and
the one that made building fail. `executed` keeps the executed blocks of the current
height, so that committing one does not execute it again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic

from tianfu.consensus.interfaces import E, MempoolLike
from tianfu.consensus.ledgerwork import DriverTools, LedgerWork
from tianfu.consensus.messages import (
    BlockExecuted,
    CreateProposalBlock,
    ExecuteBlock,
    ProposalBlockReady,
)
from tianfu.types import ConsensusParams

log = logging.getLogger("tianfu.consensus.driver")  # what the driver does, in its log

IDLE_POLL_S = 0.01  # how often an idle proposer looks at the mempool


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

    async def execute(
        self, a: ExecuteBlock, lock: asyncio.Lock, height: Callable[[], int | None]
    ) -> BlockExecuted | None:
        """Execute a proposed block: the core's answer, or None if the height moved on."""
        valid = False
        if a.block:
            try:
                async with lock:
                    if height() != a.height:
                        return None
                    self.mark("exec_begin")
                    executed = await self.run_blocking(self.work.execute, a.block, a.block_hash)
                    self.mark("executed")
                valid = True
                if height() == a.height:
                    self.executed[a.block_hash] = executed
            except ValueError as exc:  # CodecError and the ledger's InvalidBlock
                log.info("block %d %s is invalid: %s", a.height, a.block_hash.hex()[:12], exc)
            except Exception:  # a task's top level: treat as invalid, log
                log.exception("executing block %d failed", a.height)
        self.stats["executed"] += 1
        return a.executed(valid)

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
        """Build our proposal block: the core's answer, or None (height moved on, or even
        an empty block failed, which is logged)."""
        while not len(self.mempool) and self.timers.now() < idle_until and not stopping():
            if height() != a.height:
                return None
            await self.timers.sleep(IDLE_POLL_S)
        self.mark("build")
        txs = self.mempool.take(params.max_block_txs, params.max_block_bytes)
        try:
            async with lock:
                if height() != a.height:
                    return None
                executed, data, culprit, error = await self.run_blocking(
                    self.work.build, txs, proposer
                )
                self.mark("built")
        except Exception:  # even an empty block failed (a task's top level): no proposal
            log.exception("building block %d failed", a.height)
            return None
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
