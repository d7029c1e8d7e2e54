"""Private-data routes (`private_router`): hand content to this node, read it, wrap its key
for another organisation, and see what this node keeps (docs/adr/0023-private-data.md).

The three operations take a signed request (`tianfu.privdata.messages.AccessRequest`, its
canonical msgpack bytes as an `application/octet-stream` body) from an identity of this
node's organisation; every decision is the node's `PrivateService` reading the latest
committed state. A read answers the plaintext sealed to the request's one-time reply key.
Bytes in answers are hex. A node without private data answers 404 on every route.
"""

from __future__ import annotations

from typing import Any, Protocol

import anyio
from fastapi import APIRouter, Path, Request

from tianfu.api.errors import ApiError
from tianfu.api.limits import QueryGate, client_address, read_body
from tianfu.api.models import (
    PrivateKeysOut,
    PrivatePutOut,
    PrivateReadOut,
    PrivateRecordOut,
    PrivateStatusOut,
    PrivateWrapOut,
    documented,
)
from tianfu.api.readgate import ReadRoute, body_read
from tianfu.api.render import jsonable
from tianfu.api.service import ChainService
from tianfu.codec import CodecError, decode
from tianfu.privdata.access import PrivateDataError
from tianfu.privdata.messages import MAX_REQUEST_BYTES, AccessRequest

# The refusals of a signed request: malformed, unauthenticated, not allowed, unknown, gone,
# replayed, too large, busy.
_ERRORS = (400, 401, 403, 404, 409, 410, 413, 429)
CONTRACT = r"^[a-z][a-z0-9_]{0,63}$"
HASH = r"^[0-9a-f]{64}$"
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "canonical msgpack of a signed AccessRequest",
                }
            }
        },
    }
}


class PrivateService(Protocol):
    """What a node offers for private data (`tianfu.privdata.node.PrivateDataNode`)."""

    def put(self, req: AccessRequest) -> dict[str, Any]: ...
    def read(self, req: AccessRequest) -> dict[str, Any]: ...
    def wrap(self, req: AccessRequest) -> dict[str, Any]: ...
    def keys(self) -> list[dict[str, Any]]: ...
    def status(self) -> dict[str, Any]: ...
    def describe(self, contract: str, content_hash: str) -> dict[str, Any]: ...


def _private(service: ChainService) -> PrivateService:
    private = getattr(service, "private", None)
    if private is None:
        raise ApiError(404, "this node keeps no private data")
    return private  # type: ignore[no-any-return]


def private_router(service: ChainService, gate: QueryGate) -> APIRouter:
    router = APIRouter(prefix="/v1/private", tags=["private data"], route_class=ReadRoute)

    async def operate(request: Request, name: str) -> dict[str, Any]:
        private = _private(service)
        body = await read_body(request.receive)
        try:
            req = decode(body, AccessRequest, max_size=MAX_REQUEST_BYTES)
        except CodecError as exc:
            raise ApiError(400, f"malformed private-data request: {exc}") from None
        # A read of the node's read budget once the body is in (waiting its turn), and one
        # of the contract queries running (refused at once past them): it runs a view.
        async with body_read(request.scope):
            with gate.slot(client_address(request.scope)):
                try:
                    result = await anyio.to_thread.run_sync(getattr(private, name), req)
                except PrivateDataError as exc:
                    raise ApiError(exc.status, exc.message) from None
        return jsonable(result)  # type: ignore[no-any-return]

    @router.post("/put", openapi_extra=_BODY_DOC, **documented(PrivatePutOut, *_ERRORS))
    async def put(request: Request) -> dict[str, Any]:
        """Hand this node the content of a committed private record (signed `put`)."""
        return await operate(request, "put")

    @router.post("/read", openapi_extra=_BODY_DOC, **documented(PrivateReadOut, *_ERRORS))
    async def read(request: Request) -> dict[str, Any]:
        """Read a private record (signed `read`): the plaintext sealed to the reply key."""
        return await operate(request, "read")

    @router.post("/wrap", openapi_extra=_BODY_DOC, **documented(PrivateWrapOut, *_ERRORS))
    async def wrap(request: Request) -> dict[str, Any]:
        """The record's content key wrapped for another organisation (signed `wrap`)."""
        return await operate(request, "wrap")

    @router.get("/keys", **documented(PrivateKeysOut, 404))
    def keys() -> dict[str, Any]:
        """This node's data public keys, and whether each is registered on chain."""
        return {"keys": jsonable(_private(service).keys())}

    @router.get("/status", **documented(PrivateStatusOut, 404))
    def status() -> dict[str, Any]:
        """What this node keeps (counts and bytes) and its private-data counters."""
        return jsonable(_private(service).status())  # type: ignore[no-any-return]

    @router.get("/records/{contract}/{content_hash}", **documented(PrivateRecordOut, 404))
    def describe(
        contract: str = Path(pattern=CONTRACT), content_hash: str = Path(pattern=HASH)
    ) -> dict[str, Any]:
        """A private record as this node sees it: the on-chain record (reader organisations,
        not their wrapped keys) and whether this node holds its content."""
        try:
            return jsonable(_private(service).describe(contract, content_hash))  # type: ignore[no-any-return]
        except PrivateDataError as exc:
            raise ApiError(exc.status, exc.message) from None

    return router
