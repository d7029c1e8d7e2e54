"""The consensus driver's pending events, in the order it handles them.

Results of the driver's own work (an executed block, a built proposal, a timeout, a commit
frame, a block-sync jump) come first; votes and proposals from the network wait behind them,
at most `max_inbound` of those (a full inbox refuses more: the sender's gossip sends them
again). The driver's one consumer task takes them one at a time (`get`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class EventInbox(Generic[T]):
    """Two queues and a wake-up: internal items before network items. Nothing is queued
    before `open` (the driver has not started)."""

    def __init__(self, max_inbound: int) -> None:
        self.max_inbound = max_inbound
        self._internal: deque[T] = deque()
        self._inbound: deque[T] = deque()
        self._wake: asyncio.Event | None = None

    def __len__(self) -> int:
        """Items waiting, internal and network."""
        return len(self._internal) + len(self._inbound)

    @property
    def opened(self) -> bool:
        return self._wake is not None

    def open(self) -> None:
        """Start taking items (on the driver's event loop)."""
        self._wake = asyncio.Event()

    def put(self, item: T) -> None:
        """Queue an internal item (ahead of every network item)."""
        if self._wake is not None:
            self._internal.append(item)
            self._wake.set()

    def offer(self, item: T) -> bool:
        """Queue a network item; False if the inbox is full or not open."""
        if self._wake is None or len(self._inbound) >= self.max_inbound:
            return False
        self._inbound.append(item)
        self._wake.set()
        return True

    async def get(self) -> T:
        """The next item, internal ones first; waits while both queues are empty."""
        wake = self._wake
        if wake is None:
            raise RuntimeError("the inbox is not open")
        while True:
            if self._internal:
                return self._internal.popleft()
            if self._inbound:
                return self._inbound.popleft()
            wake.clear()
            await wake.wait()
