"""The driver's blocking ledger work, run in worker threads: build, execute and store blocks.

Each method is one worker-thread trip (`Timers.run_blocking`), called by the driver under
its ledger lock (one block is built or executed at a time) — except a `build` on a
decided block not stored yet, which runs beside that block's store (it reads the block's
executed state and writes nothing; `BlockMaker` waits for it before any other ledger
work). `build` drops the transaction that makes building fail (`tianfu.consensus.culprit`);
`execute` reuses transactions already decoded in the mempool; `commit` re-executes a
decided block that is not the one executed, stores it unless block sync already did (the
commit lock is shared with block sync), then ends the height in the WAL.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic

from tianfu.codec import encode
from tianfu.consensus.bytescheck import BlockBytesCheck
from tianfu.consensus.clock import Timers
from tianfu.consensus.culprit import build_dropping_culprit, store_answers
from tianfu.consensus.interfaces import (
    BlockBytesLedger,
    E,
    LedgerLike,
    MempoolLike,
    PipelineLedger,
    SignatureKnown,
    Verified,
)
from tianfu.consensus.messages import MAX_BLOCK_BYTES, CommitBlock
from tianfu.consensus.wal import ConsensusWAL, WALError
from tianfu.types import CommitCertificate, Transaction
from tianfu.types.block import BlockBodyMismatch, decode_block

RunBlocking = Callable[..., Awaitable[Any]]
# A built proposal block: the executed block, its bytes, the transaction that made a longer
# block fail (None if none did) and that failure.
Built = tuple[E, bytes, Transaction | None, str]


class DriverError(Exception):
    """The driver cannot go on (a different block is stored at a decided height: a fork)."""


@dataclass(frozen=True)
class DriverTools:
    """What the driver lends the parts that do its ledger work (`BlockMaker`,
    `BlockCommitter`): its timers, its counters, its worker-thread runner and the mark of
    its height's timeline."""

    timers: Timers
    stats: Counter[str]
    run_blocking: RunBlocking
    mark: Callable[[str], None]


class WrongBytes(ValueError):
    """Bytes given for a block hash are not that block: they say nothing of the block."""


class DecidedBytesUnusable(Exception):
    """The bytes held for a decided block (decided on its hash) are missing, are not the
    block or do not execute here: the block must come from the peers that stored it."""


class LedgerWork(Generic[E]):
    def __init__(
        self,
        ledger: LedgerLike[E],
        mempool: MempoolLike,
        wal: ConsensusWAL,
        commit_lock: threading.Lock,
        verified: Verified | None,
        signature_known: SignatureKnown | None = None,
    ) -> None:
        self.ledger, self.mempool, self.wal = ledger, mempool, wal
        self.commit_lock, self.verified = commit_lock, verified
        # Signatures this node verified already (the votes gossip checked): the precommits
        # of a block's `last_commit` arrived as votes, and are not verified a second time.
        self.signature_known = signature_known
        # Whether bytes are the block of a hash, if the ledger can tell without executing.
        self.bytes_check: BlockBytesCheck | None = None
        if isinstance(ledger, BlockBytesLedger):
            self.bytes_check = BlockBytesCheck(ledger.is_block_of)

    def execute(self, block_bytes: bytes, block_hash: bytes) -> E:
        """Decode and execute a proposed block: `WrongBytes` if the bytes are not the
        block of `block_hash` (a signature covers the hash only, so any peer can attach
        other bytes), another ValueError if that block is invalid. With the ledger's
        `bytes_check`, bytes that pass it are the block's only bytes: if they do not
        decode, the block is invalid."""
        check = self.bytes_check
        if check is not None and not check(block_hash, block_bytes):
            raise WrongBytes("the bytes are not the block of the hash (header, tx_count, tx_root)")
        # Transactions already in our mempool (decoded, checked, hashed) are reused.
        try:
            block = decode_block(block_bytes, self.mempool.get, max_size=MAX_BLOCK_BYTES)
        except ValueError as exc:  # CodecError
            if check is not None:
                raise ValueError(f"the block does not decode: {exc}") from None
            raise WrongBytes(f"the bytes do not decode to a block: {exc}") from None
        if block.hash != block_hash:
            raise WrongBytes("block does not hash to the proposal's hash")
        # (The block's time is checked by the ledger against the median time of the
        # certificate its header carries: no clock is consulted.)
        try:
            return self.ledger.execute(block, self.verified, signature_known=self.signature_known)
        except BlockBodyMismatch as exc:
            raise WrongBytes(f"the transactions are not the header's: {exc}") from None

    def store_answers(self) -> bool:
        """Whether the ledger's store answers a trivial read and write (`culprit`)."""
        return store_answers(self.ledger.store)

    def build(
        self,
        txs: list[Transaction],
        proposer: bytes,
        on: tuple[E, CommitCertificate] | None = None,
        *,
        blame_host: bool = False,
    ) -> Built[E]:
        """The proposal block of `txs` and its bytes. If no block of them builds, the
        longest prefix before the transaction that makes building fail; that transaction
        is returned too (to drop, with the error), else None. `on`: a decided block not
        stored yet and its certificate, to build the block after it (the ledger's
        `build_on`), else on the stored chain. `blame_host`: the search takes a host fault
        for a transaction's too (`culprit.build_dropping_culprit`)."""

        def attempt(candidates: list[Transaction]) -> E:
            if on is None:
                return self.ledger.build_block(candidates, proposer, self.verified)
            assert isinstance(self.ledger, PipelineLedger)
            parent, certificate = on
            return self.ledger.build_on(parent, certificate, candidates, proposer, self.verified)

        built = build_dropping_culprit(attempt, txs, blame_host=blame_host)
        data = encode(built.result.block)
        if len(data) > MAX_BLOCK_BYTES:  # no one transaction's fault: max_block_bytes bounds it
            raise ValueError(
                f"the block encodes to {len(data)} bytes; a proposal carries at most "
                f"{MAX_BLOCK_BYTES}"
            )
        return built.result, data, built.culprit, built.error

    def commit(self, executed: E | None, a: CommitBlock) -> tuple[E, bool, Exception | None]:
        """Re-execute if the decided block is not the one executed, store it, then mark
        the height ended in the WAL — in that order, in one thread trip. Returns the
        executed block, whether it was stored here, and the WAL's error if any."""
        if executed is None or executed.block.hash != a.block_hash:
            if not a.block:
                raise DecidedBytesUnusable("its bytes are not held here")
            try:
                executed = self.execute(a.block, a.block_hash)
            except ValueError as exc:  # WrongBytes, a decoding error, InvalidBlock
                raise DecidedBytesUnusable(f"its bytes do not execute here: {exc}") from None
        stored_here = self.store(executed, a.certificate)
        try:
            self.wal.end_height(a.height)
        except (OSError, WALError) as exc:  # the block is stored: not fatal
            return executed, stored_here, exc
        return executed, stored_here, None

    def store(self, executed: E, certificate: CommitCertificate) -> bool:
        """Store a decided block unless block sync already stored it; False if it had."""
        header = executed.block.header
        with self.commit_lock:
            if self.ledger.height >= header.height:
                stored = self.ledger.store.load_header(header.height)
                if stored is not None and stored.hash == header.hash:
                    return False
                raise DriverError(f"a different block is already stored at height {header.height}")
            self.ledger.commit(executed, certificate)
            return True
