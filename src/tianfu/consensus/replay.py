"""The consensus WAL's entries of heights not yet decided, replayed into the driver's core.

At start the driver keeps every logged entry of the heights from the store's height + 1
on, not only those after the last height marker: a store behind its WAL (blocks lost
after they were decided) decides them again from the proposals and votes logged then, as
the signer refuses to sign there. The entries of a height are replayed once, when
consensus reaches it; a height decided while its entries were replayed is remembered
(its certificate may be made of old votes: the driver does not check its clock on it).
"""

from __future__ import annotations

from collections.abc import Iterable

from tianfu.consensus.inbox import REPLAY
from tianfu.consensus.messages import Event
from tianfu.consensus.wal import EndHeight, WalEntry, entry_event


class WalReplay:
    """Logged entries by height, handed out once each (`events`)."""

    def __init__(self) -> None:
        self.count = 0  # entries replayed so far
        self._ahead: dict[int, list[WalEntry]] = {}
        self._heights: set[int] = set()  # heights whose entries were replayed, not decided

    def load(self, entries: Iterable[WalEntry], height: int) -> bool:
        """Keep the entries of `height` and above; True if `height` has any."""
        for entry in entries:
            if not isinstance(entry, EndHeight) and entry.height >= height:
                self._ahead.setdefault(entry.height, []).append(entry)
        return height in self._ahead

    def events(self, height: int) -> list[tuple[Event, str]]:
        """The logged entries of `height` to replay (once), as events; drops older ones."""
        for h in [h for h in self._ahead if h < height]:
            del self._ahead[h]
        entries = self._ahead.pop(height, [])
        self.count += len(entries)
        if entries:
            self._heights.add(height)
        return [(entry_event(e), REPLAY) for e in entries]

    def decided(self, height: int) -> bool:
        """`height` is decided: whether its entries had been replayed (forgets it)."""
        replayed = height in self._heights
        self._heights.discard(height)
        return replayed
