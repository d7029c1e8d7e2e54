"""`POST /v1/txs` and `POST /v1/txs/batch`: transaction submission, the node's busiest routes.

`Submitter` is their one implementation: body bytes, content type and the `wait` /
`timeout` parameters in, status and JSON bytes out; bad input raises the API's typed errors
(`ApiError`, `BatchError`, the service's `TxRejected`), which the application's error
handlers render as for every other route.

The routes are ordinary routes of the application, documented in its OpenAPI schema, and
every middleware added to the application (body limits, and whatever comes later: CORS,
auth, metrics) applies to them. Two things make them cheap, because under load nearly every
request is a submission and FastAPI's generic machinery costs more CPU than admitting the
transaction:

- `LeanRoute` binds a plainly well-formed request (`lean_params`) itself instead of through
  FastAPI's dependency machinery; any other request (e.g. a malformed `timeout`) is bound by
  FastAPI as usual, so validation errors are FastAPI's own. Both call the same `Submitter`.
- `LeanDispatch`, the innermost middleware, hands such a request to its `LeanRoute`
  directly, skipping FastAPI's exception middleware, exit stack and router; it renders a
  refusal with the application's own error handlers, as those would.

`create_app(..., lean_submit=False)` serves the routes with FastAPI's binding only, through
the whole stack; tests send the same requests both ways and compare every answer.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import anyio
import msgspec
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from tianfu.api import batch
from tianfu.api.batch import (
    BATCH_BODY_DOC,
    BATCH_PATH,
    MAX_BATCH_TXS,
    TOO_DEEP,
    admit_batch,
    decode_batch,
    load_json,
    run_batch,
)
from tianfu.api.errors import ApiError
from tianfu.api.limits import MAX_WAIT_S, TX_PATH, read_body
from tianfu.api.models import BatchOut, ErrorOut, PendingOut, TxRecordOut
from tianfu.api.render import render_record
from tianfu.api.service import ChainService
from tianfu.codec import CodecError
from tianfu.types import Transaction
from tianfu.types.tx import decode_tx

DEFAULT_WAIT_S = 30.0

# Bodies larger than this are decoded in a worker thread, not on the event loop the node's
# consensus shares: decoding and checking a transaction (`decode_tx`: map keys, canonical
# form, argument values) takes up to ~0.5 us per byte (a crafted 1 MiB transaction held the
# loop ~0.5 s per request); a usual transaction, far smaller, is decoded in place.
DECODE_ON_LOOP_MAX = 16 << 10
# Worker threads decoding submissions at once, all requests together; more wait their turn
# (their bodies are already read and bounded), so a flood of large bodies cannot set
# anyio's forty worker threads decoding beside the node's consensus.
DECODE_THREADS = 2

# What the submission methods take: body, content type, wait, timeout -> (status, JSON bytes).
Handler = Callable[[bytes, str, "str | None", float], Awaitable[tuple[int, bytes]]]


def _batch_answer(txs: list[Transaction], outcomes: list[Any], records: dict[bytes, Any]) -> bytes:
    return json_bytes(batch.render_batch(txs, outcomes, records))


def json_bytes(content: dict[str, Any]) -> bytes:
    try:
        return msgspec.json.encode(content)
    except (msgspec.EncodeError, OverflowError, TypeError):  # e.g. an int beyond 64 bits
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def _is_json(content_type: str) -> bool:
    return content_type.lower().startswith("application/json")


class Submitter:
    """The submission routes' implementation over a `ChainService` (module docstring)."""

    def __init__(self, service: ChainService, limit: int) -> None:
        self.service = service
        self.limit = limit
        self._decoders: anyio.CapacityLimiter | None = None

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` in a worker thread, at most `DECODE_THREADS` of them at once."""
        if self._decoders is None:  # made on the event loop that serves the requests
            self._decoders = anyio.CapacityLimiter(DECODE_THREADS)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._decoders)

    async def single(
        self, body: bytes, content_type: str, wait: str | None, timeout: float
    ) -> tuple[int, bytes]:
        """`POST /v1/txs`: 200 with the committed record, or 202 pending."""
        wait_s = _wait_seconds(wait, timeout)
        if len(body) > DECODE_ON_LOOP_MAX:
            tx = await self._off_loop(self._transaction, body, content_type)
        else:
            tx = self._transaction(body, content_type)
        tx_hash = await self.service.submit(tx)
        if wait_s is not None:
            record = await self.service.wait_committed(tx_hash, wait_s)
            if record is not None:
                return 200, json_bytes(render_record(record))
        return 202, json_bytes({"hash": tx_hash.hex(), "status": "pending"})

    async def batch(
        self, body: bytes, content_type: str, wait: str | None, timeout: float
    ) -> tuple[int, bytes]:
        """`POST /v1/txs/batch`: 200 with one result per transaction (`tianfu.api.batch`)."""
        wait_s = _wait_seconds(wait, timeout)
        if len(body) <= DECODE_ON_LOOP_MAX:
            txs = decode_batch(body, _is_json(content_type), self.limit)
            return 200, json_bytes(await run_batch(self.service, txs, wait_s))
        # A large batch is decoded (and hashed) in a worker thread, admitted on the loop,
        # and its answer rendered and encoded in a worker thread (1,000 results: ~10-20 ms).
        txs = await self._off_loop(decode_batch, body, _is_json(content_type), self.limit)
        outcomes, records = await admit_batch(self.service, txs, wait_s)
        return 200, await self._off_loop(_batch_answer, txs, outcomes, records)

    def _transaction(self, body: bytes, content_type: str) -> Transaction:
        data = _tx_bytes(body, content_type, self.limit) if _is_json(content_type) else body
        if not data:
            raise ApiError(400, "empty request body: send the transaction's canonical bytes")
        try:
            return decode_tx(data, max_size=self.limit)
        except CodecError as exc:
            raise ApiError(400, f"invalid transaction: {exc}") from None
        except RecursionError:
            raise ApiError(400, f"invalid transaction: {TOO_DEEP}") from None


def _wait_seconds(wait: str | None, timeout: float) -> float | None:
    """Seconds to wait for the commit, or None for no wait."""
    if wait in (None, ""):
        return None
    if wait != "commit":
        raise ApiError(400, f"unknown wait mode {wait[:80]!r}; the only mode is 'commit'")
    if not timeout >= 0:  # also NaN
        raise ApiError(400, "timeout must be a number of seconds >= 0")
    return min(timeout, MAX_WAIT_S)


def _tx_bytes(body: bytes, content_type: str, limit: int) -> bytes:
    """The transaction bytes of a JSON body `{"tx": "<hex>"}`."""
    doc = load_json(body)
    if not isinstance(doc, dict) or not isinstance(doc.get("tx"), str):
        raise ApiError(400, 'JSON body must be {"tx": "<hex of the canonical transaction>"}')
    try:
        data = bytes.fromhex(doc["tx"])
    except ValueError:
        raise ApiError(400, "field tx is not valid hex") from None
    if len(data) > limit:
        raise ApiError(413, f"transaction of {len(data)} bytes exceeds the limit of {limit}")
    return data


# -- binding ---------------------------------------------------------------------------------

_PLAIN_SECONDS = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?")
_JSON_HEADERS = [(b"content-type", b"application/json")]


@functools.lru_cache(maxsize=1024)  # clients repeat theirs: parse each once (bounded)
def lean_params(query_string: bytes) -> tuple[str | None, float] | None:
    """`(wait, timeout)` from a plainly well-formed query string, as FastAPI would bind them
    (the last of repeated keys, unknown keys ignored); None for anything else (non-ASCII,
    a `timeout` that is not plain decimal digits), which FastAPI binds instead."""
    wait: str | None = None
    timeout = DEFAULT_WAIT_S
    if not query_string:
        return wait, timeout
    if not query_string.isascii():
        return None
    for key, value in parse_qsl(query_string.decode("ascii"), keep_blank_values=True):
        if key == "wait":
            wait = value
        elif key == "timeout":
            if _PLAIN_SECONDS.fullmatch(value) is None:
                return None
            timeout = float(value)
    return wait, timeout


def _content_type(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1")  # the first, as Starlette's `Headers.get`
    return ""


class LeanRoute(APIRoute):
    """An `APIRoute` (documented in the OpenAPI schema from its endpoint, served through the
    application's middleware and error handlers) that binds a plainly well-formed request
    itself and hands it to `lean`; any other request goes to FastAPI's binding of the
    endpoint, which calls the same `Submitter` method."""

    def __init__(
        self, path: str, endpoint: Callable[..., Any], *, lean: Handler, **kw: Any
    ) -> None:
        super().__init__(path, endpoint, **kw)
        self.lean = lean
        self.fastapi_app = self.app
        self.app = self.serve

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # The route's own path, exactly: no pattern to run (a mounted application, with a
        # root path to strip, takes the general match).
        if scope["type"] == "http" and scope["path"] == self.path and not scope.get("root_path"):
            child: Scope = {
                "endpoint": self.endpoint,
                "path_params": dict(scope.get("path_params", {})),
                "route": self,
            }
            allowed = self.methods is None or scope["method"] in self.methods
            return (Match.FULL if allowed else Match.PARTIAL), child
        return super().matches(scope)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        params = lean_params(scope["query_string"])
        if params is None:
            await self.fastapi_app(scope, receive, send)
        else:
            await self.respond(scope, receive, send, params)

    async def respond(
        self, scope: Scope, receive: Receive, send: Send, params: tuple[str | None, float]
    ) -> None:
        """Answer a request whose parameters `lean_params` bound."""
        body = await read_body(receive)
        status, content = await self.lean(body, _content_type(scope), *params)
        headers = [*_JSON_HEADERS, (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


class LeanDispatch:
    """ASGI middleware, the innermost of the application's own (every middleware added to
    the application wraps it): hands a plainly well-formed submission straight to its
    `LeanRoute`, before FastAPI's exception middleware, exit stack and router — per request
    they cost about a tenth of what admitting a transaction does. A refusal is rendered by
    the application's own error handlers, as those layers would; anything else, and every
    other request, goes on down the stack to the router."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.routes = {r.path: r for r in api.router.routes if isinstance(r, LeanRoute)}
        self.handlers = {
            k: v for k, v in api.exception_handlers.items() if k not in (500, Exception)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            route = self.routes.get(scope["path"])
            if route is not None:
                params = lean_params(scope["query_string"])
                if params is not None:
                    try:
                        await route.respond(scope, receive, send, params)
                    except Exception as exc:
                        handler = self._handler(type(exc))
                        if handler is None:
                            raise  # the server-error middleware answers 500 and logs it
                        response = await handler(Request(scope, receive), exc)
                        await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _handler(self, cls: type) -> Any:
        for klass in cls.__mro__:
            handler = self.handlers.get(klass)
            if handler is not None:
                return handler
        return None


# -- routes ----------------------------------------------------------------------------------

_TX_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": 'The transaction\'s canonical bytes, or JSON {"tx": "<hex>"}.',
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"tx": {"type": "string", "description": "hex"}},
                    "required": ["tx"],
                }
            },
        },
    }
}

_WAIT_DOC = '"commit" to wait for the receipt'
_TIMEOUT_DOC = f"seconds to wait, at most {MAX_WAIT_S:g}"


async def _answer(request: Request, handle: Handler, wait: str | None, timeout: float) -> Response:
    """`handle`'s answer to the request's body, as a JSON response."""
    body = await read_body(request.receive)
    status, content = await handle(body, request.headers.get("content-type", ""), wait, timeout)
    return Response(content, status_code=status, media_type="application/json")


def add_submit_routes(router: APIRouter, submitter: Submitter, lean: bool = True) -> None:
    """Add `POST /v1/txs` and `POST /v1/txs/batch` in front of `router`'s routes, bound by
    `LeanRoute` (`lean`) or by FastAPI only."""

    async def submit_tx(
        request: Request,
        wait: str | None = Query(None, description=_WAIT_DOC),
        timeout: float = Query(DEFAULT_WAIT_S, ge=0, description=_TIMEOUT_DOC),
    ) -> Response:
        return await _answer(request, submitter.single, wait, timeout)

    async def submit_batch(
        request: Request,
        wait: str | None = Query(None, description='"commit" to wait for every receipt'),
        timeout: float = Query(DEFAULT_WAIT_S, ge=0, description=_TIMEOUT_DOC),
    ) -> Response:
        """Per transaction, in order: its committed record, pending, or its refusal. After a
        transaction with a bad signature or a refused signer, later ones get no signature
        check: each is refused with its signer's earlier refusal or as "not checked"
        (400), to be sent again without the forged one."""
        return await _answer(request, submitter.batch, wait, timeout)

    routes: list[tuple[str, Callable[..., Any], Handler, dict[str, Any]]] = [
        (
            TX_PATH,
            submit_tx,
            submitter.single,
            {
                "openapi_extra": _TX_BODY_DOC,
                "responses": {
                    200: {"model": TxRecordOut, "description": "committed (wait=commit)"},
                    202: {"model": PendingOut, "description": "admitted, not yet committed"},
                    400: {"model": ErrorOut},
                    409: {"model": ErrorOut},
                },
            },
        ),
        (
            BATCH_PATH,
            submit_batch,
            submitter.batch,
            {
                "openapi_extra": BATCH_BODY_DOC,
                "responses": {200: {"model": BatchOut}, 400: {"model": ErrorOut}},
                "summary": f"Submit up to {MAX_BATCH_TXS} transactions",
            },
        ),
    ]
    for i, (path, endpoint, handler, extra) in enumerate(routes):
        kw: dict[str, Any] = {"methods": ["POST"], "tags": ["transactions"], **extra}
        route = (
            LeanRoute(path, endpoint, lean=handler, **kw)
            if lean
            else APIRoute(path, endpoint, **kw)
        )
        router.routes.insert(i, route)  # first: matched before the others, being most requests
