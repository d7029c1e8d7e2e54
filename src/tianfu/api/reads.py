"""The read routes of the API: status, blocks, transactions, state, contract queries, the
consortium, metrics and the event stream (`read_router`).

Every integer parameter is range-checked (heights fit the store's 64-bit integers), and
every contract execution — `POST /v1/query` and the routes answered by governance views —
runs gas-bounded in a worker thread under the node's `QueryGate`, so a flood of queries
gets 429 instead of the CPU that block production needs. Every answer that can be large is
encoded as JSON where it is made (`render.json_answer`: a worker thread), never on the event
loop the node's consensus shares.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import anyio
from fastapi import APIRouter, Path, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from tianfu.api.errors import ApiError
from tianfu.api.limits import MAX_HEIGHT, QueryGate, client_address, read_body
from tianfu.api.models import (
    BlockOut,
    BlocksOut,
    CommitOut,
    ContractsOut,
    GenesisOut,
    OrgsOut,
    QueryOut,
    StateOut,
    StatusOut,
    TxRecordOut,
    ValidatorsOut,
    documented,
)
from tianfu.api.readgate import ReadBudget, ReadRoute
from tianfu.api.render import (
    json_answer,
    jsonable,
    render_block,
    render_certificate,
    render_committed_event,
    render_genesis,
    render_header,
    render_record,
    render_state,
)
from tianfu.api.service import ChainService, CommittedEvent, NotFound
from tianfu.api.streams import opened, send_until_disconnect
from tianfu.codec import encode
from tianfu.types import ValueTypeError, check_value
from tianfu.types.genesis import decode_genesis

MAX_BLOCKS_PER_PAGE = 100
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4"


class QueryRequest(BaseModel):
    contract: str = Field(min_length=1, max_length=64)
    method: str = Field(min_length=1, max_length=64)
    args: list[Any] = Field(default_factory=list, max_length=32)


_QUERY_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": QueryRequest.model_json_schema()}},
    }
}


def parse_hash(text: str) -> bytes:
    """A 32-byte hash from 64 hex characters, or a 400."""
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise ApiError(400, f"malformed hash {text[:80]!r}: expected 64 hex characters") from None
    if len(value) != 32:
        raise ApiError(400, f"malformed hash: expected 32 bytes, got {len(value)}")
    return value


def parse_query(body: bytes) -> QueryRequest:
    """The body of `POST /v1/query`, or a 400 naming what is wrong (Pydantic's JSON parser
    refuses nesting past its own fixed depth with a message, never an exception)."""
    try:
        req = QueryRequest.model_validate_json(body)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ())) or "body"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        raise ApiError(400, "invalid request: " + "; ".join(parts)) from None
    try:
        check_value(req.args)
    except ValueTypeError as exc:
        raise ApiError(400, f"bad argument: {exc}") from None
    return req


def read_router(
    service: ChainService, gate: QueryGate, streams: QueryGate, reads: ReadBudget
) -> APIRouter:
    """The read routes over `service`; contract executions pass through `gate` and spend
    the time budget of `reads` (`ReadBudget.timed`), event streams pass through `streams`,
    and what the streams do in worker threads is `reads.stream_work`."""
    router = APIRouter(route_class=ReadRoute)

    def query_answer(contract: str, method: str, args: list[Any]) -> JSONResponse:
        result = service.query(contract, method, args)
        return json_answer({"result": jsonable(result), "raw": encode(result).hex()})

    def parsed_query_answer(body: bytes) -> JSONResponse:
        req = parse_query(body)
        return query_answer(req.contract, req.method, list(req.args))

    async def run_view(request: Request, fn: Any, key: str) -> JSONResponse:
        """`{key: fn()}`, computed and encoded in a worker thread."""
        client = client_address(request.scope)
        async with reads.timed(client):
            with gate.slot(client):
                return await anyio.to_thread.run_sync(lambda: json_answer({key: jsonable(fn())}))

    @router.get("/v1/status", tags=["chain"], **documented(StatusOut))
    def status() -> dict[str, Any]:
        return jsonable(service.status())

    @router.get("/v1/txs/{tx_hash}", tags=["transactions"], **documented(TxRecordOut, 400, 404))
    def get_tx(tx_hash: str) -> JSONResponse:
        record = service.get_tx(parse_hash(tx_hash))
        if record is None:
            raise NotFound(f"transaction {tx_hash} not found")
        return json_answer(render_record(record))

    @router.get("/v1/blocks", tags=["blocks"], **documented(BlocksOut))
    def list_blocks(
        from_: int | None = Query(
            None, alias="from", ge=1, le=MAX_HEIGHT, description="first height"
        ),
        limit: int = Query(
            20, ge=1, le=MAX_HEIGHT, description=f"at most {MAX_BLOCKS_PER_PAGE} are returned"
        ),
    ) -> JSONResponse:
        limit = min(limit, MAX_BLOCKS_PER_PAGE)
        if from_ is None:
            height = int(service.status().get("height", 0))
            from_ = max(1, height - limit + 1)
        headers = service.get_headers(from_, limit)
        return json_answer({"blocks": [render_header(h) for h in headers[:limit]]})

    @router.get("/v1/blocks/{height}", tags=["blocks"], **documented(BlockOut, 404))
    def get_block(height: int = Path(ge=0, le=MAX_HEIGHT)) -> JSONResponse:
        block = service.get_block(height) if height >= 1 else None
        if block is None:
            raise NotFound(f"block {height} not found")
        return json_answer(render_block(block, service.get_receipts(height)))

    @router.get("/v1/blocks/{height}/commit", tags=["blocks"], **documented(CommitOut, 404))
    def get_commit(height: int = Path(ge=0, le=MAX_HEIGHT)) -> JSONResponse:
        cert = service.get_certificate(height) if height >= 1 else None
        if cert is None:
            raise NotFound(f"no commit certificate for height {height}")
        return json_answer({"height": height, "certificate": render_certificate(cert)})

    @router.get("/v1/state/{contract}/{key:path}", tags=["state"], **documented(StateOut, 400, 404))
    def read_state(
        contract: str,
        key: str,
        height: int | None = Query(None, ge=1, le=MAX_HEIGHT),
        prove: bool = Query(False),
    ) -> JSONResponse:
        return json_answer(render_state(service.read_state(contract, key, height, prove)))

    @router.post(
        "/v1/query", tags=["state"], openapi_extra=_QUERY_BODY_DOC, **documented(QueryOut, 400, 503)
    )
    async def query(request: Request) -> JSONResponse:
        """A read-only call of a contract's view on the latest state (gas-bounded)."""
        body = await read_body(request.receive)
        # Parsed and checked (a body of many small values: tens of milliseconds), executed
        # and encoded in a worker thread, as one read of the gate and the time budget.
        client = client_address(request.scope)
        async with reads.timed(client):
            with gate.slot(client):
                return await anyio.to_thread.run_sync(parsed_query_answer, body)

    @router.get("/v1/validators", tags=["consortium"], **documented(ValidatorsOut))
    def validators() -> dict[str, Any]:
        return {"validators": jsonable(service.validators())}

    @router.get("/v1/orgs", tags=["consortium"], **documented(OrgsOut))
    async def orgs(request: Request) -> JSONResponse:
        return await run_view(request, service.orgs, "orgs")

    @router.get("/v1/contracts", tags=["consortium"], **documented(ContractsOut))
    async def contracts(request: Request) -> JSONResponse:
        return await run_view(request, service.contracts, "contracts")

    @router.get("/v1/genesis", tags=["consortium"], **documented(GenesisOut))
    def genesis() -> JSONResponse:
        raw = service.genesis()
        return json_answer(render_genesis(raw, decode_genesis(raw)))

    @router.get("/metrics", tags=["operations"])
    def metrics() -> Response:
        return Response(service.metrics(), media_type=METRICS_MEDIA_TYPE)

    @router.websocket("/v1/events")
    async def events(ws: WebSocket, contract: str | None = None, name: str | None = None) -> None:
        async with opened(ws, streams) as accepted:
            if accepted:
                await _send_events(ws, service, contract, name, reads)

    return router


# An event larger than this (its canonical bytes) is rendered and encoded for a stream in a
# worker thread, not on the event loop the node's consensus shares: an event's fields may
# hold 64 KiB of small values, and every open stream renders every event.
EVENT_ON_LOOP_MAX = 4096


def event_text(ev: CommittedEvent) -> str:
    """The JSON text `/v1/events` sends for `ev` (what `send_json` makes)."""
    return json.dumps(render_committed_event(ev), separators=(",", ":"), ensure_ascii=False)


async def _send_events(
    ws: WebSocket,
    service: ChainService,
    contract: str | None,
    name: str | None,
    reads: ReadBudget,
) -> None:
    """Send `ws` the committed events (of `contract`, named `name`) until either side ends."""
    stream = service.subscribe()
    ended = False

    async def pump() -> None:
        nonlocal ended
        async for ev in stream:
            if contract and ev.event.contract != contract:
                continue
            if name and ev.event.name != name:
                continue
            await reads.stream_turn()
            started = reads.clock()
            if len(encode(ev.event)) <= EVENT_ON_LOOP_MAX:
                text = event_text(ev)
                took = reads.clock() - started  # rendered on the loop
            else:
                took = reads.clock() - started
                text = await reads.stream_work(event_text, ev)
            await reads.stream_send(ws.send_text, text, took)
        ended = True  # the stream ended: node shutting down, or this consumer was dropped

    try:
        await send_until_disconnect(ws, pump)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await aclose()
    if ended:
        with contextlib.suppress(Exception):
            await ws.close(code=1000)
