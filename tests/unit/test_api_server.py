"""The node's HTTP server (`tianfu.api.server.make_server`) over real sockets: half-sent
requests (slowloris) are answered 408 and closed at their deadline while every other
client is served; an oversized body is refused without being read; a request head over
16 KiB is refused 431, whether it comes at once, as many headers or one header trickled;
WebSocket and keep-alive connections are not cut by the read deadlines."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tianfu.api.app import create_app
from tianfu.api.limits import DEFAULT_STREAMS_PER_CLIENT
from tianfu.api.server import MAX_HEAD_BYTES, make_server
from tianfu.codec import encode
from tianfu.testing.appchain import AppChain
from tianfu.testing.threadserver import ServerThread

HEAD_S = 1.0
BODY_S = 1.0
WAIT_S = 60.0  # deadline for anything the test waits for (generous: busy machines)


class Served:
    def __init__(self, chain: AppChain, max_connections: int | None = None) -> None:
        self.chain = chain
        self.server = make_server(
            create_app(chain.service),
            "127.0.0.1",
            0,  # unused: the server listens on ServerThread's socket
            head_timeout_s=HEAD_S,
            body_timeout_s=BODY_S,
            max_connections=max_connections,
        )
        self.running = ServerThread(self.server)
        self.port = self.running.port
        self.url = self.running.url

    def __enter__(self) -> Served:
        self.running.start(WAIT_S)
        return self

    def __exit__(self, *exc: object) -> None:
        self.running.stop(WAIT_S)

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT_S)
        return s


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    chain = AppChain(tmp_path)
    with Served(chain) as s:
        yield s
    chain.close()


def test_the_served_port_is_held_before_the_server_starts(tmp_path: Path) -> None:
    """The port was chosen with bind(0) and released, and the server bound it later: another
    process could take it in between (the server's thread then ended and the test waited
    60 s for it). Now nothing else can bind it from the moment it is known."""
    chain = AppChain(tmp_path)
    served = Served(chain)
    try:
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", served.port))
        with served, httpx.Client(base_url=served.url, timeout=WAIT_S) as client:
            assert client.get("/v1/status").status_code == 200
    finally:
        chain.close()


def _read_until_closed(s: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or WAIT_S passes)."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_half_sent_requests_are_closed_and_others_are_served(served: Served) -> None:
    half_heads, half_bodies, silent = [], [], []
    for i in range(200):
        s = served.connect()
        if i % 3 == 0:
            s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            half_heads.append(s)
        elif i % 3 == 1:
            s.sendall(
                b"POST /v1/query HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                b'content-length: 1000\r\n\r\n{"contract": '
            )
            half_bodies.append(s)
        else:
            silent.append(s)  # connected, never sends a byte
    # Everybody else is served meanwhile (and by the same server loop).
    with httpx.Client(base_url=served.url, timeout=WAIT_S) as client:
        for _ in range(20):
            assert client.get("/v1/status").status_code == 200
        raw = encode(served.chain.sign(served.chain.admin("org1"), "governance", "list_orgs"))
        r = client.post(
            "/v1/txs",
            content=raw,
            params={"wait": "commit"},
            headers={"content-type": "application/octet-stream"},
        )
        assert r.status_code == 200
    # ... and every half-sent request is answered 408 and closed; the silent ones closed.
    for s in half_heads:
        answer = _read_until_closed(s)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"request head not received" in answer
    for s in half_bodies:
        answer = _read_until_closed(s)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"request body not received" in answer
    for s in silent:
        assert _read_until_closed(s) == b""
    for s in half_heads + half_bodies + silent:
        s.close()


def test_a_trickled_head_does_not_extend_its_deadline(served: Served) -> None:
    s = served.connect()
    s.sendall(b"GET /v1/status HTTP/1.1\r\n")
    started = time.monotonic()
    s.settimeout(0.2)
    answer = b""
    while time.monotonic() - started < WAIT_S:  # a header byte every 0.2 s, for ever
        try:
            s.sendall(b"X")
            chunk = s.recv(65536)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    s.close()


def test_declared_oversized_body_is_refused_before_it_is_sent(served: Served) -> None:
    s = served.connect()
    s.sendall(
        b"POST /v1/query HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 400000000\r\n\r\n"
    )
    answer = _read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"exceeds the limit of" in answer
    s.close()


def test_chunked_oversized_body_is_cut_off_near_the_limit(served: Served) -> None:
    limit = served.chain.service.max_body_bytes
    s = served.connect()
    s.sendall(
        b"POST /v1/query HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    chunk = b" " * 65536
    framed = b"10000\r\n" + chunk + b"\r\n"
    sent = 0
    s.settimeout(WAIT_S)
    try:
        while sent < 400 * limit:  # would be 400 MiB: the server stops it long before
            s.sendall(framed)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    # The kernel buffers a few MiB in flight; the server reads no more than the limit.
    assert sent < 64 * limit
    answer = _read_until_closed(s) if sent < 400 * limit else b""
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 ")
    s.close()


def _status_request(extra_headers: bytes) -> bytes:
    return b"GET /v1/status HTTP/1.1\r\nHost: x\r\n" + extra_headers + b"connection: close\r\n\r\n"


@pytest.mark.parametrize(
    "headers",
    [
        b"x-big: " + b"a" * MAX_HEAD_BYTES + b"\r\n",  # one header
        b"".join(b"x-h%d: %s\r\n" % (i, b"b" * 100) for i in range(200)),  # many
    ],
    ids=["one-header", "many-headers"],
)
def test_an_oversized_head_sent_at_once_is_refused(served: Served, headers: bytes) -> None:
    s = served.connect()
    s.sendall(_status_request(headers))
    answer = _read_until_closed(s)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"request head exceeds" in answer, answer
    s.close()


def test_a_header_trickled_past_the_head_limit_is_refused_near_it(served: Served) -> None:
    s = served.connect()
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nx-slow: ")
    sent = 0
    answer = b""
    try:
        while sent < 400 * MAX_HEAD_BYTES:  # would be 6.4 MiB of one header value
            s.sendall(b"c" * 1024)
            sent += 1024
            time.sleep(0.001)  # one read per piece: the header grows inside the parser
    except (BrokenPipeError, ConnectionResetError):
        pass
    else:
        answer = _read_until_closed(s)
    assert sent < 200 * MAX_HEAD_BYTES  # the kernel buffers some in flight; the server stops
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer
    s.close()


def test_heads_under_the_limit_are_served_at_once_or_trickled(served: Served) -> None:
    headers = b"".join(b"x-h%d: %s\r\n" % (i, b"d" * 1000) for i in range(12))  # ~12 KiB
    request = _status_request(headers)
    s = served.connect()
    s.sendall(request)
    assert _read_until_closed(s).startswith(b"HTTP/1.1 200 ")
    s.close()
    s = served.connect()
    for i in range(0, len(request), 700):  # pieces that cut headers in two
        s.sendall(request[i : i + 700])
        time.sleep(0.001)
    assert _read_until_closed(s).startswith(b"HTTP/1.1 200 ")
    s.close()


def test_keep_alive_requests_on_one_connection_are_served(served: Served) -> None:
    with httpx.Client(base_url=served.url, timeout=WAIT_S) as client:
        for _ in range(5):
            assert client.get("/v1/status").status_code == 200
            time.sleep(HEAD_S / 4)  # idle between requests: the keep-alive timeout's business


def test_a_websocket_outlives_the_read_deadlines(served: Served) -> None:
    pytest.importorskip("websockets")
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{served.port}/v1/events", open_timeout=WAIT_S) as ws:
        deadline = time.monotonic() + WAIT_S
        while served.chain.service._subscribers == set():
            assert time.monotonic() < deadline, "never subscribed"
            time.sleep(0.01)
        time.sleep(2 * max(HEAD_S, BODY_S))  # past both deadlines of the upgrade request
        admin = served.chain.admin("org1")
        tx = served.chain.sign(admin, "governance", "propose_contract", "t", "x = 1")
        r = httpx.post(
            served.url + "/v1/txs",
            content=encode(tx),
            timeout=WAIT_S,
            headers={"content-type": "application/octet-stream"},
        )
        assert r.status_code in (200, 202)
        event = json.loads(ws.recv(timeout=WAIT_S))
        assert event["tx_hash"] == tx.hash.hex() and event["contract"] == "governance"


def test_a_forwarded_for_header_does_not_change_the_client_address() -> None:
    """The per-client limits key on the connection's address: a local process cannot name
    another one with X-Forwarded-For (uvicorn trusts it from 127.0.0.1 by default)."""

    async def echo_client(scope: dict, receive: object, send: Any) -> None:
        body = json.dumps(list(scope["client"])).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    running = ServerThread(make_server(echo_client, "127.0.0.1", 0))
    try:
        running.start(WAIT_S)
        answer = httpx.get(
            running.url + "/",
            headers={"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Proto": "https"},
            timeout=WAIT_S,
        )
        assert answer.json()[0] == "127.0.0.1"
    finally:
        running.stop(WAIT_S)


def test_event_streams_past_the_limit_are_answered_429(served: Served) -> None:
    """On the real server a WebSocket handshake past the per-client stream limit gets a plain
    HTTP 429 answer with `{"error": ...}`; a closed stream frees its slot."""
    pytest.importorskip("websockets")
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{served.port}/v1/events"
    with contextlib.ExitStack() as streams:
        for _ in range(DEFAULT_STREAMS_PER_CLIENT):
            streams.enter_context(connect(url, open_timeout=WAIT_S))
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=WAIT_S)
        answer = refused.value.response
        assert answer.status_code == 429 and answer.headers["retry-after"] == "1"
        assert "event streams open" in json.loads(answer.body)["error"]
    deadline = time.monotonic() + WAIT_S
    while True:  # the closed streams give their slots back
        try:
            with connect(url, open_timeout=WAIT_S):
                break
        except InvalidStatus:
            assert time.monotonic() < deadline, "stream slots never given back"
            time.sleep(0.05)


def test_connections_past_the_limit_are_answered_429_and_closed(tmp_path: Path) -> None:
    """A crowd of idle connections holds at most `max_connections` of the node's file
    descriptors: one more is answered 429 and closed at once; a closed one frees its place,
    and a WebSocket leaves the count when upgraded."""
    pytest.importorskip("websockets")
    from websockets.sync.client import connect

    chain = AppChain(tmp_path)
    with Served(chain, max_connections=3) as served:
        with connect(f"ws://127.0.0.1:{served.port}/v1/events", open_timeout=WAIT_S):
            idle = [served.connect() for _ in range(3)]
            extra = served.connect()
            answer = _read_until_closed(extra)
            assert answer.startswith(b"HTTP/1.1 429 ")
            assert b"too many connections open at once (at most 3)" in answer
            idle.pop().close()
            deadline = time.monotonic() + WAIT_S
            while True:  # the closed connection's place is given back
                try:
                    r = httpx.get(served.url + "/v1/status", timeout=WAIT_S)
                except httpx.TransportError:
                    r = None
                if r is not None and r.status_code == 200:
                    break
                assert time.monotonic() < deadline, "the connection's place never came back"
                time.sleep(0.05)
            for s in idle:
                s.close()
    chain.close()


def test_a_client_that_half_closes_still_gets_its_answers(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    """A client may close its sending side once its requests are sent (HTTP/1.1 allows it):
    the server closed the connection at that end of input, so the answers were lost, and
    the request in hand answered into the closed transport — which uvloop refuses, so every
    such request logged an error with its traceback. The requests sent whole are answered,
    in order, then the connection is closed; an unfinished one is dropped quietly."""
    whole = served.connect()
    whole.sendall(b"GET /v1/genesis HTTP/1.1\r\nhost: node\r\n\r\n" * 3)
    whole.shutdown(socket.SHUT_WR)
    answers = _read_until_closed(whole)
    assert answers.count(b"HTTP/1.1 200 OK\r\n") == 3, answers[:200]
    unfinished = served.connect()
    unfinished.sendall(
        b'POST /v1/query HTTP/1.1\r\nhost: node\r\ncontent-length: 100\r\n\r\n{"contract"'
    )
    unfinished.shutdown(socket.SHUT_WR)
    assert _read_until_closed(unfinished) == b""
    for s in (whole, unfinished):
        s.close()
    with httpx.Client(base_url=served.url, timeout=WAIT_S) as client:
        assert client.get("/v1/genesis").status_code == 200
    assert "Exception in ASGI application" not in caplog.text


def test_a_stream_client_cannot_send_large_messages(served: Served) -> None:
    """An event stream only sends; what its client sends is read and dropped. The server
    took client messages of up to 16 MiB (Uvicorn's default), so each of a client's open
    streams could make the node receive, unmask and hold 16 MiB at a time on its event
    loop. A message over `WS_MAX_MESSAGE` bytes now ends the stream (close code 1009),
    and its slot is given back."""
    pytest.importorskip("websockets")
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from tianfu.api.server import WS_MAX_MESSAGE

    url = f"ws://127.0.0.1:{served.port}/v1/events"
    with connect(url, open_timeout=WAIT_S, max_size=None) as ws:
        ws.send("x" * 1024)  # a small message is read and dropped
        ws.send("x" * (1 << 20))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert WS_MAX_MESSAGE < 1 << 20
    with contextlib.ExitStack() as streams:  # every slot of this address is free again
        for _ in range(DEFAULT_STREAMS_PER_CLIENT):
            deadline = time.monotonic() + WAIT_S
            while True:
                try:
                    streams.enter_context(connect(url, open_timeout=WAIT_S))
                    break
                except Exception:
                    assert time.monotonic() < deadline, "the stream's slot was never given back"
                    time.sleep(0.05)


def test_stream_messages_are_not_compressed_on_the_event_loop(served: Served) -> None:
    """Uvicorn accepted a client's permessage-deflate offer, so every message of every
    stream was compressed on the event loop (3-4x the work of sending a block's batch) and
    each connection held a compressor's state. The handshake now declines it."""
    pytest.importorskip("websockets")
    from websockets.sync.client import connect

    url = f"ws://127.0.0.1:{served.port}/v1/events"
    with connect(url, open_timeout=WAIT_S) as ws:  # offers permessage-deflate
        assert ws.response is not None
        assert "sec-websocket-extensions" not in ws.response.headers
        assert not ws.protocol.extensions
