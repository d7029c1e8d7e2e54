"""Storing decided blocks for the driver, and riding out a store that cannot take one.

`BlockCommitter.commit` stores a decided block (re-executing it if the one executed was
another), ends its height in the WAL, drops its transactions from the mempool and calls
`on_commit` — unless block sync stored it first. A different block already stored at the
height is a fork: `DriverError`, and the driver stops. Any other failure (disk full, I/O
error) halts signing ("store") and `recover` retries with backoff — at once when block
sync reports stored blocks (`store_moved`) — until the block is stored, by us or by block
sync, then checks the store (`check_store`), resumes signing and has the driver continue
from the stored height (`jump_to`). Missing votes meanwhile is always safe.

A decided block whose bytes here are missing, are not the block or do not execute
(`DecidedBytesUnusable`: a block is decided on its hash, and the bytes held may be a
relayed copy's, or none after a restart decided it from the WAL) halts signing ("block",
the reason in `halted`, the node's status and log) and is asked for from the peers at
once (`fetch`, the driver's commit request); a peer's answer for that height and hash
(`offer`) is stored at once, without waiting for block sync or a backoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Generic

from tianfu.consensus.interfaces import E, LedgerLike, MempoolLike
from tianfu.consensus.ledgerwork import (
    DecidedBytesUnusable,
    DriverError,
    DriverTools,
    LedgerWork,
)
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
        fetch: Callable[[int], None] | None = None,
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
        # Asks the peers for the commit (block + certificate) of a height (the driver's).
        self.fetch = fetch
        # The decided block (height, hash) whose bytes are wanted from peers, and the bytes
        # a peer sent for it (checked against the hash when the ledger can: `offer`).
        self.wanted: tuple[int, bytes] | None = None
        self.fetched: bytes | None = None

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
        except DecidedBytesUnusable as exc:
            self._fetch_decided(a, str(exc))
            return False
        except Exception as exc:  # the store could not take it (disk full, I/O error, ...)
            self.stats["store_failures"] += 1
            self.signer.halt("store", f"cannot store decided block {a.height}: {exc}")
            return False
        if wal_error is not None:
            log.error("consensus WAL rotation failed: %s", wal_error)
            self.stats["wal_errors"] += 1
        self.after_store(executed, stored_here)
        return True

    def _fetch_decided(self, a: CommitBlock, why: str) -> None:
        """The bytes held for decided block `a` are unusable: sign nothing, and ask the
        peers for the block at once (`offer` takes their answer)."""
        reason = f"decided block {a.height} cannot be stored: {why}; fetching it from peers"
        if self.wanted != (a.height, a.block_hash):
            self.stats["decided_block_fetches"] += 1
        self.wanted = (a.height, a.block_hash)
        self.signer.halt("block", reason)
        if self.fetch is not None:
            self.fetch(a.height)

    def offer(self, height: int, block_hash: bytes, block: bytes) -> None:
        """A peer's bytes for a decided block: if that block's are wanted and these are
        its bytes (the ledger's check, when it has one), the store is tried with them at
        once."""
        if self.wanted != (height, block_hash) or not block:
            return
        check = self.work.bytes_check
        if check is not None and not check(block_hash, block):
            self.stats["decided_bytes_wrong"] += 1
            return
        self.fetched = block
        self.store_moved.set()

    async def recover(self, a: CommitBlock, executed: E | None, lock: asyncio.Lock) -> None:
        """Retry storing a decided block (backing off) until it is stored — by us, or by
        block sync meanwhile — then check the store, and only then sign again. A block
        whose bytes are unusable is stored with the bytes a peer sends (`offer`), asked
        for again at each retry. Raises `DriverError` if another block is stored at its
        height."""
        retry = Retry(f"store decided block {a.height}")
        while not self.stopping:
            if self.fetched is None:  # (a peer's answer may have come before this task ran)
                self.store_moved.clear()
                wake = self.timers.call_later(retry.wait(), self.store_moved.set)
                await self.store_moved.wait()
                wake.cancel()
            fetched, self.fetched = self.fetched, None
            if fetched is not None:
                a, executed = dataclasses.replace(a, block=fetched), None
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
            except DecidedBytesUnusable as exc:  # ask again (a peer may not have had it)
                retry.failed(exc)
                self._fetch_decided(a, str(exc))
                continue
            except Exception as exc:  # still cannot write (or the check failed): wait more
                retry.failed(exc)
                continue
            if stored_here and executed is not None:
                self.after_store(executed, stored_here)
            if stored_here and fetched is not None:
                self.stats["decided_block_fetched"] += 1
            log.warning(
                "%s: block %d stored%s; resuming consensus at %d",
                "decided block fetched from a peer" if fetched else "store writable again",
                a.height,
                " and the store checked" if self.check_store is not None else "",
                self.ledger.height + 1,
            )
            self.wanted = self.fetched = None
            self.signer.resume("block")
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
