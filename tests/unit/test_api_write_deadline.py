"""An answer the client does not read is not kept without end (`tianfu.api.server`): once
more of it waits in the send buffer than the transport's high-water mark, the client has
`write_timeout_s` to read it down, else the connection is aborted and the unsent bytes
dropped. Uvicorn waited for the client to read for good, and closing the connection waited
for the buffer to be sent, so each large answer asked for and never read stayed in the
node's process as long as the client kept its connection. A client that reads gets the
whole answer, however large."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tianfu.api.server import make_server
from tianfu.testing.threadserver import ServerThread

WAIT_S = 30.0
ANSWER = 32 * 1024 * 1024  # far past the socket buffers (a kernel send buffer: up to 4 MiB)


async def large_answer(scope: dict, receive: Any, send: Any) -> None:
    body = b"x" * ANSWER
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def serving(write_timeout_s: float) -> Iterator[ServerThread]:
    running = ServerThread(
        make_server(large_answer, "127.0.0.1", 0, write_timeout_s=write_timeout_s)
    )
    try:
        yield running.start(WAIT_S)
    finally:
        running.stop(WAIT_S)


def _count(running: ServerThread) -> Any:
    return running.server.config.http.connection_count  # type: ignore[union-attr]


def test_an_answer_left_unread_is_dropped_and_its_connection_closed() -> None:
    with serving(write_timeout_s=0.5) as running:
        count = _count(running)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        s.connect(("127.0.0.1", running.port))
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: node\r\n\r\n")
            deadline = time.monotonic() + WAIT_S
            while not count.open and not getattr(count, "unread", 0):  # accepted
                assert time.monotonic() < deadline, "the connection was not accepted"
                time.sleep(0.01)
            while count.open:  # nothing read meanwhile
                assert time.monotonic() < deadline, "the unread answer's connection stayed open"
                time.sleep(0.05)
            assert getattr(count, "unread", 0) == 1
            # What reaches the client is what the kernels held: the rest was dropped.
            received = 0
            s.settimeout(WAIT_S)
            with contextlib.suppress(ConnectionResetError):
                while chunk := s.recv(1 << 16):
                    received += len(chunk)
            assert received < ANSWER // 2, received
        finally:
            s.close()


@pytest.mark.parametrize("pace_s", [0.0, 0.02])
def test_a_client_that_reads_gets_the_whole_answer(pace_s: float) -> None:
    """Read at once, or a piece at a time (each piece within the deadline)."""
    with serving(write_timeout_s=5.0) as running:
        count = _count(running)
        with httpx.stream("GET", running.url + "/", timeout=WAIT_S) as answer:
            received = 0
            for chunk in answer.iter_bytes(256 * 1024):
                received += len(chunk)
                time.sleep(pace_s)
        assert answer.status_code == 200 and received == ANSWER
        assert getattr(count, "unread", 0) == 0
