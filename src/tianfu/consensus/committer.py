"""Storing decided blocks for the driver, and riding out a store that cannot take one.

`BlockCommitter.commit` stores a decided block (re-executing it if the one executed was
another), ends its height in the WAL, drops its transactions from the mempool and calls
`on_commit` — unless block sync stored it first. A different block already stored at the
height is a fork: `DriverError`, and the driver stops. Any other failure (disk full, I/O
error) halts signing ("store") and `recover` retries with backoff — at once when block
sync reports stored blocks (`store_moved`) — until the block is stored, by us or by block
sync, then checks the store (`check_store`), resumes signing and has the driver continue
from the stored height (`jump_to`). Missing votes meanwhile is always safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic

from tianfu.consensus.interfaces import E, LedgerLike, MempoolLike
from tianfu.consensus.ledgerwork import DriverError, DriverTools, LedgerWork
from tianfu.consensus.messages import CommitBlock
from tianfu.consensus.retry import Retry
from tianfu.consensus.signing import Signer

log = logging.getLogger("tianfu.consensus.driver")  # what the driver does, in its log


class BlockCommitter(Generic[E]):
    def __init__(
        self,
        ledger: LedgerLike[E],
        mempool: MempoolLike,
        work: LedgerWork[E],
        signer: Signer,
        tools: DriverTools,
        *,
        jump_to: Callable[[int], None],
        on_commit: Callable[[E], None] | None = None,
        check_store: Callable[[], object] | None = None,
    ) -> None:
        self.ledger, self.mempool, self.work, self.signer = ledger, mempool, work, signer
        self.timers, self.stats = tools.timers, tools.stats
        self.run_blocking, self.mark = tools.run_blocking, tools.mark
        self.jump_to = jump_to
        self.on_commit = on_commit
        # Checks the store (worker thread; raises if damaged) before voting resumes after a
        # failed write. It takes the commit lock itself if it needs a still store.
        self.check_store = check_store
        self.store_moved = asyncio.Event()  # block sync stored blocks: retry a failed store now
        self.stopping = False

    async def commit(self, a: CommitBlock, executed: E | None, lock: asyncio.Lock) -> bool:
        """Store the decided block; True once stored (go on to the next height), False if
        the store failed (signing halted, `recover` must run). Raises `DriverError`."""
        try:
            async with lock:
                executed, stored_here, wal_error = await self.run_blocking(
                    self.work.commit, executed, a
                )
            self.mark("stored")
        except DriverError:
            raise
        except Exception as exc:  # the store could not take it (disk full, I/O error, ...)
            self.stats["store_failures"] += 1
            self.signer.halt("store", f"cannot store decided block {a.height}: {exc}")
            return False
        if wal_error is not None:
            log.error("consensus WAL rotation failed: %s", wal_error)
            self.stats["wal_errors"] += 1
        self.after_store(executed, stored_here)
        return True

    async def recover(self, a: CommitBlock, executed: E | None, lock: asyncio.Lock) -> None:
        """Retry storing a decided block (backing off) until it is stored — by us, or by
        block sync meanwhile — then check the store, and only then sign again.
        Raises `DriverError` if another block is stored at its height."""
        retry = Retry(f"store decided block {a.height}")
        while not self.stopping:
            self.store_moved.clear()
            wake = self.timers.call_later(retry.wait(), self.store_moved.set)
            await self.store_moved.wait()
            wake.cancel()
            try:
                async with lock:
                    stored_here = False
                    if self.ledger.height < a.height:
                        executed, stored_here, _ = await self.run_blocking(
                            self.work.commit, executed, a
                        )
                    if self.check_store is not None:
                        await self.run_blocking(self.check_store)
            except DriverError:
                raise
            except Exception as exc:  # still cannot write (or the check failed): wait more
                retry.failed(exc)
                continue
            if stored_here and executed is not None:
                self.after_store(executed, stored_here)
            log.warning(
                "store writable again: block %d stored%s; resuming consensus at %d",
                a.height,
                " and the store checked" if self.check_store is not None else "",
                self.ledger.height + 1,
            )
            self.signer.resume("store")
            self.jump_to(self.ledger.height)
            return

    def after_store(self, executed: E, stored_here: bool) -> None:
        self.mempool.remove([t.hash for t in executed.block.txs])
        self.stats["committed"] += 1
        if self.on_commit is not None and stored_here:
            try:
                self.on_commit(executed)
            except Exception:  # a callback's failure must not stop consensus
                log.exception("on_commit callback failed")
