"""Serving a WebSocket stream: opened only within the node's stream limits, sent until the
stream ends or the client goes away."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio
from fastapi import WebSocket, WebSocketDisconnect
from starlette.status import WS_1013_TRY_AGAIN_LATER

from tianfu.api.errors import ApiError, error_response
from tianfu.api.limits import QueryGate, client_address


@contextlib.asynccontextmanager
async def opened(ws: WebSocket, gate: QueryGate) -> AsyncIterator[bool]:
    """Accept `ws` holding one of `gate`'s slots until the block ends (yields True), or
    refuse it (yields False): with a 429 `{"error": ...}` answer to its handshake, or — on a
    server without WebSocket denial responses — by closing it with code 1013 (try again
    later) before it is accepted."""
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(gate.slot(client_address(ws.scope)))
        except ApiError as exc:
            with contextlib.suppress(Exception):  # the client may be gone already
                if "websocket.http.response" in ws.scope.get("extensions", {}):
                    await ws.send_denial_response(error_response(429, exc.message, exc.headers))
                else:
                    await ws.close(code=WS_1013_TRY_AGAIN_LATER, reason=exc.message[:120])
            yield False
            return
        await ws.accept()
        yield True


async def send_until_disconnect(ws: WebSocket, pump: Callable[[], Awaitable[None]]) -> None:
    """Run `pump` (which sends on `ws`) until it returns or the client disconnects,
    whichever comes first; a client that went away while being sent to ends it quietly."""

    async def send() -> None:
        await pump()
        tg.cancel_scope.cancel()

    async def watch() -> None:
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass
        tg.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(send)
            tg.start_soon(watch)
    except* (WebSocketDisconnect, RuntimeError, OSError):
        pass  # the client went away while we were sending
