"""Frames read from outsiders on the observer port: the bytes they may hold at once.

A frame's body is read whole before it is handled, so each link may hold up to
`max_frame` (16 MiB) of this node's memory while it sends one, and 64 links of free
observer identities (from 4 IPs) up to 1 GiB. A frame of an inbound link whose key is not a
validator's that is larger than `SMALL_FRAME` is read only once its length fits in
`InboundBudget` (64 MiB for all such links together, a quarter of it for one host), and is
given back when the frame is handled; until then the link is not read (TCP holds the rest). Its body must then keep
arriving: its first k bytes within `body_deadline(k)` (at least `BODY_MIN_S`, then at
`BODY_MIN_RATE`), checked every `BODY_CHUNK`, or the link is struck and closed. So a link
that announces a large frame holds the budget only as long as what it has sent pays for
(`BODY_MIN_S` at least): one that stops is closed when its next chunk is due (a deadline
on the whole body let a link that sent only a 16 MiB frame's header hold 16 MiB of the
budget for 64 s, and four such links all of it, for nothing). Small frames (status, block
requests, a few transactions) are read as before: at most 64 KiB a link. Validators' links
are not counted here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tianfu.p2p.framing import HEADER_SIZE, decode_header

SMALL_FRAME = 64 << 10
INBOUND_BYTES = 64 << 20
BODY_MIN_S = 10.0
BODY_MIN_RATE = 256 << 10  # bytes per second
BODY_CHUNK = 64 << 10  # a large body is read (and its progress checked) this much at a time


def body_deadline(length: int, min_s: float = BODY_MIN_S, rate: float = BODY_MIN_RATE) -> float:
    """Seconds the first `length` bytes of a frame body may take to arrive."""
    return max(min_s, length / rate)


async def read_body(
    reader: asyncio.StreamReader, length: int, min_s: float = BODY_MIN_S,
    rate: float = BODY_MIN_RATE,
) -> bytes:  # fmt: skip
    """`length` bytes of `reader`, `BODY_CHUNK` at a time, the first k of them within
    `body_deadline(k)` of the start; `TimeoutError` as soon as a chunk is late."""
    loop = asyncio.get_running_loop()
    start, got, parts = loop.time(), 0, []
    while got < length:
        n = min(BODY_CHUNK, length - got)
        left = start + body_deadline(got + n, min_s, rate) - loop.time()
        if left <= 0:
            raise TimeoutError
        parts.append(await asyncio.wait_for(reader.readexactly(n), left))
        got += n
    return b"".join(parts)


class InboundBudget:
    """Bytes of large frames from outsiders being read or handled, at most `max_bytes`, and
    how many each owner (the host a link connects from) holds, at most `per_owner` (all of
    it when None). Those waiting for room are served in arrival order, except that a waiter
    whose owner holds nothing goes before those whose owners hold some: links of one host
    queued up cannot keep another host's frame waiting behind all of theirs; and a waiter
    whose owner holds its `per_owner` waits for its own frames, not holding up the others:
    one host's links sending frames at the minimum rate hold `per_owner`, not the whole."""

    def __init__(self, max_bytes: int = INBOUND_BYTES, per_owner: int | None = None) -> None:
        if per_owner is not None and per_owner < 1:
            raise ValueError("per_owner must be at least 1")
        self.max_bytes = max_bytes
        self.per_owner = max_bytes if per_owner is None else min(per_owner, max_bytes)
        self.used = 0
        self.held: dict[str, int] = {}  # owner -> bytes it holds (owners holding none absent)
        self._waiting: list[tuple[int, str, asyncio.Future[None]]] = []

    async def acquire(self, n: int, owner: str = "") -> None:
        if n > self.per_owner:
            raise ValueError(f"a frame of {n} bytes is over the inbound budget")
        if not self._waiting and self.used + n <= self.max_bytes and self._fits(n, owner):
            self._take(n, owner)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (n, owner, fut)
        self._waiting.append(entry)
        try:
            self._grant()  # the queue may hold only owners at their share: this one may go
            await fut
        except BaseException:
            if entry in self._waiting:
                self._waiting.remove(entry)
                self._grant()  # it may have been the one the others waited behind
            elif fut.done() and not fut.cancelled():
                self.release(n, owner)  # granted as it was cancelled: give it back
            raise

    def release(self, n: int, owner: str = "") -> None:
        if n == 0:  # a small frame held nothing
            return
        self.used -= n
        left = self.held.get(owner, 0) - n
        if left > 0:
            self.held[owner] = left
        else:
            self.held.pop(owner, None)
        self._grant()

    def _fits(self, n: int, owner: str) -> bool:
        """Whether `owner` may hold `n` more (always, when its share is the whole budget:
        a frame that does not fit then waits its turn in the queue)."""
        return self.per_owner >= self.max_bytes or self.held.get(owner, 0) + n <= self.per_owner

    def _take(self, n: int, owner: str) -> None:
        self.used += n
        self.held[owner] = self.held.get(owner, 0) + n

    def _grant(self) -> None:
        """Grant waiters, the next one first (among those whose owner is below its share:
        an owner holding nothing, else the oldest), while the next one fits."""
        self._waiting = [e for e in self._waiting if not e[2].done()]
        while self._waiting:
            eligible = [e for e in self._waiting if self._fits(e[0], e[1])]
            if not eligible:
                return
            entry = next((e for e in eligible if e[1] not in self.held), eligible[0])
            n, owner, fut = entry
            if self.used + n > self.max_bytes:
                return
            self._waiting.remove(entry)
            self._take(n, owner)
            fut.set_result(None)


async def read_counted_frame(
    reader: asyncio.StreamReader,
    max_frame: int,
    budget: InboundBudget,
    min_s: float = BODY_MIN_S,
    rate: float = BODY_MIN_RATE,
    owner: str = "",
    large: Callable[[], None] | None = None,
) -> tuple[int, bytes, int]:
    """(kind, payload, bytes held of `budget`) of one frame of an outsider's link: a body
    over `SMALL_FRAME` is read once the budget holds it, at the pace of `read_body` (raises
    `TimeoutError` when it falls behind, nothing held), held for `owner` (the link's host);
    `large()` is called when such a frame's header has arrived (its body is on its way).
    The caller releases what is held (`budget.release(held, owner)`) once the frame is
    handled."""
    kind, length = decode_header(await reader.readexactly(HEADER_SIZE), max_frame)
    if length <= SMALL_FRAME:
        return kind, (await reader.readexactly(length) if length else b""), 0
    if large is not None:
        large()
    await budget.acquire(length, owner)
    try:
        body = await read_body(reader, length, min_s, rate)
    except BaseException:
        budget.release(length, owner)
        raise
    return kind, body, length
