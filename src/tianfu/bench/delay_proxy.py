"""A userspace network delay for the bench: TCP forwarders that hold every chunk for a fixed
one-way delay in each direction (a pipe with latency, not a bandwidth limit), order kept.

This kernel has no netem, so `tianfu bench sweep --delays` puts one `DelayProxy` on every
validator-to-validator link: node i's peer address for node j is a proxy that forwards to
node j's p2p port. Each direction of a connection has its own queue of (due time, bytes):
a chunk read at time t is written at t + delay, after every chunk read before it. The end
of a stream (EOF) is delayed like data and passed on as a half close; a reset or a failed
write on either side closes both. A queue holds at most `buffer_bytes` (plus one read);
beyond that the proxy stops reading and TCP flow control slows the sender, so memory is
bounded whatever a peer sends. The bound is far above bandwidth × delay of a bench link.

`LinkProxies` runs a set of proxies on an asyncio loop in a background thread, so that the
synchronous bench runner can start them, rewrite the peers, and stop them at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Sequence

Address = tuple[str, int]
READ_BYTES = 1 << 16  # bytes read at a time from either side
BUFFER_BYTES = 16 << 20  # per direction of a connection: 160 MB/s at 100 ms, far above a link's


class ProxyError(Exception):
    """A proxy could not start (bad address, port in use, loop not running)."""


class _DelayedPipe:
    """One direction of a proxied connection: reads, holds each chunk `delay` seconds, writes."""

    def __init__(self, delay: float, limit: int) -> None:
        self.delay = delay
        self.limit = limit
        self.chunks: deque[tuple[float, bytes]] = deque()  # b"": the end of the stream
        self.buffered = 0
        self.has_chunk = asyncio.Event()
        self.has_space = asyncio.Event()
        self.has_space.set()

    def _push(self, data: bytes) -> None:
        self.chunks.append((asyncio.get_running_loop().time() + self.delay, data))
        self.buffered += len(data)
        self.has_chunk.set()

    async def pump_in(self, reader: asyncio.StreamReader) -> None:
        while True:
            data = await reader.read(READ_BYTES)
            if not data:
                self._push(b"")
                return
            while self.buffered >= self.limit:
                self.has_space.clear()
                await self.has_space.wait()
            self._push(data)

    async def pump_out(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.chunks:
                self.has_chunk.clear()
                await self.has_chunk.wait()
            due, data = self.chunks[0]
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.chunks.popleft()
            self.buffered -= len(data)
            if self.buffered < self.limit:
                self.has_space.set()
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()


class DelayProxy:
    """Listens on `listen` and forwards each connection to `upstream`, both directions
    delayed by `delay_s` seconds."""

    def __init__(
        self,
        upstream: Address,
        delay_s: float,
        listen: Address = ("127.0.0.1", 0),
        buffer_bytes: int = BUFFER_BYTES,
    ) -> None:
        if delay_s < 0:
            raise ValueError("the delay must not be negative")
        if buffer_bytes < 1:
            raise ValueError("the buffer must hold at least one byte")
        self.upstream = upstream
        self.delay_s = delay_s
        self.listen = listen
        self.buffer_bytes = buffer_bytes
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._pipes: list[_DelayedPipe] = []

    @property
    def address(self) -> Address:
        """Where the proxy listens (the port chosen by the system if 0 was asked)."""
        if self._server is None:
            raise ProxyError("the proxy is not running")
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    def pipes(self) -> list[_DelayedPipe]:
        """The queues of the open connections (two each), to see what the proxy holds."""
        return list(self._pipes)

    async def start(self) -> Address:
        try:
            self._server = await asyncio.start_server(self._accept, *self.listen)
        except OSError as exc:
            raise ProxyError(f"cannot listen on {self.listen}: {exc}") from None
        return self.address

    async def close(self) -> None:
        """Stop listening and drop every connection (undelivered chunks are discarded)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                writer.close()
                return
            await self._forward(reader, writer, up_reader, up_writer)
        finally:
            self._conns.discard(task)

    async def _forward(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        """Both directions until both have ended; an error on either side closes both."""
        there = _DelayedPipe(self.delay_s, self.buffer_bytes)
        back = _DelayedPipe(self.delay_s, self.buffer_bytes)
        self._pipes += [there, back]
        tasks = [
            asyncio.ensure_future(there.pump_in(reader)),
            asyncio.ensure_future(there.pump_out(up_writer)),
            asyncio.ensure_future(back.pump_in(up_reader)),
            asyncio.ensure_future(back.pump_out(writer)),
        ]
        try:
            pending: set[asyncio.Future[None]] = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if any(not t.cancelled() and t.exception() is not None for t in done):
                    break  # a reset or a failed write: the connection is over both ways
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._pipes = [p for p in self._pipes if p is not there and p is not back]
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(OSError, asyncio.CancelledError):
                    await w.wait_closed()


class LinkProxies:
    """Delay proxies on a background asyncio loop: `add(upstream)` starts one and returns
    the address to dial instead; `stop()` closes them all and ends the thread."""

    def __init__(self, delay_s: float, host: str = "127.0.0.1") -> None:
        self.delay_s = delay_s
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="delay-proxies", daemon=True
        )
        self._thread.start()
        self._proxies: list[DelayProxy] = []

    def add(self, upstream: Address) -> Address:
        proxy = DelayProxy(upstream, self.delay_s, (self.host, 0))
        address = asyncio.run_coroutine_threadsafe(proxy.start(), self._loop).result(10)
        self._proxies.append(proxy)
        return address

    def add_all(self, upstreams: Sequence[Address]) -> list[Address]:
        return [self.add(u) for u in upstreams]

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close_all() -> None:
            await asyncio.gather(*(p.close() for p in self._proxies), return_exceptions=True)

        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
