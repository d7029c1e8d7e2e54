"""The HTTP server a node runs its API on: Uvicorn with the httptools (llhttp) parser, read
deadlines and a bounded request head.

Uvicorn closes a connection idle *between* requests (keep-alive timeout) but puts no
deadline on receiving a request: a client that sends half a request head, or a body a byte
at a time, holds its connection and the request's state forever (slowloris). The protocol
here adds two deadlines, each counted from the start of its phase and never extended by
the bytes that trickle in:

- the request head (request line and headers) must be complete within `head_timeout_s`
  of the connection opening or of the request's first byte;
- the body must be complete within `body_timeout_s` of the end of the head.

A request that misses its deadline is answered `408 {"error": ...}` when nothing has been
answered yet, and its connection is closed. An answer is given a write deadline too: when
more of it waits in the connection's send buffer than the transport's high-water mark, the
client has `write_timeout_s` to read it down below the low-water mark (again each time it
fills), else the connection is aborted and the unsent bytes dropped (`Connections.unread`
counts them). Uvicorn waits for a client to read without end, and closing a connection
waits for its buffer to be sent, so a client that asks for large answers and never reads
them held each in the process for as long as it kept the connection. A request head is at most `MAX_HEAD_BYTES`
(request line and headers, counted as they arrive): a longer one is answered `431` and its
connection closed. Bodies are bounded per route by `tianfu.api.limits.BodyLimit`.

At most `max_connections` HTTP connections are open at once (by default half of the
process's file-descriptor limit, at most `MAX_CONNECTIONS`), so that a crowd of idle or slow
clients cannot take the descriptors the node's peers and store need, and by default at
most half of them from one client address (`tianfu.api.limits.host_key`; a trusted proxy's
are not counted), so that one client cannot take them all from the others: a connection
beyond either is answered `429 {"error": ...}` and closed at once. (Half, not less: a load
generator on the node's own host holds hundreds of connections to each node.) A connection
upgraded to a WebSocket leaves the count (the streams have their own limit,
`tianfu.api.streams`). At most `MAX_PIPELINED` pipelined requests wait behind the one being
answered, and nothing more is read while any wait: a request begun past them ends the
reading of its connection, the waiting ones are answered and the connection is closed
(Uvicorn queued every request a read held, and read again after each answer, so one
connection could queue requests without end). A WebSocket client may send messages of at
most `WS_MAX_MESSAGE` bytes (the streams only send); messages are never
compressed (permessage-deflate is not offered back: compressing runs on the event loop).
"""

from __future__ import annotations

import asyncio
import errno
import json
import resource
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tianfu.api.limits import TrustedProxies, host_key

DEFAULT_HEAD_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_WRITE_TIMEOUT_S = 30.0  # for a client to read a full send buffer down (see above)
KEEP_ALIVE_TIMEOUT_S = 5
MAX_HEAD_BYTES = 16 * 1024  # request line and headers of one request
MAX_CONNECTIONS = 1024  # HTTP connections open at once, at most (see default_max_connections)
# Requests a connection may have waiting behind the one being answered (HTTP/1.1 pipelining).
MAX_PIPELINED = 16
# The largest message a WebSocket client may send: the event streams only send, and what a
# client sends is read and dropped (a larger message ends the stream with close code 1009).
WS_MAX_MESSAGE = 4096

_HEAD = "head"
_BODY = "body"


class PortInUse(OSError):
    """A port this process is to listen on is taken by another process."""


def listen_socket(host: str, port: int, what: str) -> socket.socket:
    """A TCP socket listening on `host:port` (as Uvicorn binds: a port in TIME_WAIT is free),
    for `server.serve(sockets=[...])`. A taken port raises `PortInUse` naming `what` (the
    node's API, its p2p port, ...) before the node has started anything else."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(f"{what} port {port} on {host} is already in use") from None
        raise
    return sock


class HeadTooLarge(Exception):
    """A request head over `MAX_HEAD_BYTES` (raised inside the parser's callbacks)."""


class PipelineFull(Exception):
    """A request begun behind `MAX_PIPELINED` waiting ones (raised inside the parser's
    callbacks)."""


def _refusal(status: bytes, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def default_max_connections() -> int:
    """Half the process's soft file-descriptor limit, at most `MAX_CONNECTIONS`."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(1, min(MAX_CONNECTIONS, soft // 2))


class Connections:
    """The number of open HTTP connections of one server, and its limit; the number open
    from each client address (`host_key`), and its limit, which connections from a
    `trusted` proxy are not counted against (its clients are many)."""

    def __init__(
        self, limit: int, per_client: int | None = None, trusted: TrustedProxies | None = None
    ) -> None:
        if limit < 1 or (per_client is not None and per_client < 1):
            raise ValueError("the connection limits must be at least 1")
        self.limit = limit
        self.per_client = limit if per_client is None else min(per_client, limit)
        self.trusted = trusted
        self.open = 0
        self.refused = 0
        self.unread = 0  # connections aborted with an answer the client did not read
        self.by_client: dict[str, int] = {}

    def enter(self, host: str | None) -> tuple[str | None, str | None]:
        """Count a connection from `host`: (its client key, None to count it off again;
        a refusal when a limit is passed, else None). Each connection is counted off once
        with `leave`, refused or not."""
        self.open += 1
        if host is None or (self.trusted is not None and self.trusted.trusts(host)):
            key = None
        else:
            key = host_key(host)
            self.by_client[key] = self.by_client.get(key, 0) + 1
        if self.open > self.limit:
            return key, f"too many connections open at once (at most {self.limit}); retry later"
        if key is not None and self.by_client[key] > self.per_client:
            return key, (
                f"too many connections open from your address (at most {self.per_client}); "
                "retry later"
            )
        return key, None

    def leave(self, key: str | None) -> None:
        self.open -= 1
        if key is not None:
            left = self.by_client[key] - 1
            if left:
                self.by_client[key] = left
            else:
                del self.by_client[key]


class DeadlineProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol with the deadlines and the head bound of the module
    docstring.

    The parser's callbacks only note the phase the connection is in; after each read the
    deadline of that phase is armed, so a request that arrives whole in one read (nearly all
    of them) arms no timer."""

    head_timeout_s = DEFAULT_HEAD_TIMEOUT_S
    body_timeout_s = DEFAULT_BODY_TIMEOUT_S
    write_timeout_s = DEFAULT_WRITE_TIMEOUT_S
    max_head_bytes = MAX_HEAD_BYTES
    max_pipelined = MAX_PIPELINED
    connection_count = Connections(MAX_CONNECTIONS)  # each server's class has its own

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._write_deadline: asyncio.TimerHandle | None = None  # armed while writing is paused
        self._want: str | None = _HEAD  # the phase after the bytes read so far
        self._begun = False  # part of a request head received
        self._heads = 0  # requests begun on this connection
        self._head_items = 0  # bytes of the head's URL and complete headers
        self._head_reads = 0  # bytes of the reads that fell wholly inside the head
        self._upgraded = False
        self._counted = False
        self._client_key: str | None = None  # the address counted (`Connections.enter`)
        self._eof = False  # the client has sent all it will

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        count = self.connection_count
        self._client_key, message = count.enter(None if self.client is None else self.client[0])
        self._counted = True
        if message is not None:
            count.refused += 1
            transport.write(_refusal(b"429 Too Many Requests", message))
            transport.close()
            return
        self._enter(_HEAD)

    def data_received(self, data: bytes) -> None:
        if self._eof:  # the client's last request is in (or the pipeline was full)
            return
        inside_head, heads = self._begun, self._heads
        super().data_received(data)
        if self._upgraded or self.transport.is_closing():
            return
        if inside_head and self._begun and self._heads == heads:
            # All of `data` belongs to one head, and may be a header growing in the parser.
            self._head_reads += len(data)
            if self._head_reads > self.max_head_bytes:
                self._refuse_head()
                return
        self._enter(self._want)

    # The parser's callbacks (called from `data_received`).

    def on_message_begin(self) -> None:
        if len(self.pipeline) >= self.max_pipelined:
            raise PipelineFull()
        super().on_message_begin()
        self._want = _HEAD
        self._begun = True
        self._heads += 1
        self._head_items = self._head_reads = 0

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._begun = False
        self._want = _BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._want = None
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._upgraded = True  # the WebSocket protocol takes the connection over
        self._uncount()
        self._enter(None)
        self._cancel_write_deadline()
        super().handle_websocket_upgrade()

    def send_400_response(self, msg: str) -> None:
        if self._head_items > self.max_head_bytes:  # raised by `_count_head`
            self._refuse_head()
        elif len(self.pipeline) >= self.max_pipelined:  # raised by `on_message_begin`
            self._stop_reading()
        else:
            super().send_400_response(msg)

    def _stop_reading(self) -> None:
        """Read no more of this connection: the requests waiting are answered in order and
        the connection is then closed (a client resends what was not answered, RFC 9112
        section 9.3.2)."""
        self._eof = True
        self._enter(None)
        self.flow.pause_reading()
        self.logger.info("a connection pipelined over %d requests: closing it", self.max_pipelined)

    def eof_received(self) -> bool | None:  # type: ignore[override]
        """The client has sent all it will (it may still read): the requests it sent whole
        are answered, in order, and then the connection is closed. With a request left
        unfinished it is closed now, and the request in hand is told the client is gone
        (it would otherwise answer into a closed transport, which uvloop refuses with an
        error per request)."""
        self._eof = True
        self._enter(None)
        cycle = self.cycle
        pending = self.pipeline or (cycle is not None and not cycle.response_complete)
        if self._want is None and pending:
            return True  # keep the transport open for the answers
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        return None  # the transport closes itself

    def on_response_complete(self) -> None:
        more = bool(self.pipeline)
        super().on_response_complete()  # starts the next request waiting; reads again
        if self._eof and not more and not self.transport.is_closing():
            self.transport.close()  # every request the client sent is answered
        elif self._eof or self.pipeline:
            # Uvicorn reads again after every answer: behind a request still waiting, that
            # would parse more requests (and bodies) to wait, as fast as they are answered.
            self.flow.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._uncount()
        self._enter(None)
        self._cancel_write_deadline()
        super().connection_lost(exc)

    # The transport's flow control (an answer larger than its buffer's high-water mark).

    def pause_writing(self) -> None:
        """The send buffer is over its high-water mark: the client has `write_timeout_s` to
        read it down, or the connection is dropped (`_unread`)."""
        super().pause_writing()
        if self._write_deadline is None and not self._upgraded:
            self._write_deadline = self.loop.call_later(self.write_timeout_s, self._unread)

    def resume_writing(self) -> None:
        self._cancel_write_deadline()
        super().resume_writing()

    def _cancel_write_deadline(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None

    def _unread(self) -> None:
        """The client left its answer unread past the write deadline: abort the connection
        (`close` would wait for the buffer to be sent), dropping the bytes it holds."""
        self._write_deadline = None
        if self.transport.is_closing() and self.transport.get_write_buffer_size() == 0:
            return
        self.connection_count.unread += 1
        self.logger.info(
            "dropping a connection whose answer was not read within %g s", self.write_timeout_s
        )
        self.transport.abort()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self.connection_count.leave(self._client_key)

    def _count_head(self, size: int) -> None:
        self._head_items += size
        if self._head_items > self.max_head_bytes:
            raise HeadTooLarge()

    def _refuse_head(self) -> None:
        self._enter(None)
        message = f"request head exceeds {self.max_head_bytes} bytes"
        self.transport.write(_refusal(b"431 Request Header Fields Too Large", message))
        self.logger.info("closing a connection whose request head is too large")
        self.transport.close()

    def _enter(self, phase: str | None) -> None:
        """Be in `phase` (None: no deadline); a phase keeps the deadline it started with."""
        if phase == self._phase:
            return
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._phase = phase
        if phase is not None:
            seconds = self.head_timeout_s if phase == _HEAD else self.body_timeout_s
            self._deadline = self.loop.call_later(seconds, self._expired, phase)

    def _expired(self, phase: str) -> None:
        self._deadline = None
        self._phase = None
        transport = self.transport
        if transport.is_closing():
            return
        cycle = self.cycle
        if phase == _HEAD:
            seconds = self.head_timeout_s
            answer = self._begun and (cycle is None or cycle.response_complete)
        else:
            seconds = self.body_timeout_s
            answer = cycle is None or not cycle.response_started
        if answer:  # part of the request was sent and nothing answered yet: say why we close
            message = f"request {phase} not received within {seconds:g} s"
            transport.write(_refusal(b"408 Request Timeout", message))
        self.logger.info("closing a connection whose request %s did not arrive in time", phase)
        transport.close()


def make_server(
    app: Any,
    host: str,
    port: int,
    *,
    head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    write_timeout_s: float = DEFAULT_WRITE_TIMEOUT_S,
    max_connections: int | None = None,
    max_connections_per_client: int | None = None,
    log_level: str = "warning",
) -> uvicorn.Server:
    """The Uvicorn server for a node's API `app` on `host:port` (`await server.serve()`);
    `max_connections` defaults to `default_max_connections()`; at most
    `max_connections_per_client` of them (default: half, or up to 64) from one client
    address, unless it is a proxy `app` trusts (`app.state.trusted_proxies`,
    `create_app(trusted_proxies=)`)."""
    limit = default_max_connections() if max_connections is None else max_connections
    if max_connections_per_client is None:  # half (a small limit: all of it, up to 64)
        max_connections_per_client = max(limit // 2, min(limit, 64))
    trusted = getattr(getattr(app, "state", None), "trusted_proxies", None)
    protocol = type(
        "NodeHttpProtocol",
        (DeadlineProtocol,),
        {
            "head_timeout_s": head_timeout_s,
            "body_timeout_s": body_timeout_s,
            "write_timeout_s": write_timeout_s,
            "connection_count": Connections(
                limit,
                max_connections_per_client,
                trusted if isinstance(trusted, TrustedProxies) else None,
            ),
        },
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_level=log_level,
        # One access line per request is never printed at "warning" (the node's level), but
        # Uvicorn would still build its arguments for every response.
        access_log=log_level.lower() in ("info", "debug", "trace"),
        lifespan="off",
        # The per-client limits key on the connection's address. Uvicorn would otherwise take
        # the address from X-Forwarded-For on connections from 127.0.0.1, so any local
        # process could pick the address it is limited as (ADR 0008: only a proxy the operator
        # declared trusted names the client, read by `tianfu.api.limits.client_address`).
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT_S,
        ws_max_size=WS_MAX_MESSAGE,
        # Compressing every message of every stream would run on the event loop (3-4x the
        # send's work for a block's batch) and hold a compressor's state per connection.
        ws_per_message_deflate=False,
    )
    return uvicorn.Server(config)
