"""Unit test: the API encodes a large answer where it is made (a worker thread), never on the
event loop, which a node's consensus shares with its API. Run against the real in-process
chain (`AppChain`: the real `NodeService`, executor and SQLite store)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tianfu.api.app import create_app
from tianfu.testing.appchain import AppChain

BIG = """
def big(ctx):
    for i in range(12):
        ctx.emit("e", i=i, v=list(range(2000)))
    return list(range(5000))


@view
def big_view(ctx):
    return list(range(5000))
"""
LARGE = 10_000  # bytes of JSON: more than this is a large answer here


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("loop"))
    c.deploy("big", BIG)
    yield c
    c.close()


def test_large_answers_are_encoded_off_the_event_loop(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A route's returned dict was walked by FastAPI (`jsonable_encoder`) and encoded on the
    event loop, which the node's consensus shares: a block's event batch of 48,000 values
    held the loop ~0.25 s per request. Every read answer is now encoded in the worker
    thread that made it."""
    import fastapi.routing
    from starlette.responses import JSONResponse

    receipt = chain.call(chain.admin("org1"), "big", "big")
    assert receipt.ok, receipt.error
    height = chain.ledger.head().height  # type: ignore[union-attr]
    tx_hash = chain.service.get_block(height).txs[0].hash.hex()  # type: ignore[union-attr]

    app: FastAPI = create_app(chain.service)

    @app.get("/test-loop-thread")
    async def loop_thread() -> dict[str, Any]:
        return {"thread": threading.get_ident()}

    walked: list[int] = []  # threads that ran FastAPI's jsonable_encoder
    encoded: list[tuple[int, int]] = []  # (thread, bytes) of every JSON answer
    encoder = fastapi.routing.jsonable_encoder
    render = JSONResponse.render

    def jsonable_encoder(obj: Any, *args: Any, **kwargs: Any) -> Any:
        walked.append(threading.get_ident())
        return encoder(obj, *args, **kwargs)

    def rendered(self: JSONResponse, content: Any) -> bytes:
        out = render(self, content)
        encoded.append((threading.get_ident(), len(out)))
        return out

    monkeypatch.setattr(fastapi.routing, "jsonable_encoder", jsonable_encoder)
    monkeypatch.setattr(JSONResponse, "render", rendered)
    with TestClient(app) as api:
        loop = api.get("/test-loop-thread").json()["thread"]
        walked.clear()
        encoded.clear()
        answers = [
            api.get(f"/v1/blocks/{height}/events"),
            api.get(f"/v1/txs/{tx_hash}"),
            api.post("/v1/query", json={"contract": "big", "method": "big_view", "args": []}),
            api.get("/v1/state/governance/contract/big"),
            api.get("/v1/blocks?limit=100"),
            api.get(f"/v1/blocks/{height}"),
            api.get("/v1/genesis"),
            api.get("/v1/contracts"),
        ]
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    assert len(answers[0].json()["events"]) == 12
    assert answers[2].json()["result"] == list(range(5000))
    big = [thread for thread, size in encoded if size > LARGE]
    assert len(big) >= 3
    assert loop not in big, "a large answer was encoded on the event loop"
    assert loop not in walked, "FastAPI walked an answer on the event loop"


def test_block_event_streams_are_encoded_off_the_event_loop(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/v1/events/blocks` sent each block's batch with `send_json`, which encodes it on the
    event loop, once per open stream (64 streams: 64 encodings of every block there). The
    batch is now encoded in the worker thread that reads it."""
    import json

    receipt = chain.call(chain.admin("org1"), "big", "big")
    assert receipt.ok, receipt.error
    height = chain.ledger.head().height  # type: ignore[union-attr]
    app: FastAPI = create_app(chain.service)

    @app.get("/test-loop-thread")
    async def loop_thread() -> dict[str, Any]:
        return {"thread": threading.get_ident()}

    encoded: list[tuple[int, int]] = []
    dumps = json.dumps

    def counted(obj: Any, *args: Any, **kwargs: Any) -> str:
        out = dumps(obj, *args, **kwargs)
        encoded.append((threading.get_ident(), len(out)))
        return out

    monkeypatch.setattr(json, "dumps", counted)
    with TestClient(app) as api:
        loop = api.get("/test-loop-thread").json()["thread"]
        encoded.clear()
        with api.websocket_connect(f"/v1/events/blocks?from={height}&to={height}") as ws:
            batch = ws.receive_json()
    assert batch["height"] == height and len(batch["events"]) == 12
    big = [thread for thread, size in encoded if size > LARGE]
    assert big, encoded
    assert loop not in big, "a block's event batch was encoded on the event loop"


def test_large_submissions_are_decoded_off_the_event_loop(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`POST /v1/txs` and `/v1/txs/batch` decoded the body on the event loop: a crafted
    1 MiB transaction (many small values, map keys to scan) held it ~0.5 s per request. A
    body over `DECODE_ON_LOOP_MAX` is now decoded in a worker thread; a usual one in place."""
    import tianfu.api.submit as submit
    from tianfu.codec import encode

    decoded: list[tuple[int, int]] = []  # (thread, bytes) of every decoded body
    decode_tx, decode_batch = submit.decode_tx, submit.decode_batch

    def tx_counted(data: bytes, **kwargs: Any) -> Any:
        decoded.append((threading.get_ident(), len(data)))
        return decode_tx(data, **kwargs)

    def batch_counted(body: bytes, *args: Any) -> Any:
        decoded.append((threading.get_ident(), len(body)))
        return decode_batch(body, *args)

    monkeypatch.setattr(submit, "decode_tx", tx_counted)
    monkeypatch.setattr(submit, "decode_batch", batch_counted)
    admin = chain.admin("org1")
    small = encode(chain.sign(admin, "big", "big"))
    large = encode(chain.sign(admin, "big", "big", list(range(10_000))))
    most = getattr(submit, "DECODE_ON_LOOP_MAX", 16 << 10)
    assert len(small) < most < len(large)
    app: FastAPI = create_app(chain.service)

    @app.get("/test-loop-thread")
    async def loop_thread() -> dict[str, Any]:
        return {"thread": threading.get_ident()}

    raw = {"content-type": "application/octet-stream"}
    with TestClient(app) as api:
        loop = api.get("/test-loop-thread").json()["thread"]
        answers = [
            api.post("/v1/txs", content=large, headers=raw),
            api.post("/v1/txs", json={"tx": large.hex()}),
            api.post("/v1/txs/batch", json={"txs": [large.hex()]}),
            api.post("/v1/txs", content=small, headers=raw),
        ]
    assert [a.status_code for a in answers] == [202, 409, 200, 202], [a.text for a in answers]
    on_loop = [size for thread, size in decoded if thread == loop]
    assert decoded and all(size <= most for size in on_loop), decoded
    assert len(small) in on_loop  # a usual transaction is decoded in place


def test_large_events_are_encoded_off_the_event_loop_for_each_stream(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`/v1/events` rendered and encoded every event on the event loop, once per open
    stream; an event's fields may hold 64 KiB of small values. One over `EVENT_ON_LOOP_MAX`
    bytes is now rendered and encoded in a worker thread."""
    import json
    import time

    app: FastAPI = create_app(chain.service)

    @app.get("/test-loop-thread")
    async def loop_thread() -> dict[str, Any]:
        return {"thread": threading.get_ident()}

    encoded: list[tuple[int, int]] = []
    dumps = json.dumps

    def counted(obj: Any, *args: Any, **kwargs: Any) -> str:
        out = dumps(obj, *args, **kwargs)
        encoded.append((threading.get_ident(), len(out)))
        return out

    monkeypatch.setattr(json, "dumps", counted)
    subscribers = chain.service._subscribers  # type: ignore[attr-defined]
    with TestClient(app) as api:
        loop = api.get("/test-loop-thread").json()["thread"]
        encoded.clear()
        with api.websocket_connect("/v1/events?contract=big") as ws:
            deadline = time.monotonic() + 60
            while not subscribers:
                assert time.monotonic() < deadline, "the stream never subscribed"
                time.sleep(0.005)
            receipt = chain.call(chain.admin("org1"), "big", "big")
            assert receipt.ok, receipt.error
            events = [ws.receive_json() for _ in range(12)]
    assert [e["data"]["i"] for e in events] == list(range(12))
    big = [thread for thread, size in encoded if size > 4096]
    assert len(big) >= 12, encoded
    assert loop not in big, "an event was encoded on the event loop"


def test_large_submissions_are_decoded_a_few_at_a_time(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large submission was decoded in one of anyio's forty worker threads, however many
    arrived at once: a flood of crafted 1 MiB bodies had up to forty decodes (~0.5 s of CPU
    each) running beside the node's consensus. At most `DECODE_THREADS` run at once now;
    the others wait their turn and are answered as usual."""
    import anyio
    import httpx

    import tianfu.api.submit as submit
    from tianfu.codec import encode

    lock = threading.Lock()
    running, most = 0, 0
    decode_tx = submit.decode_tx

    def tx_counted(data: bytes, **kwargs: Any) -> Any:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.2)  # a decode that takes CPU time, so that decodes overlap
            return decode_tx(data, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(submit, "decode_tx", tx_counted)
    admin = chain.admin("org1")
    bodies = [encode(chain.sign(admin, "big", "big", list(range(10_000 + i)))) for i in range(8)]
    app: FastAPI = create_app(chain.service)
    statuses: list[int] = []

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:

            async def send(body: bytes) -> None:
                headers = {"content-type": "application/octet-stream"}
                r = await client.post("/v1/txs", content=body, headers=headers)
                statuses.append(r.status_code)

            async with anyio.create_task_group() as tg:
                for body in bodies:
                    tg.start_soon(send, body)

    anyio.run(main)
    assert statuses == [202] * len(bodies)
    assert most <= getattr(submit, "DECODE_THREADS", 2), most


def test_large_events_are_encoded_a_few_at_a_time_for_all_streams(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every open `/v1/events` stream rendered a large event in a worker thread of its own:
    64 streams had up to 64 renderings of the same event running beside the node's
    consensus. The streams' worker threads are now shared: at most `STREAM_THREADS` run at
    once, and every stream still gets every event."""
    import contextlib

    import tianfu.api.reads as reads

    lock = threading.Lock()
    running, most = 0, 0
    event_text = reads.event_text

    def counted(ev: Any) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)  # a rendering that takes CPU time, so that renderings overlap
            return event_text(ev)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(reads, "event_text", counted)
    app: FastAPI = create_app(chain.service)
    subscribers = chain.service._subscribers  # type: ignore[attr-defined]
    streams = 6
    with TestClient(app) as api, contextlib.ExitStack() as opened:
        before = len(subscribers)
        sockets = [
            opened.enter_context(api.websocket_connect("/v1/events?contract=big"))
            for _ in range(streams)
        ]
        deadline = time.monotonic() + 60
        while len(subscribers) < before + streams:
            assert time.monotonic() < deadline, "the streams never subscribed"
            time.sleep(0.005)
        receipt = chain.call(chain.admin("org1"), "big", "big")
        assert receipt.ok, receipt.error
        got = [[ws.receive_json()["data"]["i"] for _ in range(12)] for ws in sockets]
    assert got == [list(range(12))] * streams
    assert most <= 2, most
