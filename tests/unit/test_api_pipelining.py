"""The node's HTTP server (`tianfu.api.server.DeadlineProtocol`) bounds HTTP/1.1 pipelining:
at most `MAX_PIPELINED` requests wait behind the one being answered. Uvicorn parsed every
pipelined request a read held and queued each (a request object and its scope), and read
again after every answer while requests still waited, so one connection sending small
requests without pause queued them as fast as it sent: 102,691 waiting and 269 MB of
resident memory after 8 s from one socket (a bare server; the event loop parsing, ~20
answered). Now a request begun behind 16 waiting ones ends the reading of its connection:
the ones waiting are answered in order and the connection is then closed (a client resends
what was not answered). A client pipelining a few requests is served as before."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_api_server import WAIT_S, Served, _read_until_closed

from tianfu.api import server
from tianfu.api.server import MAX_PIPELINED
from tianfu.testing.appchain import AppChain

STATUS = b"GET /v1/status HTTP/1.1\r\nhost: node\r\n\r\n"


@pytest.fixture
def waiting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of requests waiting on a connection, after each request head parsed."""
    seen: list[int] = []
    parsed = server.DeadlineProtocol.on_headers_complete

    def counting(self: server.DeadlineProtocol) -> None:
        parsed(self)
        seen.append(len(self.pipeline))

    monkeypatch.setattr(server.DeadlineProtocol, "on_headers_complete", counting)
    return seen


@pytest.fixture
def served(tmp_path: Path, waiting: list[int]) -> Iterator[Served]:
    chain = AppChain(tmp_path)
    with Served(chain) as s:
        yield s
    chain.close()


def test_a_flood_of_pipelined_requests_queues_at_most_the_bound(
    served: Served, waiting: list[int]
) -> None:
    flood = served.connect()
    try:
        flood.sendall(STATUS * 2000)  # 80 KB: one or a few reads
    except OSError:
        pass  # the server may close before it has read them all
    answers = _read_until_closed(flood)
    flood.close()
    answered = answers.count(b"HTTP/1.1 200 OK\r\n")
    assert max(waiting) <= MAX_PIPELINED, max(waiting)
    # At least the one in hand and those waiting were answered (more if the requests came
    # in several reads, the waiting ones answered in between), then the connection was
    # closed with the rest unread; every request parsed was answered.
    assert MAX_PIPELINED + 1 <= answered < 2000, answered
    assert len(waiting) == answered, (len(waiting), answered)
    with httpx.Client(base_url=served.url, timeout=WAIT_S) as client:
        assert client.get("/v1/status").status_code == 200


def test_a_few_pipelined_requests_are_answered_in_order_on_a_kept_connection(
    served: Served,
) -> None:
    s = served.connect()
    paths = [b"/v1/status", b"/v1/genesis", b"/v1/nothing", b"/v1/status"]
    s.sendall(b"".join(b"GET " + p + b" HTTP/1.1\r\nhost: node\r\n\r\n" for p in paths))
    expected = [b"200", b"200", b"404", b"200"]
    data = b""
    while data.count(b"HTTP/1.1 ") < len(paths) or not _complete(data, len(paths)):
        chunk = s.recv(65536)
        assert chunk, data[-300:]
        data += chunk
    statuses = [part[:3] for part in data.split(b"HTTP/1.1 ")[1:]]
    assert statuses == expected, statuses
    s.sendall(STATUS)  # the connection is kept
    more = b""
    while not _complete(more, 1):
        chunk = s.recv(65536)
        assert chunk, more
        more += chunk
    assert more.startswith(b"HTTP/1.1 200 OK\r\n")
    s.close()


def _complete(data: bytes, answers: int) -> bool:
    """Whether `data` holds `answers` whole responses (each with a content-length)."""
    at = 0
    for _ in range(answers):
        head_end = data.find(b"\r\n\r\n", at)
        if head_end < 0:
            return False
        head = data[at:head_end].lower()
        length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
        at = head_end + 4 + length
        if at > len(data):
            return False
    return True
