"""A lean HTTP/1.1 load generator for benchmarks: keep-alive connections, pipelined by
concurrency, so that the client is not the bottleneck when measuring a node.

General-purpose HTTP clients (httpx) spend milliseconds of CPU per request under high
concurrency; a benchmark on a 2-core machine cannot afford that on the client side.
This speaks just enough HTTP/1.1 for `POST` with a body and a `Content-Length` reply.
`post_all` sends a fixed list (closed loop); `post_until` sends until a deadline, closed
loop or open loop at a fixed rate, over several servers (used by `tianfu bench`);
`post_sessions` runs sessions, chains of requests where each depends on the answer before.
`batched` and `batch_answers` turn it into a sender of `POST /v1/txs/batch` requests of
N transactions each, with one answer per transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import msgspec


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, per request
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    finished_at: list[float] = field(default_factory=list)  # perf_counter() per request
    elapsed: float = 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def post_all(
    host: str,
    port: int,
    path: str,
    payloads: list[bytes],
    concurrency: int,
    on_done: Callable[[int, bytes], None] | None = None,
    content_type: str = "application/octet-stream",
) -> LoadResult:
    """POST every payload over `concurrency` keep-alive connections (closed loop)."""
    result = LoadResult()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    prefix = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        "Content-Length: "
    ).encode()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        try:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                writer.write(prefix + str(len(body)).encode() + b"\r\n\r\n" + body)
                status, reply = await _read_response(reader)
                t1 = time.perf_counter()
                result.latencies.append(t1 - t0)
                result.finished_at.append(t1)
                result.statuses.append(status)
                result.bodies.append(reply)
                if on_done is not None:
                    on_done(status, reply)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - start
    return result


class _Receipt(msgspec.Struct):
    ok: bool = False


class _Item(msgspec.Struct):
    status: str
    height: int = 0
    code: int = 0
    receipt: _Receipt | None = None


class _BatchAnswer(msgspec.Struct):
    results: list[_Item]


_batch_decoder = msgspec.json.Decoder(_BatchAnswer)  # skips the records' other fields


@dataclass(frozen=True)
class TxAnswer:
    """One transaction's part of an answer: the status the single route would have given
    (200 committed, 202 pending, 4xx refused, else the request's own failure), whether
    its receipt is ok, and the committed height (0 if none)."""

    status: int
    ok: bool
    height: int


def batched(next_tx: Callable[[], bytes | None], n: int) -> Callable[[], bytes | None]:
    """A `next_payload` for `POST /v1/txs/batch`: the canonical msgpack array of the next
    `n` transactions from `next_tx`; None once it cannot fill a whole batch (so that every
    request carries exactly `n`, which `batch_answers` relies on)."""
    encoder = msgspec.msgpack.Encoder()

    def payload() -> bytes | None:
        raws: list[bytes] = []
        while len(raws) < n:
            raw = next_tx()
            if raw is None:
                return None
            raws.append(raw)
        return encoder.encode(raws)

    return payload


def batch_answers(status: int, body: bytes, n: int) -> list[TxAnswer]:
    """Per transaction, the answer to a batch request of `n` transactions: the results of a
    200, or the request's status for each of them if it failed or cannot be read."""
    if status == 200:
        try:
            items = _batch_decoder.decode(body).results
        except (msgspec.DecodeError, msgspec.ValidationError):
            items = None
        if items is not None and len(items) == n:
            out = []
            for item in items:
                if item.status == "committed":
                    ok = item.receipt is not None and item.receipt.ok
                    out.append(TxAnswer(200, ok, item.height))
                elif item.status == "pending":
                    out.append(TxAnswer(202, False, 0))
                else:
                    out.append(TxAnswer(item.code or 400, False, 0))
            return out
        status = 502  # an unreadable answer: counted as an error, not as a commit
    return [TxAnswer(status, False, 0)] * n


Target = tuple[str, int]  # (host, port)
_NET_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


@dataclass
class StreamStats:
    """What `post_until` could not do: sends that found no free connection at their
    scheduled time (open loop), requests still unanswered after the grace period, and
    connection failures."""

    late: int = 0
    unfinished: int = 0
    conn_errors: int = 0


class Session(Protocol):
    """A chain of requests: `next()` is the next request (None: the session is over), made
    once `answered(status, body)` has been told the answer to the one before."""

    def next(self) -> bytes | None: ...

    def answered(self, status: int, body: bytes) -> None: ...


class _Stream:
    """Independent requests as one endless session (the plain closed loop)."""

    def __init__(self, next_payload: Callable[[], bytes | None]) -> None:
        self.next = next_payload

    def answered(self, status: int, body: bytes) -> None:
        pass


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0  # time.monotonic() when its last answer came


# An open loop reuses an idle connection only if it has been idle for less than this: the
# node closes a connection idle for its keep-alive timeout (5 s), and a request sent on a
# connection the node is closing gets no answer (a status 0 the node did not cause).
IDLE_REUSE_S = 4.0


async def post_until(
    targets: list[Target],
    path: str,
    next_payload: Callable[[], bytes | None],
    stop_at: float,
    on_done: Callable[[float, float, int, bytes], None],
    *,
    concurrency: int,
    rate: float | None = None,
    start_at: float | None = None,
    grace: float = 10.0,
    content_type: str = "application/octet-stream",
) -> StreamStats:
    """POST payloads from `next_payload()` to `targets` (spread evenly) until `stop_at`.

    Times are `time.time()` seconds. Closed loop (`rate=None`): `concurrency` keep-alive
    connections, each sending its next request as soon as the previous one is answered.
    Open loop: request k is due at `start_at + k / rate` whatever the answers; at most
    `concurrency` are in flight, and a request that finds none free waits and counts as
    late. `on_done(t_start, t_end, status, body)` gets each answer, where `t_start` is the
    send time (closed loop) or the scheduled time (open loop, so that a slow server cannot
    hide its queueing by slowing the client down). Status 0: the connection failed.
    Requests unanswered `grace` seconds after `stop_at` are abandoned (`unfinished`).
    """
    streamer = _Streamer(targets, path, content_type, next_payload, on_done)
    start = time.time() if start_at is None else start_at
    if start > time.time():
        await asyncio.sleep(start - time.time())
    if rate is None:
        await streamer.closed_loop(stop_at, concurrency, grace)
    else:
        await streamer.open_loop(start, stop_at, rate, concurrency, grace)
    return streamer.stats


async def post_sessions(
    targets: list[Target],
    path: str,
    new_session: Callable[[], Session],
    stop_at: float,
    on_done: Callable[[float, float, int, bytes], None],
    *,
    concurrency: int,
    start_at: float | None = None,
    grace: float = 10.0,
    content_type: str = "application/octet-stream",
) -> StreamStats:
    """Closed loop over sessions until `stop_at`: each of `concurrency` connections runs one
    session at a time, sending its next request once the previous one is answered, and
    starts a new session when one is over. `on_done` gets every answer as in `post_until`."""
    streamer = _Streamer(targets, path, content_type, lambda: None, on_done)
    start = time.time() if start_at is None else start_at
    if start > time.time():
        await asyncio.sleep(start - time.time())
    await streamer.session_loop(stop_at, concurrency, grace, new_session)
    return streamer.stats


class _Streamer:
    def __init__(
        self,
        targets: list[Target],
        path: str,
        content_type: str,
        next_payload: Callable[[], bytes | None],
        on_done: Callable[[float, float, int, bytes], None],
    ) -> None:
        if not targets:
            raise ValueError("no target to send to")
        self.targets = targets
        self.next_payload = next_payload
        self.on_done = on_done
        self.stats = StreamStats()
        self.prefix = {
            t: (
                f"POST {path} HTTP/1.1\r\nHost: {t[0]}:{t[1]}\r\nContent-Type: {content_type}\r\n"
                "Content-Length: "
            ).encode()
            for t in targets
        }

    async def _connect(self, target: Target) -> _Conn:
        reader, writer = await asyncio.open_connection(target[0], target[1], limit=1 << 22)
        return _Conn(reader, writer)

    async def _exchange(self, target: Target, conn: _Conn, body: bytes) -> tuple[int, bytes]:
        conn.writer.write(self.prefix[target] + str(len(body)).encode() + b"\r\n\r\n" + body)
        return await _read_response(conn.reader)

    async def _send(
        self,
        target: Target,
        conn: _Conn | None,
        body: bytes,
        t0: float,
        session: Session | None = None,
    ) -> _Conn | None:
        """One request; the connection to reuse afterwards, or None if it failed."""
        try:
            if conn is None:
                conn = await self._connect(target)
            status, reply = await self._exchange(target, conn, body)
        except _NET_ERRORS:
            self.stats.conn_errors += 1
            if conn is not None:
                conn.writer.close()
            status, reply, conn = 0, b"", None
        self.on_done(t0, time.time(), status, reply)
        if session is not None:
            session.answered(status, reply)
        return conn

    async def closed_loop(self, stop_at: float, concurrency: int, grace: float) -> None:
        """Sessions that never end: each connection sends `next_payload()` after `next_payload()`."""
        stream = _Stream(self.next_payload)
        await self.session_loop(stop_at, concurrency, grace, lambda: stream)

    async def session_loop(
        self, stop_at: float, concurrency: int, grace: float, new_session: Callable[[], Session]
    ) -> None:
        async def worker(i: int) -> None:
            target = self.targets[i % len(self.targets)]
            conn: _Conn | None = None
            session = new_session()
            try:
                while time.time() < stop_at:
                    body = session.next()
                    if body is None:
                        session = new_session()
                        body = session.next()
                        if body is None:
                            return  # a fresh session with nothing to send: no more work
                    conn = await self._send(target, conn, body, time.time(), session)
                    if conn is None:
                        await asyncio.sleep(0.1)
            finally:
                if conn is not None:
                    conn.writer.close()

        tasks = [asyncio.ensure_future(worker(i)) for i in range(concurrency)]
        await self._finish(tasks, stop_at + grace)

    async def open_loop(
        self, start: float, stop_at: float, rate: float, concurrency: int, grace: float
    ) -> None:
        idle: dict[Target, list[_Conn]] = {t: [] for t in self.targets}
        slots = asyncio.Semaphore(concurrency)
        inflight: set[asyncio.Future[None]] = set()

        def reusable(pool: list[_Conn]) -> _Conn | None:
            while pool:
                conn = pool.pop()
                if time.monotonic() - conn.idle_since < IDLE_REUSE_S:
                    return conn
                conn.writer.close()
            return None

        async def one(target: Target, body: bytes, due: float) -> None:
            try:
                conn = await self._send(target, reusable(idle[target]), body, due)
                if conn is not None:
                    conn.idle_since = time.monotonic()
                    idle[target].append(conn)
            finally:
                slots.release()

        k = 0
        while (due := start + k / rate) < stop_at:
            now = time.time()
            if due > now:
                await asyncio.sleep(due - now)
            elif k % 64 == 0:
                await asyncio.sleep(0)  # behind schedule: still let answers in
            body = self.next_payload()
            if body is None:
                break
            if slots.locked():
                self.stats.late += 1
            await slots.acquire()
            task = asyncio.ensure_future(one(self.targets[k % len(self.targets)], body, due))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            k += 1
        await self._finish(list(inflight), stop_at + grace)
        for conns in idle.values():
            for c in conns:
                c.writer.close()

    async def _finish(self, tasks: Sequence[asyncio.Future[None]], deadline: float) -> None:
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.time()))
        self.stats.unfinished += len(pending)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
