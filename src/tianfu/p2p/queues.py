"""Per-peer flow control of the p2p transport: bounded outbound queues, inbound token buckets,
and the slots of inbound handshakes."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container

from tianfu.p2p.framing import HEADER_SIZE
from tianfu.ratelimit import TokenBucket

__all__ = [
    "Frame",
    "HandshakeSlot",
    "HandshakeSlots",
    "OutboundBudget",
    "OutboundQueue",
    "PeerBuckets",
    "TokenBucket",
    "keep_new_connection",
]

Frame = tuple[int, bytes]  # (kind, payload)


class OutboundBudget:
    """The bytes of all the outbound queues of a transport, at most `max_bytes` together.

    Each peer's queue is bounded too, but an organisation issues its own node certificates:
    many peers of one member that stop reading could otherwise hold `queue_bytes` each of
    this node's memory. When a push takes the total over `max_bytes`, the oldest frames of
    the BIGGEST queue are dropped until it is within it again: the peers that read keep
    their (small) queues.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < HEADER_SIZE:
            raise ValueError("the outbound budget must allow at least one frame")
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._queues: set[OutboundQueue] = set()

    def shed(self) -> int:
        """Drop the oldest frames of the biggest queues until within the budget; how many."""
        dropped = 0
        while self.nbytes > self.max_bytes and self._queues:
            biggest = max(self._queues, key=lambda q: q.nbytes)
            if not biggest.drop_oldest():
                break
            dropped += 1
        return dropped


class OutboundQueue:
    """Frames waiting to be written to one peer, bounded by count and bytes, and by the
    transport's `OutboundBudget` if it is given one.

    `push` never blocks and never grows the queue past its bounds: when a new frame does
    not fit, the OLDEST frames are dropped (newer consensus messages supersede older
    ones). A frame that could never fit on its own is dropped itself. `close` empties a
    queue no longer used and gives its bytes back to the budget.
    """

    def __init__(
        self, max_frames: int, max_bytes: int, budget: OutboundBudget | None = None
    ) -> None:
        if max_frames < 1 or max_bytes < HEADER_SIZE:
            raise ValueError("queue bounds must allow at least one frame")
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: deque[Frame] = deque()
        self._bytes = 0
        self._budget = budget
        if budget is not None:
            budget._queues.add(self)

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def nbytes(self) -> int:
        """Bytes on the wire of the queued frames (headers included)."""
        return self._bytes

    def push(self, kind: int, payload: bytes) -> int:
        """Queue a frame; return how many frames were dropped to stay within bounds."""
        size = HEADER_SIZE + len(payload)
        if size > self.max_bytes:
            return 1
        dropped = 0
        while self._frames and (
            len(self._frames) >= self.max_frames or self._bytes + size > self.max_bytes
        ):
            self.drop_oldest()
            dropped += 1
        self._frames.append((kind, payload))
        self._add(size)
        if self._budget is not None and self._budget.nbytes > self._budget.max_bytes:
            dropped += self._budget.shed()
        return dropped

    def drop_oldest(self) -> bool:
        """Drop the oldest frame; False if there is none."""
        if not self._frames:
            return False
        _, old = self._frames.popleft()
        self._add(-(HEADER_SIZE + len(old)))
        return True

    def _add(self, size: int) -> None:
        self._bytes += size
        if self._budget is not None:
            self._budget.nbytes += size

    def pop_batch(self, max_bytes: int) -> list[Frame]:
        """Take frames from the front, at least one (if any) and up to about `max_bytes`."""
        batch: list[Frame] = []
        taken = 0
        while self._frames and (
            not batch or taken + HEADER_SIZE + len(self._frames[0][1]) <= max_bytes
        ):
            kind, payload = self._frames.popleft()
            size = HEADER_SIZE + len(payload)
            self._add(-size)
            taken += size
            batch.append((kind, payload))
        return batch

    def take_all(self) -> list[Frame]:
        frames = list(self._frames)
        self._frames.clear()
        self._add(-self._bytes)
        return frames

    def close(self) -> None:
        """Empty the queue and leave the budget (the queue's link is closed)."""
        self.take_all()
        if self._budget is not None:
            self._budget._queues.discard(self)


class PeerBuckets:
    """Each peer's inbound token bucket, shared by its connections and kept while it
    reconnects, so that redialing does not refill it. The bucket of a peer with no
    connection is forgotten once it is full again (a new one would be the same)."""

    def __init__(self, rate: float, burst: float) -> None:
        TokenBucket(rate, burst, now=0.0)  # validates them
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, TokenBucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def get(self, peer: str, now: float, connected: Container[str]) -> TokenBucket:
        """The bucket of `peer`; forgets the full buckets of peers not in `connected`."""
        for addr in [a for a, b in self._buckets.items() if a not in connected]:
            if addr != peer and self._buckets[addr].is_full(now):
                del self._buckets[addr]
        bucket = self._buckets.get(peer)
        if bucket is None:
            bucket = self._buckets[peer] = TokenBucket(self.rate, self.burst, now=now)
        return bucket


class HandshakeSlot:
    """One inbound handshake holding a slot: its host, when it began, and how to abort it
    (`abort`, set by whoever runs the handshake) if a newer connection takes its slot."""

    __slots__ = ("abort", "host", "started")

    def __init__(self, host: str, started: float) -> None:
        self.host, self.started = host, started
        self.abort: Callable[[], object] = lambda: None


class HandshakeSlots:
    """Inbound handshakes in progress: at most `total`, and at most `per_host` from one host
    (so that connections one host holds open unfinished cannot lock the others out).

    When all `total` are taken (connections from many hosts), a new connection takes the
    slot of the oldest handshake that has run at least `grace` seconds, which is aborted:
    an honest handshake takes milliseconds, so idle connections cannot hold every slot
    for the whole handshake timeout; a handshake is never aborted within its grace. The
    oldest handshake of each host `protected` names (one that has served something valid),
    at most half the table, is aborted only for such a host's: connections churned from
    many hosts take each other's slots, not its. A host's further handshakes, and those
    beyond half the table, are aborted like anyone's: a host is credited for one admitted
    transaction, and credited hosts holding connections open must not lock the rest out.
    """

    def __init__(self, total: int, per_host: int, grace: float = 1.0) -> None:
        if total < 1 or per_host < 1 or grace < 0:
            raise ValueError("handshake slots must allow at least one handshake, grace >= 0")
        self.total, self.per_host, self.grace = total, per_host, grace
        self.evicted = 0  # handshakes aborted to make room
        self._pending: dict[HandshakeSlot, None] = {}  # oldest first
        self._by_host: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def take(
        self, host: str, now: float = 0.0, protected: Callable[[str], bool] | None = None
    ) -> HandshakeSlot | None:
        """A slot for a handshake from `host` beginning at `now`; None if none is free for it."""
        if self._by_host.get(host, 0) >= self.per_host:
            return None
        if len(self._pending) >= self.total:
            mine = protected is not None and protected(host)
            kept = set() if mine or protected is None else self._kept(protected)
            oldest = next((s for s in self._pending if s not in kept), None)
            if oldest is None or now - oldest.started < self.grace:
                return None
            self.release(oldest)
            self.evicted += 1
            oldest.abort()
        slot = HandshakeSlot(host, now)
        self._pending[slot] = None
        self._by_host[host] = self._by_host.get(host, 0) + 1
        return slot

    def _kept(self, protected: Callable[[str], bool]) -> set[HandshakeSlot]:
        """The handshakes a stranger may not abort: the oldest of each host `protected`
        names, at most half the table (the oldest first)."""
        kept: set[HandshakeSlot] = set()
        hosts: set[str] = set()
        for slot in self._pending:
            if len(kept) >= self.total // 2:
                break
            if slot.host not in hosts and protected(slot.host):
                hosts.add(slot.host)
                kept.add(slot)
        return kept

    def release(self, slot: HandshakeSlot) -> None:
        """The handshake of `slot` ended, whatever the outcome (again: nothing)."""
        if slot not in self._pending:
            return
        del self._pending[slot]
        left = self._by_host.pop(slot.host) - 1
        if left:
            self._by_host[slot.host] = left


def keep_new_connection(own: str, peer: str, existing_dialer: str, new_dialer: str) -> bool:
    """Whether a new connection to `peer` replaces the existing one (one connection per pair).

    Both ends decide the same: of two connections dialed by different sides, the one
    dialed by the lower address stays; of two dialed by the same side, the newer one
    stays (the older is a stale connection its dialer already gave up on).
    """
    if existing_dialer == new_dialer:
        return True
    return new_dialer == min(own, peer)
