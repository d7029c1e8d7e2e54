"""The node's HTTP protocol (`tianfu.api.server.DeadlineProtocol`) over a recording
transport: every answer leaves in one write (head and body together), whatever its shape —
a JSON answer, an answer without body bytes (HEAD, 204), a streamed answer, the server's
own 500, pipelined requests — and the bytes on the wire are those Uvicorn would send."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.server import ServerState

from tianfu.api.server import DeadlineProtocol

WAIT_S = 60.0


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers by path: /json, /empty (204), /stream (three chunks), /boom (raises)."""
    assert scope["type"] == "http"
    while (await receive()).get("more_body"):
        pass
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("the application failed")
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"a", b"b"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"c"})
        return
    body = b'{"ok":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"11")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _serve(*requests: bytes) -> RecordingTransport:
    """Feed `requests` (each one read) to a fresh connection; the transport once every
    request is answered."""

    async def run() -> RecordingTransport:
        config = uvicorn.Config(_app, log_level="critical", lifespan="off")
        state = ServerState()
        protocol = DeadlineProtocol(config=config, server_state=state, app_state={})
        transport = RecordingTransport()
        protocol.connection_made(transport)
        for data in requests:
            protocol.data_received(data)
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while state.tasks or protocol.pipeline:
            assert asyncio.get_running_loop().time() < deadline, "requests not answered"
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        return transport

    return asyncio.run(run())


def test_a_json_answer_is_one_write() -> None:
    t = _serve(b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(t.writes) == 1
    head, body = t.writes[0].split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"content-length: 11" in head
    assert body == b'{"ok":true}'


def test_an_answer_without_body_bytes_is_sent_at_its_end() -> None:
    for request in (
        b"HEAD /json HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n",
    ):
        t = _serve(request)
        assert len(t.writes) == 1 and t.writes[0].endswith(b"\r\n\r\n"), t.writes
        assert t.writes[0].startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 204 "))


def test_a_streamed_answer_joins_its_head_to_the_first_chunk_only() -> None:
    t = _serve(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(t.writes) == 3, t.writes
    assert t.writes[0].startswith(b"HTTP/1.1 200 ") and t.writes[0].endswith(b"\r\n1\r\na\r\n")
    assert t.writes[1:] == [b"1\r\nb\r\n", b"1\r\nc\r\n0\r\n\r\n"]


def test_the_servers_own_500_is_one_write_and_closes() -> None:
    t = _serve(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(t.writes) == 1 and t.writes[0].startswith(b"HTTP/1.1 500 ")
    assert t.writes[0].endswith(b"Internal Server Error") and t.closed


def test_pipelined_requests_are_answered_in_order_one_write_each() -> None:
    t = _serve(
        b"GET /json HTTP/1.1\r\nHost: x\r\n\r\nHEAD /json HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /json HTTP/1.1\r\nHost: x\r\ncontent-length: 3\r\n\r\nabc"
    )
    assert [w.split(b"\r\n", 1)[0] for w in t.writes] == [b"HTTP/1.1 200 OK"] * 3
    assert [w.endswith(b'{"ok":true}') for w in t.writes] == [True, False, True]


def test_expect_100_continue_is_written_before_the_answer() -> None:
    t = _serve(
        b"POST /json HTTP/1.1\r\nHost: x\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n",
        b"hi",
    )
    assert t.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(t.writes) == 2 and t.writes[1].endswith(b'{"ok":true}')
