"""A pure-ASGI fast path for the hottest requests: `POST /v1/txs` with canonical bytes and
`POST /v1/txs/batch`, answered in front of the whole FastAPI application.

Under load nearly every request is a transaction submission; FastAPI's own `__call__`
(telemetry checks), its middleware stack, routing, parameter parsing, exception handling
and response encoding cost more CPU than admitting the transaction. `create_app` puts this
layer *outside* all of that (`NodeAPI.__call__`), and it answers the common case itself: a
body of canonical transaction bytes (`application/octet-stream`; for the batch route also
its JSON form), query `wait=commit` (or none) and an optional `timeout`, decodable
transactions (a refusal is answered here, with the application's own status and message,
so admission runs once). Anything else — another route, JSON single bodies, unknown or
malformed parameters, an oversize or undecodable body — goes to the application
unchanged, with the body already read handed back to it, so every error response is the
application's own. The answers it gives are those of `submit_tx` / `submit_batch` in
`tianfu.api.app`; an unexpected error is answered 500 `{"error": "internal error"}` and
re-raised, as the application's server-error middleware does.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from tianfu.api.batch import BATCH_PATH, BatchError, decode_batch, json_body_limit, run_batch
from tianfu.api.render import refusal, render_record
from tianfu.api.service import ChainService, TxRejected
from tianfu.codec import CodecError
from tianfu.types import Transaction
from tianfu.types.tx import decode_tx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)
_JSON_HEADERS = [(b"content-type", b"application/json")]


class FastSubmit:
    """ASGI layer in front of the whole FastAPI application (module docstring).

    `app` is the application's full stack (`NodeAPI.call_stack`): everything the fast path
    does not answer itself goes there, with the body already read handed back.
    """

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
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == "/v1/txs":
            await self._single(scope, receive, send)
        elif path == BATCH_PATH:
            await self._batch(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _single(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = self._wait_seconds(scope)
        ctype = _content_type(scope)
        if wait is None or ctype not in (b"", b"application/octet-stream"):
            await self.app(scope, receive, send)
            return
        messages, body = await _read(receive, self.limit)
        tx = None
        if _complete(messages) and body and len(body) <= self.limit:
            try:
                tx = decode_tx(bytes(body), max_size=self.limit)
            except CodecError:
                tx = None
        if tx is None:  # not a decodable transaction: the application explains why
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            status, content = await self._submit_one(tx, wait)
        except Exception:
            await _internal_error(send)
            raise
        await _respond(send, status, content)

    async def _submit_one(self, tx: Transaction, wait: float) -> tuple[int, dict[str, Any]]:
        try:
            tx_hash = await self.service.submit(tx)
        except TxRejected as exc:  # answered here: admission must not run twice
            return refusal(exc)
        if wait >= 0:
            record = await self.service.wait_committed(tx_hash, wait)
            if record is not None:
                return 200, render_record(record)
        return 202, {"hash": tx_hash.hex(), "status": "pending"}

    async def _batch(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = self._wait_seconds(scope)
        ctype = _content_type(scope)
        is_json = ctype.startswith(b"application/json")
        if wait is None or not (is_json or ctype in (b"", b"application/octet-stream")):
            await self.app(scope, receive, send)
            return
        limit = json_body_limit(self.limit) if is_json else self.limit
        messages, body = await _read(receive, limit)
        txs = None
        if _complete(messages) and len(body) <= limit:
            try:
                txs = decode_batch(bytes(body), is_json, self.limit)
            except BatchError:
                txs = None
        if txs is None:  # not a well-formed batch: the application explains why
            await self.app(scope, _replay(messages, receive), send)
            return
        try:
            content = await run_batch(self.service, txs, None if wait < 0 else wait)
        except Exception:
            await _internal_error(send)
            raise
        await _respond(send, 200, content)

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


def _content_type(scope: Scope) -> bytes:
    ctype = b""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            ctype = value.lower()
    return ctype


async def _read(receive: Receive, limit: int) -> tuple[list[Message], bytearray]:
    """The request's messages and body, read until its end, a disconnect or `limit`."""
    messages: list[Message] = []
    body = bytearray()
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break  # a disconnect: the application deals with it
        body += message.get("body", b"")
        if len(body) > limit or not message.get("more_body", False):
            break
    return messages, body


def _complete(messages: list[Message]) -> bool:
    """Was the whole body read (no disconnect, no more to come)?"""
    last = messages[-1]
    return bool(last["type"] == "http.request" and not last.get("more_body", False))


async def _internal_error(send: Send) -> None:
    """What the application answers for an unexpected error (logged; then re-raised, as
    Starlette's ServerErrorMiddleware does, so that the server logs it too)."""
    log.exception("unhandled error in the API fast path")
    await _respond(send, 500, {"error": "internal error"})


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
