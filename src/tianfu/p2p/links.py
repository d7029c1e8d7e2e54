"""What the member transport and the observer port share: an authenticated link to one peer
(streams, bounded outbound queue, inbound token bucket, tasks), its writer loop, closing it,
and the tasks a transport owns."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from tianfu.p2p.framing import encode_header
from tianfu.p2p.protocol import PeerId
from tianfu.p2p.queues import OutboundQueue, TokenBucket

log = logging.getLogger(__name__)

Address = tuple[str, int]  # (host, port)

WRITE_BATCH = 256 << 10  # bytes handed to the transport per drain


@dataclass(eq=False)
class Link:
    """One authenticated connection to a peer and the tasks that serve it. A transport's
    own kind of link adds its fields after these, as keyword-only ones."""

    peer: PeerId
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    queue: OutboundQueue
    bucket: TokenBucket
    wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    closed: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)

    def push(self, kind: int, payload: bytes) -> int:
        """Queue a frame for the writer; return how many old frames were dropped."""
        dropped = self.queue.push(kind, payload)
        self.wake.set()
        return dropped

    async def write_queued(self, wrote: Callable[[int, int], None]) -> None:
        """Write queued frames until the connection fails (the caller handles the error);
        `wrote(frames, payload_bytes)` counts each batch handed to the transport."""
        while True:
            batch = self.queue.pop_batch(WRITE_BATCH)
            if not batch:
                self.wake.clear()
                await self.wake.wait()
                continue
            parts: list[bytes] = []
            size = 0
            for kind, payload in batch:
                parts.append(encode_header(kind, len(payload)))
                parts.append(payload)
                size += len(payload)
            self.writer.writelines(parts)
            wrote(len(batch), size)
            await self.writer.drain()

    async def write_until_closed(
        self, wrote: Callable[[int, int], None], close: Callable[[Any], None], who: str
    ) -> None:
        """The link's writer task: `write_queued` until the connection fails (logged, with
        `who` naming the transport's side), then `close(self)`."""
        try:
            await self.write_queued(wrote)
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            log.debug("%s write to %s failed: %r", who, self.peer.address, exc)
        except Exception:  # a task's top level: log, never crash the node
            log.exception("%s writer of %s failed", who, self.peer.address)
        finally:
            close(self)

    def shut(self) -> bool:
        """Mark the link closed, cancel its other tasks and close its writer; False if it
        was closed already."""
        if self.closed.is_set():
            return False
        self.closed.set()
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        with contextlib.suppress(Exception):
            self.writer.close()
        return True


def spawn(
    tasks: set[asyncio.Task[None]], coro: Coroutine[Any, Any, None], name: str
) -> asyncio.Task[None]:
    """Start `coro` as a task kept in `tasks` until it finishes."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


def abort(writer: asyncio.StreamWriter) -> None:
    """Drop a connection at once, without a TLS close."""
    with contextlib.suppress(Exception):
        writer.transport.abort()


async def accept_forever(
    listener: socket.socket, accept: Callable[[socket.socket, str], None]
) -> None:
    """Accept TCP connections on `listener` and hand each, untouched, with the remote host,
    to `accept`; an accept that fails (e.g. out of file descriptors) is logged, then retried
    a moment later."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            sock, addr = await loop.sock_accept(listener)
        except OSError as exc:
            log.warning("p2p accept failed: %r", exc)
            await asyncio.sleep(0.1)
            continue
        accept(sock, str(addr[0]) if isinstance(addr, tuple) else "")


def listen_socket(host: str, port: int) -> socket.socket:
    """A non-blocking listening TCP socket on (host, port); port 0 picks a free one."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    if not infos:  # pragma: no cover - getaddrinfo raises rather than return nothing
        raise OSError(f"cannot resolve {host!r}")
    family = infos[0][0]
    sock = socket.create_server(infos[0][4][:2], family=family, backlog=128)
    sock.setblocking(False)
    return sock
