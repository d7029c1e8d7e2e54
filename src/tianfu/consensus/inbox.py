"""The consensus driver's pending events, in the order it handles them.

Results of the driver's own work (an executed block, a built proposal, a timeout, a block-sync
jump) and a peer's commit frame come first; votes and proposals from the network wait behind
them. What comes from the network (votes, proposals, commit frames) is bounded: at most
`max_inbound` votes and proposals, and at most `max_inbound_bytes` of the blocks they all
carry (a proposal of the next height is queued before its signature is checked, so without
the byte bound a peer could park thousands of 16 MiB blocks while the consumer is busy
committing). A full inbox refuses more: the sender's gossip sends them again. The driver's
one consumer task takes them one at a time (`get`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")

# Where an event came from: the network, this node's own signer, the driver, the WAL.
NET, OWN, INTERNAL, REPLAY = "net", "own", "internal", "replay"


class JumpTo:
    """The driver's marker in its inbox: block sync has stored blocks up to `height`."""

    def __init__(self, height: int) -> None:
        self.height = height


MAX_INBOUND_BYTES = 64 << 20  # of blocks in queued proposals and commit frames
ITEM_OVERHEAD = 512  # bytes counted for each network item besides its block


class EventInbox(Generic[T]):
    """Two queues and a wake-up: internal items before network items. Nothing is queued
    before `open` (the driver has not started)."""

    def __init__(self, max_inbound: int, max_inbound_bytes: int = MAX_INBOUND_BYTES) -> None:
        self.max_inbound = max_inbound
        self.max_inbound_bytes = max_inbound_bytes
        self._internal: deque[tuple[T, int]] = deque()
        self._inbound: deque[tuple[T, int]] = deque()
        self._inbound_bytes = 0  # counted sizes of the network items queued (both queues)
        self._wake: asyncio.Event | None = None

    def __len__(self) -> int:
        """Items waiting, internal and network."""
        return len(self._internal) + len(self._inbound)

    @property
    def opened(self) -> bool:
        return self._wake is not None

    @property
    def inbound_bytes(self) -> int:
        return self._inbound_bytes

    def open(self) -> None:
        """Start taking items (on the driver's event loop)."""
        self._wake = asyncio.Event()

    def put(self, item: T) -> None:
        """Queue an internal item (ahead of every network item)."""
        if self._wake is not None:
            self._internal.append((item, 0))
            self._wake.set()

    def offer(self, item: T, size: int = 0, *, first: bool = False) -> bool:
        """Queue a network item carrying `size` bytes of block; False if the inbox is full or
        not open. `first`: ahead of the votes and proposals, with the internal items (a
        commit frame), still within the byte bound."""
        if self._wake is None:
            return False
        size += ITEM_OVERHEAD
        if self._inbound_bytes + size > self.max_inbound_bytes:
            return False
        if first:
            self._internal.append((item, size))
        elif len(self._inbound) >= self.max_inbound:
            return False
        else:
            self._inbound.append((item, size))
        self._inbound_bytes += size
        self._wake.set()
        return True

    async def get(self) -> T:
        """The next item, internal ones first; waits while both queues are empty."""
        wake = self._wake
        if wake is None:
            raise RuntimeError("the inbox is not open")
        while True:
            queue = self._internal or self._inbound
            if queue:
                item, size = queue.popleft()
                self._inbound_bytes -= size
                return item
            wake.clear()
            await wake.wait()
