"""Serving a WebSocket stream: send until the stream ends or the client goes away."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from fastapi import WebSocket, WebSocketDisconnect


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
