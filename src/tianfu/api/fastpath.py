"""A pure-ASGI fast path for the hottest request, `POST /v1/txs` with canonical bytes.

Under load nearly every request is a transaction submission; FastAPI's routing, parameter
parsing, exception middleware and response encoding cost more CPU than admitting the
transaction. This middleware answers the common case itself: a body of
canonical transaction bytes (`application/octet-stream`), query `wait=commit` (or none) and
an optional `timeout`, a decodable transaction (a refusal is answered here, with the
application's own status and message, so admission runs once). Anything else — another
route, JSON bodies, unknown or malformed parameters, an oversize or undecodable body —
goes to the application unchanged, with the body already read handed
back to it, so every error response is the application's own. The answers it gives are
those of `submit_tx` in `tianfu.api.app`: the committed record, or 202 pending.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from tianfu.api.render import refusal, render_record
from tianfu.api.service import ChainService, TxRejected
from tianfu.codec import CodecError, decode
from tianfu.types import Transaction

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", b"application/json")]


class FastSubmit:
    """ASGI middleware: `POST /v1/txs` handled directly when it succeeds (module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        service: ChainService,
        limit: int,
        default_wait_s: float,
        max_wait_s: float,
    ) -> None:
        self.app = app
        self.service = service
        self.limit = limit
        self.default_wait_s = default_wait_s
        self.max_wait_s = max_wait_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/v1/txs":
            await self.app(scope, receive, send)
            return
        wait = self._wait_seconds(scope)
        ctype = b""
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                ctype = value.lower()
        if wait is None or ctype not in (b"", b"application/octet-stream"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        body = bytearray()
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # a disconnect: the application deals with it
            body += message.get("body", b"")
            if len(body) > self.limit or not message.get("more_body", False):
                break
        tx = None
        if messages[-1]["type"] == "http.request" and not messages[-1].get("more_body", False):
            if body and len(body) <= self.limit:
                try:
                    tx = decode(bytes(body), Transaction, max_size=self.limit)
                except CodecError:
                    tx = None
        if tx is None:  # not a decodable transaction: the application explains why
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            tx_hash = await self.service.submit(tx)
        except TxRejected as exc:  # answered here: admission must not run twice
            status, content = refusal(exc)
            await _respond(send, status, content)
            return
        if wait >= 0:
            record = await self.service.wait_committed(tx_hash, wait)
            if record is not None:
                await _respond(send, 200, render_record(record))
                return
        await _respond(send, 202, {"hash": tx_hash.hex(), "status": "pending"})

    def _wait_seconds(self, scope: Scope) -> float | None:
        """Seconds to wait for the commit (-1: do not wait); None: not the fast path's case."""
        try:
            params = parse_qsl(scope.get("query_string", b"").decode("ascii"), strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return None
        seen: dict[str, str] = {}
        for key, value in params:
            if key not in ("wait", "timeout") or key in seen:
                return None
            seen[key] = value
        if seen.get("wait", "") not in ("", "commit"):
            return None
        timeout = self.default_wait_s
        if "timeout" in seen:
            try:
                timeout = float(seen["timeout"])
            except ValueError:
                return None
            if not math.isfinite(timeout) or timeout < 0:
                return None
        if seen.get("wait", "") != "commit":
            return -1.0
        return min(timeout, self.max_wait_s)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that first gives back the messages already read, then reads on."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _respond(send: Send, status: int, content: dict[str, Any]) -> None:
    try:
        body = msgspec.json.encode(content)
    except (msgspec.EncodeError, OverflowError, TypeError):  # e.g. an int beyond 64 bits
        import json

        body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
