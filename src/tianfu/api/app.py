"""The REST + WebSocket API of a node: FastAPI routes over a `ChainService`.

Bytes are hex strings in JSON. Every chain object is returned readable *and* as
`raw` (hex of its canonical encoding), which is what clients verify. Every error is
`{"error": "<message>"}` with a 4xx status; bad input never produces a 500.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import anyio
import msgspec
from fastapi import FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.websockets import WebSocketDisconnect

from tianfu.api.batch import (
    BATCH_BODY_DOC,
    MAX_BATCH_TXS,
    BatchError,
    decode_batch,
    json_body_limit,
    run_batch,
)
from tianfu.api.fastpath import FastSubmit, Receive, Scope, Send
from tianfu.api.proofs import proofs_router
from tianfu.api.render import (
    jsonable,
    refusal,
    render_block,
    render_certificate,
    render_committed_event,
    render_genesis,
    render_header,
    render_record,
    render_state,
)
from tianfu.api.service import ChainService, NotFound, QueryFailed, TxDuplicate, TxRejected
from tianfu.codec import CodecError, decode, encode
from tianfu.types import Genesis, Transaction, ValueTypeError, check_value

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 1 << 20
MAX_WAIT_S = 120.0
MAX_BLOCKS_PER_PAGE = 100
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4"


class ApiError(Exception):
    """An error answered as `{"error": message}` with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class QueryRequest(BaseModel):
    contract: str = Field(min_length=1, max_length=64)
    method: str = Field(min_length=1, max_length=64)
    args: list[Any] = Field(default_factory=list, max_length=32)


def parse_hash(text: str) -> bytes:
    """A 32-byte hash from 64 hex characters, or a 400."""
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise ApiError(400, f"malformed hash {text[:80]!r}: expected 64 hex characters") from None
    if len(value) != 32:
        raise ApiError(400, f"malformed hash: expected 32 bytes, got {len(value)}")
    return value


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, "invalid Content-Length header") from None
        if size > limit:
            raise ApiError(413, f"request body of {size} bytes exceeds the limit of {limit}")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            raise ApiError(413, f"request body exceeds the limit of {limit} bytes")
    return bytes(buf)


def _fast_json(content: dict[str, Any]) -> Response:
    """A JSON response of already plain JSON data (the hot path of `POST /v1/txs`), encoded
    by msgspec without FastAPI's generic `jsonable_encoder` pass: the same JSON document."""
    try:
        return Response(msgspec.json.encode(content), media_type="application/json")
    except (msgspec.EncodeError, OverflowError, TypeError):  # e.g. an int beyond 64 bits
        return JSONResponse(content)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "request"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _error(exc.status, exc.message)

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        status, body = refusal(exc)
        return JSONResponse(body, status_code=status)

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return _error(404, str(exc) or "not found")

    async def query_failed(_: Request, exc: Exception) -> JSONResponse:
        return _error(400, f"query failed: {exc}")

    async def codec_error(_: Request, exc: Exception) -> JSONResponse:
        return _error(400, str(exc))

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _error(400, _validation_message(exc))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in API handler", exc_info=exc)
        return _error(500, "internal error")

    async def batch_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BatchError)
        return _error(exc.status, exc.message)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(BatchError, batch_error)
    app.add_exception_handler(TxDuplicate, refused)
    app.add_exception_handler(TxRejected, refused)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(QueryFailed, query_failed)
    app.add_exception_handler(CodecError, codec_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal)


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


def _tx_bytes(body: bytes, content_type: str, limit: int) -> bytes:
    if not content_type.lower().startswith("application/json"):
        return body
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed JSON body") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tx"), str):
        raise ApiError(400, 'JSON body must be {"tx": "<hex of the canonical transaction>"}')
    try:
        data = bytes.fromhex(doc["tx"])
    except ValueError:
        raise ApiError(400, "field tx is not valid hex") from None
    if len(data) > limit:
        raise ApiError(413, f"transaction of {len(data)} bytes exceeds the limit of {limit}")
    return data


class NodeAPI(FastAPI):
    """The FastAPI application with the submission fast path (`FastSubmit`) in front of
    its whole stack: a served `NodeAPI` hands every request to `fast` first, which answers
    the hot submissions itself and passes everything else to `call_stack` — FastAPI as
    usual (telemetry, middleware, routing, error handlers, OpenAPI)."""

    fast: FastSubmit | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self.fast
        if fast is not None:
            await fast(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def call_stack(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The FastAPI application itself, without the fast path."""
        await super().__call__(scope, receive, send)


def _wait_mode(wait: str | None) -> None:
    if wait not in (None, "", "commit"):
        raise ApiError(400, f"unknown wait mode {wait!r}; the only mode is 'commit'")


def create_app(service: ChainService) -> NodeAPI:
    """The application serving `service` (a FastAPI app with the fast path in front)."""
    app = NodeAPI(
        title="Tianfu Chain node API",
        version="1",
        description="Bytes are hex strings; every chain object carries `raw`, its canonical "
        "encoding, which clients verify.",
    )
    _install_error_handlers(app)
    app.include_router(proofs_router(service))  # proof documents (tianfu.api.proofs)
    limit = int(getattr(service, "max_body_bytes", DEFAULT_MAX_BODY) or DEFAULT_MAX_BODY)
    # The hot path of submissions, answered before FastAPI's stack (docs/performance.md).
    app.fast = FastSubmit(
        app.call_stack, service=service, limit=limit, default_wait_s=30.0, max_wait_s=MAX_WAIT_S
    )

    @app.get("/v1/status", tags=["chain"])
    def status() -> dict[str, Any]:
        return jsonable(service.status())

    @app.post("/v1/txs", tags=["transactions"], openapi_extra=_TX_BODY_DOC, response_model=None)
    async def submit_tx(
        request: Request,
        wait: str | None = Query(None, description='"commit" to wait for the receipt'),
        timeout: float = Query(30.0, ge=0, description=f"seconds to wait, at most {MAX_WAIT_S}"),
    ) -> Any:
        _wait_mode(wait)
        ctype = request.headers.get("content-type", "application/octet-stream")
        body = await read_body(request, 2 * limit + 1024 if "json" in ctype.lower() else limit)
        data = _tx_bytes(body, ctype, limit)
        if not data:
            raise ApiError(400, "empty request body: send the transaction's canonical bytes")
        try:
            tx = decode(data, Transaction, max_size=limit)
        except CodecError as exc:
            raise ApiError(400, f"invalid transaction: {exc}") from None
        tx_hash = await service.submit(tx)
        if wait == "commit":
            record = await service.wait_committed(tx_hash, min(timeout, MAX_WAIT_S))
            if record is not None:
                return _fast_json(render_record(record))
        return JSONResponse({"hash": tx_hash.hex(), "status": "pending"}, status_code=202)

    @app.post(
        "/v1/txs/batch",
        tags=["transactions"],
        openapi_extra=BATCH_BODY_DOC,
        response_model=None,
        summary=f"Submit up to {MAX_BATCH_TXS} transactions",
    )
    async def submit_batch(
        request: Request,
        wait: str | None = Query(None, description='"commit" to wait for every receipt'),
        timeout: float = Query(30.0, ge=0, description=f"seconds to wait, at most {MAX_WAIT_S}"),
    ) -> Any:
        """Per transaction, in order: its committed record, pending, or its refusal."""
        _wait_mode(wait)
        is_json = request.headers.get("content-type", "").lower().startswith("application/json")
        body = await read_body(request, json_body_limit(limit) if is_json else limit)
        txs = decode_batch(body, is_json, limit)
        doc = await run_batch(service, txs, min(timeout, MAX_WAIT_S) if wait == "commit" else None)
        return _fast_json(doc)

    @app.get("/v1/txs/{tx_hash}", tags=["transactions"])
    def get_tx(tx_hash: str) -> dict[str, Any]:
        record = service.get_tx(parse_hash(tx_hash))
        if record is None:
            raise NotFound(f"transaction {tx_hash} not found")
        return render_record(record)

    @app.get("/v1/blocks", tags=["blocks"])
    def list_blocks(
        from_: int | None = Query(None, alias="from", ge=1, description="first height"),
        limit: int = Query(20, ge=1, description=f"at most {MAX_BLOCKS_PER_PAGE}"),
    ) -> dict[str, Any]:
        limit = min(limit, MAX_BLOCKS_PER_PAGE)
        if from_ is None:
            height = int(service.status().get("height", 0))
            from_ = max(1, height - limit + 1)
        headers = service.get_headers(from_, limit)
        return {"blocks": [render_header(h) for h in headers[:limit]]}

    @app.get("/v1/blocks/{height}", tags=["blocks"])
    def get_block(height: int) -> dict[str, Any]:
        block = service.get_block(height) if height >= 1 else None
        if block is None:
            raise NotFound(f"block {height} not found")
        return render_block(block, service.get_receipts(height))

    @app.get("/v1/blocks/{height}/commit", tags=["blocks"])
    def get_commit(height: int) -> dict[str, Any]:
        cert = service.get_certificate(height) if height >= 1 else None
        if cert is None:
            raise NotFound(f"no commit certificate for height {height}")
        return {"height": height, "certificate": render_certificate(cert)}

    @app.get("/v1/state/{contract}/{key:path}", tags=["state"])
    def read_state(
        contract: str,
        key: str,
        height: int | None = Query(None, ge=1),
        prove: bool = Query(False),
    ) -> dict[str, Any]:
        return render_state(service.read_state(contract, key, height, prove))

    @app.post("/v1/query", tags=["state"])
    def query(req: QueryRequest) -> dict[str, Any]:
        try:
            check_value(req.args)
        except ValueTypeError as exc:
            raise ApiError(400, f"bad argument: {exc}") from None
        result = service.query(req.contract, req.method, list(req.args))
        return {"result": jsonable(result), "raw": encode(result).hex()}

    @app.get("/v1/validators", tags=["consortium"])
    def validators() -> dict[str, Any]:
        return {"validators": jsonable(service.validators())}

    @app.get("/v1/orgs", tags=["consortium"])
    def orgs() -> dict[str, Any]:
        return {"orgs": jsonable(service.orgs())}

    @app.get("/v1/contracts", tags=["consortium"])
    def contracts() -> dict[str, Any]:
        return {"contracts": jsonable(service.contracts())}

    @app.get("/v1/genesis", tags=["consortium"])
    def genesis() -> dict[str, Any]:
        raw = service.genesis()
        return render_genesis(raw, decode(raw, Genesis))

    @app.get("/metrics", tags=["operations"])
    def metrics() -> Response:
        return Response(service.metrics(), media_type=METRICS_MEDIA_TYPE)

    @app.websocket("/v1/events")
    async def events(ws: WebSocket, contract: str | None = None, name: str | None = None) -> None:
        await ws.accept()
        stream = service.subscribe()

        ended = False

        async def pump() -> None:
            nonlocal ended
            async for ev in stream:
                if contract and ev.event.contract != contract:
                    continue
                if name and ev.event.name != name:
                    continue
                await ws.send_json(render_committed_event(ev))
            ended = True  # the stream ended: node shutting down, or this consumer was dropped
            tg.cancel_scope.cancel()

        async def watch() -> None:
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
            tg.cancel_scope.cancel()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump)
                tg.start_soon(watch)
        except* (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the client went away while we were sending
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await aclose()
        if ended:
            with contextlib.suppress(Exception):
                await ws.close(code=1000)

    return app
