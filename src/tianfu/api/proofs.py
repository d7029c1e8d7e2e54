"""Proof routes: self-contained proof documents, the validator chain, and block event batches.

Every document (`tianfu.proofs.documents`) verifies against the genesis alone: it carries
the chain of validator-set changes up to its blocks. `mode=skipping` asks for a chain that
skips changes where more than 1/3 of a trusted set signed a later one (CometBFT-style;
verifiers accept it only within their trusting period); the default is one link per change.
`/v1/events/blocks` streams, per committed block in order, the block's header, commit
certificate and every receipt, so a client can check it received every event of the block.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request, WebSocket
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from tianfu.api.errors import validation_message
from tianfu.api.limits import MAX_HEIGHT, QueryGate, client_address, read_body
from tianfu.api.models import (
    AbsenceDocument,
    ChainOut,
    ContractsDocument,
    EventBatchOut,
    HistoryDocument,
    OrgsDocument,
    StateDocument,
    TxDocument,
    ValidatorsDocument,
    documented,
)
from tianfu.api.readgate import ReadBudget, ReadRoute
from tianfu.api.streams import opened, send_until_disconnect
from tianfu.codec import encode
from tianfu.proofs.build import (
    DEFAULT_HISTORY_LIMIT,
    MAX_HISTORY_LIMIT,
    SEQUENTIAL,
    SKIPPING,
    Committed,
    ProofBuilder,
    ProofUnavailable,
)
from tianfu.proofs.formats import MAX_ITEMS
from tianfu.proofs.values import readable

MAX_READS = MAX_ITEMS
POLL_S = 0.1  # how often the block stream looks for a new committed height


CONTRACT_NAME = r"^[a-z][a-z0-9_]*$"
# The block a document proves (the latest when omitted).
ProvenHeight = Annotated[int | None, Query(ge=1, le=MAX_HEIGHT)]


class StateReadItem(BaseModel):
    contract: str = Field(min_length=1, max_length=64, pattern=CONTRACT_NAME)
    key: str = Field(min_length=0, max_length=1024)


class StateProofRequest(BaseModel):
    reads: list[StateReadItem] = Field(min_length=1, max_length=MAX_READS)
    height: int | None = Field(default=None, ge=1)
    mode: str = SEQUENTIAL


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` put in place of their references (a request
    body documented by `openapi_extra` is not among the document's components)."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)  # type: ignore[no-any-return]


_STATE_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inlined(StateProofRequest.model_json_schema())}
        },
    }
}


def parse_state_request(body: bytes) -> StateProofRequest:
    """The body of `POST /v1/proofs/state`; ValueError (a 400) naming what is wrong."""
    try:
        return StateProofRequest.model_validate_json(body)
    except ValidationError as exc:
        raise ValueError(validation_message(exc)) from None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _mode(mode: str) -> str:
    if mode not in (SEQUENTIAL, SKIPPING):
        raise ValueError(f"unknown mode {mode!r}: use {SEQUENTIAL} or {SKIPPING}")
    return mode


def _contract(name: str) -> str:
    if not re.fullmatch(CONTRACT_NAME, name) or len(name) > 64:
        raise ValueError(f"malformed contract name {name[:80]!r}")
    return name


def _hash(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"malformed hash {text[:80]!r}: expected 64 hex characters") from None
    if len(value) != 32:
        raise ValueError(f"malformed hash: expected 32 bytes, got {len(value)}")
    return value


def _answer(build: Callable[[], Any]) -> JSONResponse:
    """Run a builder call and render its answer (so that a large document is encoded where it
    was built, off the event loop); map its refusals to 4xx answers."""
    try:
        return JSONResponse(build())
    except Committed as exc:
        return _error(409, str(exc))
    except ProofUnavailable as exc:
        return _error(404, str(exc))
    except ValueError as exc:
        return _error(400, str(exc))


def block_batch(
    service: Any, height: int, contract: str | None, name: str | None
) -> dict[str, Any] | None:
    """One block's event batch, or None if the block is not committed (yet)."""
    block = service.get_block(height)
    receipts = service.get_receipts(height)
    cert = service.get_certificate(height)
    if block is None or receipts is None or cert is None:
        return None
    events = []
    for i, r in enumerate(receipts):
        for ev in r.events:
            if (contract is None or ev.contract == contract) and (name is None or ev.name == name):
                events.append(
                    {
                        "tx_index": i,
                        "contract": ev.contract,
                        "name": ev.name,
                        "data": readable(ev.data),
                    }
                )
    return {
        "height": height,
        "header": encode(block.header).hex(),
        "certificate": encode(cert).hex(),
        "receipts": [encode(r).hex() for r in receipts],
        "events": events,
    }


def block_batch_text(
    service: Any, height: int, contract: str | None, name: str | None
) -> str | None:
    """`block_batch` as the JSON text a WebSocket sends (what `send_json` makes), encoded
    by the caller's thread: a worker, not the event loop the node's consensus shares (a
    block's batch may be megabytes, once per open stream)."""
    batch = block_batch(service, height, contract, name)
    if batch is None:
        return None
    return json.dumps(batch, separators=(",", ":"), ensure_ascii=False)


def proofs_router(
    service: Any, gate: QueryGate, streams: QueryGate, reads: ReadBudget
) -> APIRouter:
    """The routes above over `service.proof_builder()` (a `ProofBuilder`). A document is
    built in a worker thread under `gate` (as contract queries are: one may read a thousand
    entries or a chain of validator changes); the block event streams open through
    `streams`."""
    router = APIRouter(route_class=ReadRoute)

    async def answer(request: Request, build: Callable[[], Any]) -> JSONResponse:
        client = client_address(request.scope)
        async with reads.timed(client):  # the read budget's time; the query gate's slot
            with gate.slot(client):
                return await anyio.to_thread.run_sync(_answer, build)

    def route(
        path: str, model: type[BaseModel], *errors: int, tag: str = "proofs"
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A GET route documented as answering `model`, or an error: 400, 404 and `errors`."""
        return router.get(path, tags=[tag], **documented(model, 400, 404, *errors))

    def builder() -> ProofBuilder:
        make = getattr(service, "proof_builder", None)
        if make is None:
            raise ProofUnavailable("this node serves no proofs")
        result: ProofBuilder = make()
        return result

    @route("/v1/proofs/validators", ValidatorsDocument)
    async def validators_proof(
        request: Request, height: ProvenHeight = None, mode: str = SEQUENTIAL
    ) -> Any:
        """The validator set that signs block `height` (latest when omitted), proven from the
        genesis by the chain of every change."""
        return await answer(request, lambda: builder().validators_document(height, _mode(mode)))

    @route("/v1/proofs/orgs", OrgsDocument)
    async def orgs_proof(
        request: Request, height: ProvenHeight = None, mode: str = SEQUENTIAL
    ) -> Any:
        """The `/v1/orgs` answer at `height` (latest when omitted), proven: the governance
        entries it reads, in one certified state, with the validator chain."""
        return await answer(
            request, lambda: builder().consortium_document("orgs", height, _mode(mode))
        )

    @route("/v1/proofs/contracts", ContractsDocument)
    async def contracts_proof(
        request: Request, height: ProvenHeight = None, mode: str = SEQUENTIAL
    ) -> Any:
        """The `/v1/contracts` answer at `height` (latest when omitted), proven likewise."""
        return await answer(
            request, lambda: builder().consortium_document("contracts", height, _mode(mode))
        )

    @route("/v1/proofs/chain", ChainOut)
    async def validator_chain(
        request: Request,
        height: int = Query(..., ge=1),
        after: int = Query(0, ge=0, description="the last change the client already trusts"),
        mode: str = SEQUENTIAL,
    ) -> Any:
        """The links (hex of the canonical `list[ValidatorLink]`) of the validator-set changes
        after change `after` that a light client needs to verify block `height`."""

        def links() -> dict[str, Any]:
            b = builder()
            b.check_height(height)
            chain = b.validator_chain(height, after=after, mode=_mode(mode))
            return {"height": height, "after": after, "links": encode(chain).hex()}

        return await answer(request, links)

    @route("/v1/proofs/state/{contract}/{key:path}", StateDocument)
    async def state_proof(
        request: Request,
        contract: str,
        key: str,
        height: ProvenHeight = None,
        mode: str = SEQUENTIAL,
    ) -> Any:
        """A state entry (or its absence) at `height`, as a self-contained proof document."""
        return await answer(
            request,
            lambda: builder().state_document([(_contract(contract), key)], height, _mode(mode)),
        )

    @router.post(
        "/v1/proofs/state",
        tags=["proofs"],
        openapi_extra=_STATE_BODY_DOC,
        **documented(StateDocument, 400, 404),
    )
    async def state_proofs(request: Request) -> Any:
        """Several state entries at one height, in one proof document."""
        body = await read_body(request.receive)

        def build() -> Any:  # the body parsed too in the worker thread, within the read
            req = parse_state_request(body)
            entries = [(r.contract, r.key) for r in req.reads]
            return builder().state_document(entries, req.height, _mode(req.mode))

        return await answer(request, build)

    @route("/v1/txs/{tx_hash}/proof", TxDocument, tag="transactions")
    async def tx_proof(request: Request, tx_hash: str, mode: str = SEQUENTIAL) -> Any:
        """A committed transaction and its receipt, with both Merkle paths, the certified
        header and the validator chain: a self-contained proof document."""
        return await answer(request, lambda: builder().tx_document(_hash(tx_hash), _mode(mode)))

    @route("/v1/proofs/absence/{tx_hash}", AbsenceDocument, 409)
    async def absence_proof(
        request: Request, tx_hash: str, height: ProvenHeight = None, mode: str = SEQUENTIAL
    ) -> Any:
        """Proof that a transaction was not committed up to `height` (409 if it was)."""
        return await answer(
            request, lambda: builder().absence_document(_hash(tx_hash), height, _mode(mode))
        )

    @route("/v1/proofs/history/{contract}/{key:path}", HistoryDocument)
    async def history_proof(
        request: Request,
        contract: str,
        key: str,
        height: ProvenHeight = None,
        limit: int = Query(
            DEFAULT_HISTORY_LIMIT,
            ge=1,
            le=MAX_HISTORY_LIMIT,
            description="at most this many versions",
        ),
    ) -> Any:
        """Every version of a state entry up to `height`, newest first, each proven in the
        block that wrote it, linked so that none can be left out."""
        return await answer(
            request, lambda: builder().history_document(_contract(contract), key, height, limit)
        )

    @router.get("/v1/blocks/{height}/events", tags=["blocks"], **documented(EventBatchOut, 404))
    def block_events_batch(
        height: int = Path(ge=0, le=MAX_HEIGHT),
        contract: str | None = None,
        name: str | None = None,
    ) -> Any:
        """One block's event batch, as the WebSocket `/v1/events/blocks` sends it."""
        batch = block_batch(service, height, contract, name) if height >= 1 else None
        if batch is None:
            return _error(404, f"block {height} not found")
        return JSONResponse(batch)  # encoded here, in the worker thread (`json_answer`)

    @router.websocket("/v1/events/blocks")
    async def block_events(
        ws: WebSocket,
        from_: int | None = Query(None, alias="from", ge=1, le=MAX_HEIGHT),
        to: int | None = Query(None, ge=1, le=MAX_HEIGHT),
        contract: str | None = None,
        name: str | None = None,
    ) -> None:
        """Per committed block, in height order from `from` (default: the next block) up to
        `to` (default: forever): {height, header, certificate, receipts, events}. The
        receipts (hex of their canonical bytes) hash to the header's receipts root, so a
        client can check that `events` are all of the block's (matching) events."""
        async with opened(ws, streams) as accepted:
            if not accepted:
                return
            start = from_ if from_ is not None else int(service.status().get("height", 0)) + 1

            async def pump() -> None:
                h = start
                while to is None or h <= to:
                    text = await reads.stream_work(block_batch_text, service, h, contract, name)
                    if text is None:
                        await anyio.sleep(POLL_S)
                        continue
                    await reads.stream_send(ws.send_text, text)
                    h += 1

            await send_until_disconnect(ws, pump)
            with contextlib.suppress(Exception):
                await ws.close(code=1000)

    return router
