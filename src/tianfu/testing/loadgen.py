"""A lean HTTP/1.1 load generator for benchmarks: keep-alive connections, pipelined by
concurrency, so that the client is not the bottleneck when measuring a node.

General-purpose HTTP clients (httpx) spend milliseconds of CPU per request under high
concurrency; a benchmark on a 2-core machine cannot afford that on the client side.
This speaks just enough HTTP/1.1 for `POST` with a body and a `Content-Length` reply.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, per request
    statuses: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    finished_at: list[float] = field(default_factory=list)  # perf_counter() per request
    elapsed: float = 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


async def post_all(
    host: str,
    port: int,
    path: str,
    payloads: list[bytes],
    concurrency: int,
    on_done: Callable[[int, bytes], None] | None = None,
    content_type: str = "application/octet-stream",
) -> LoadResult:
    """POST every payload over `concurrency` keep-alive connections (closed loop)."""
    result = LoadResult()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    prefix = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        "Content-Length: "
    ).encode()

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        try:
            while True:
                try:
                    body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                writer.write(prefix + str(len(body)).encode() + b"\r\n\r\n" + body)
                status, reply = await _read_response(reader)
                t1 = time.perf_counter()
                result.latencies.append(t1 - t0)
                result.finished_at.append(t1)
                result.statuses.append(status)
                result.bodies.append(reply)
                if on_done is not None:
                    on_done(status, reply)
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - start
    return result
