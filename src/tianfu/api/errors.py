"""Every error the API answers, as `{"error": "<message>"}` with a 4xx status (503 with
`Retry-After` when the node cannot read its state now, on every route; a 500 only for a
bug, logged): the typed exceptions the routes raise and the handlers that render them.

The handlers are installed on the application, so they answer for every route alike — the
submission routes included (`tianfu.api.submit`) — and for the shared middleware's refusals
(`tianfu.api.limits`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from tianfu.api.render import refusal
from tianfu.api.service import NotFound, QueryFailed, StateUnavailable, TxDuplicate, TxRejected
from tianfu.codec import CodecError
from tianfu.execution.errors import STATE_UNREADABLE, HostReadError, host_read_failure
from tianfu.store.errors import StoreError

log = logging.getLogger(__name__)
HOST_FAILURE_LOG_S = 60.0  # one WARNING per this many seconds for unreadable state
# The exception types a store or state read raises when the host fails it (which ones are
# the host's failure `host_read_failure` tells).
_HOST_FAILURES: tuple[type[Exception], ...] = (
    StoreError,
    HostReadError,
    sqlite3.Error,
    OSError,
    MemoryError,
)


class ApiError(Exception):
    """An error answered as `{"error": message}` with an HTTP status (and extra headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def validation_message(exc: RequestValidationError | ValidationError) -> str:
    """One line naming each invalid parameter and why, e.g. `path.height: Input should be ...`."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "request"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, exc.headers)

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        status, body = refusal(exc)
        # 503: the node could not check it now (its state unreadable); sent again later, the
        # same transaction is checked afresh (as a query's 503 says, `state_unavailable`).
        headers = {"Retry-After": "1"} if status == 503 else None
        return JSONResponse(body, status_code=status, headers=headers)

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return error_response(404, str(exc) or "not found")

    async def query_failed(_: Request, exc: Exception) -> JSONResponse:
        return error_response(400, f"query failed: {exc}")

    async def state_unavailable(_: Request, exc: Exception) -> JSONResponse:
        return error_response(503, str(exc), {"Retry-After": "1"})

    last_logged = [-HOST_FAILURE_LOG_S]

    async def host_failure(request: Request, exc: Exception) -> JSONResponse:
        """A read the host failed on any route (a block, a state entry, a proof, the
        status): 503 with Retry-After, as a query or a submission is answered; any other
        exception of these types is a bug (500, logged)."""
        if not host_read_failure(exc):
            return await internal(request, exc)
        now = time.monotonic()
        if now - last_logged[0] >= HOST_FAILURE_LOG_S:
            last_logged[0] = now
            log.warning("answering 503: the node cannot read its state now (%r)", exc)
        return error_response(503, STATE_UNREADABLE, {"Retry-After": "1"})

    async def codec_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(400, str(exc))

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(400, validation_message(exc))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(exc.status_code, str(exc.detail), exc.headers)

    async def disconnected(_: Request, exc: Exception) -> JSONResponse:
        # The client left before its body arrived: nobody reads this answer.
        return error_response(400, "client disconnected before the request body was received")

    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in API handler", exc_info=exc)
        return error_response(500, "internal error")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(TxDuplicate, refused)
    app.add_exception_handler(TxRejected, refused)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(QueryFailed, query_failed)
    app.add_exception_handler(StateUnavailable, state_unavailable)
    app.add_exception_handler(CodecError, codec_error)
    for kind in _HOST_FAILURES:
        app.add_exception_handler(kind, host_failure)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, disconnected)
    app.add_exception_handler(Exception, internal)
