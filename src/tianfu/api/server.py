"""The HTTP server a node runs its API on: Uvicorn (h11), with read deadlines.

Uvicorn closes a connection idle *between* requests (keep-alive timeout) but puts no
deadline on receiving a request: a client that sends half a request head, or a body a byte
at a time, holds its connection and the request's state forever (slowloris). The protocol
here adds two deadlines, each counted from the start of its phase and never extended by
the bytes that trickle in:

- the request head (request line and headers) must be complete within `head_timeout_s`
  of the connection opening or of the request's first byte;
- the body must be complete within `body_timeout_s` of the end of the head.

A request that misses its deadline is answered `408 {"error": ...}` when nothing has been
answered yet, and its connection is closed. Request heads are at most 16 KiB (h11's
limit) and bodies are bounded per route by `tianfu.api.limits.BodyLimit`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEAD_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
KEEP_ALIVE_TIMEOUT_S = 5

_HEAD = "head"
_BODY = "body"


def _timeout_response(what: str, seconds: float) -> bytes:
    body = json.dumps({"error": f"request {what} not received within {seconds:g} s"}).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


class DeadlineH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with the head and body deadlines of the module docstring.

    A request that arrives whole in one read (nearly all of them) arms no timer."""

    head_timeout_s = DEFAULT_HEAD_TIMEOUT_S
    body_timeout_s = DEFAULT_BODY_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase: str | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._upgraded = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter(_HEAD)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._upgraded:
            return
        state = self.conn.their_state
        if state is h11.IDLE:  # part of a request head so far
            self._enter(_HEAD)
        elif state is h11.SEND_BODY:
            self._enter(_BODY)
        else:
            self._enter(None)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._upgraded = True  # the WebSocket protocol takes the connection over
        self._enter(None)
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._enter(None)
        super().connection_lost(exc)

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
        state = self.conn.their_state
        if phase == _HEAD:
            if state is not h11.IDLE:
                return
            if self.conn.trailing_data[0]:  # part of a head was sent: say why we close
                transport.write(_timeout_response("head", self.head_timeout_s))
        else:
            if state is not h11.SEND_BODY:
                return
            if self.cycle is None or not self.cycle.response_started:
                transport.write(_timeout_response("body", self.body_timeout_s))
        self.logger.info("closing a connection whose request %s did not arrive in time", phase)
        transport.close()


def make_server(
    app: Any,
    host: str,
    port: int,
    *,
    head_timeout_s: float = DEFAULT_HEAD_TIMEOUT_S,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    log_level: str = "warning",
) -> uvicorn.Server:
    """The Uvicorn server for a node's API `app` on `host:port` (`await server.serve()`)."""
    protocol = type(
        "DeadlineH11",
        (DeadlineH11Protocol,),
        {"head_timeout_s": head_timeout_s, "body_timeout_s": body_timeout_s},
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
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT_S,
    )
    return uvicorn.Server(config)
