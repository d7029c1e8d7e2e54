"""Block sync's bookkeeping: its settings, what it knows of each peer, the requests in
flight and ahead, and what applying a batch did (used by `sync/syncer.py`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tianfu.ledger.ledger import ExecutedBlock
from tianfu.ratelimit import TokenBucket
from tianfu.sync import precheck
from tianfu.sync.messages import BlocksRequest, BlocksResponse


@dataclass(frozen=True)
class SyncConfig:
    """Tuning knobs of the syncer (timeouts in seconds)."""

    status_interval_s: float = 1.0
    # Sync when the best peer is more than this many heights ahead: 1 while consensus runs
    # (it handles being one height behind itself), 0 on a node without consensus.
    consensus_gap: int = 1
    ban_s: float = 60.0  # a peer that lied is ignored this long
    cooldown_s: float = 5.0  # a peer that timed out is not asked again for this long
    retry_pause_s: float = 0.1  # pause after an attempt that applied nothing
    store_retry_s: float = 1.0  # pause after our own store failed to take a block
    max_response_bytes: int = 4 << 20  # soft limit on the blocks of one response we send
    # Check the next blocks' signatures ahead while one executes (`sync/precheck.py`), in a
    # worker process (`sync/checkproc.py`; in a thread until that process is ready, or
    # always with `check_in_process` off). Off: every check in line.
    check_ahead: bool = True
    check_in_process: bool = True
    # A block whose checks the process has not answered within this many seconds is
    # checked in line, and the process replaced.
    check_wait_s: float = 10.0
    # Requests answered per second per peer (token bucket): 40 batches of 100 blocks let a
    # peer catch up at 4,000 blocks/s; one answer per peer is prepared at a time anyway.
    serve_rate: float = 40.0
    serve_burst: int = 40


@dataclass
class PeerState:
    limit: TokenBucket  # the requests of this peer we answer
    height: int = 0
    head_hash: bytes = b""
    banned_until: float = 0.0
    ban_reason: str = ""
    cooldown_until: float = 0.0
    serving: bool = False
    # A batch of this peer's was applied whole since its last ban: its next batch may be
    # requested while one is applied.
    delivered: bool = False


@dataclass
class PendingRequest:
    request: BlocksRequest
    future: asyncio.Future[BlocksResponse]


@dataclass
class Ahead:
    """The next batch, asked for from `addr` while one is applied, and its checks if they
    were started (in the checking process) when it arrived."""

    addr: str
    request: BlocksRequest
    task: asyncio.Future[BlocksResponse | None] | None = None
    checks: precheck.Checks | None = None

    def drop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.checks is not None:
            self.checks.cancel()


@dataclass
class Outcome:
    """What applying a batch did: the blocks committed, and why it stopped early (if so)."""

    applied: list[ExecutedBlock] = field(default_factory=list)
    failure: Exception | None = None
    failed_height: int = 0


@dataclass
class Session:
    start_height: int
    started_at: float
    applied: int = 0

    def rate(self, now: float) -> float:
        """Blocks applied per second since the session started."""
        return self.applied / max(now - self.started_at, 1e-9)
