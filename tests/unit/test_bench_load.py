"""Unit tests: the timed load generator (closed and open loop against a tiny local HTTP
server), the `kv` bench contract, and `tianfu bench` usage errors."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from fastapi.testclient import TestClient
from test_api import make_tx
from tests.unit.kvchain import KvChain
from typer.testing import CliRunner

from tianfu.api.app import create_app
from tianfu.bench import loadgen
from tianfu.bench.loadgen import TxAnswer, batch_answers, batched, post_sessions, post_until
from tianfu.bench.runner import BenchConfig
from tianfu.cli.bench_cmds import bench_app
from tianfu.codec import encode
from tianfu.contracts.examples import example_source
from tianfu.testing.appchain import AppChain


async def _server(
    delay: float, keep_alive: float | None = None, in_flight: dict[str, int] | None = None
) -> tuple[asyncio.base_events.Server, int, list[bytes]]:
    """A server answering 200 after `delay`; it closes a connection idle for `keep_alive`.
    `in_flight` counts the requests received and not yet answered: "now" and "max"."""
    bodies: list[bytes] = []
    in_flight = {"now": 0, "max": 0} if in_flight is None else in_flight

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), keep_alive)
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                bodies.append(await reader.readexactly(length))
                in_flight["now"] += 1
                in_flight["max"] = max(in_flight["max"], in_flight["now"])
                await asyncio.sleep(delay)
                in_flight["now"] -= 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            asyncio.CancelledError,
            TimeoutError,
        ):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], bodies


def _drive(rate, concurrency, delay, seconds=0.6, keep_alive=None, in_flight=None):
    async def main():
        server, port, bodies = await _server(delay, keep_alive, in_flight)
        answers = []
        counter = iter(range(10**6))
        start = time.time() + 0.05
        stats = await post_until(
            [("127.0.0.1", port)],
            "/x",
            lambda: str(next(counter)).encode(),
            start + seconds,
            lambda t0, t1, st, body: answers.append((t0, t1, st, body)),
            concurrency=concurrency,
            rate=rate,
            start_at=start,
            grace=2.0,
        )
        server.close()
        return answers, bodies, stats, start

    return asyncio.run(main())


def test_closed_loop_keeps_concurrency_requests_in_flight():
    in_flight = {"now": 0, "max": 0}
    answers, bodies, stats, start = _drive(None, 4, 0.02, in_flight=in_flight)
    # The server held 4 requests at once, never more (counted: how many 20 ms answers fit
    # in 0.6 s depends on the machine's load); each connection sent again once answered.
    assert in_flight == {"now": 0, "max": 4}, in_flight
    # 4 connections × (0.6 s / 20 ms) ≈ 120 requests at most.
    assert 8 <= len(answers) <= 130
    assert len(bodies) == len(answers)
    assert all(st == 200 and body == b"ok" for _, _, st, body in answers)
    assert all(t1 - t0 >= 0.019 for t0, t1, _, _ in answers)
    assert min(t0 for t0, *_ in answers) >= start - 0.01
    assert stats.unfinished == 0 and stats.conn_errors == 0


def test_open_loop_sends_at_the_rate_and_times_from_the_schedule():
    answers, _, stats, start = _drive(100.0, 50, 0.01)
    assert len(answers) == 60  # exactly rate × duration, answered or not
    due = sorted(t0 for t0, *_ in answers)
    assert due[0] == start and abs(due[1] - due[0] - 0.01) < 1e-6
    assert stats.late == 0


def test_open_loop_counts_late_sends_when_no_request_slot_is_free():
    answers, _, stats, _ = _drive(100.0, 1, 0.05, 0.2)  # one slot of 50 ms: 20/s possible
    assert stats.late > 0
    # Latency is measured from the schedule, so queueing in the client shows up in it.
    assert max(t1 - t0 for t0, t1, *_ in answers) > 0.3


def test_open_loop_does_not_reuse_a_connection_the_server_may_be_closing(monkeypatch):
    # One request every 0.5 s; the server closes a connection idle for 0.2 s. A connection
    # idle past the client's reuse limit is closed by the client and a new one opened, so
    # no request is sent on a connection the server has closed (which answers nothing).
    monkeypatch.setattr(loadgen, "IDLE_REUSE_S", 0.1)
    answers, bodies, stats, _ = _drive(2.0, 4, 0.0, seconds=2.0, keep_alive=0.2)
    assert len(answers) == 4
    assert [st for _, _, st, _ in answers] == [200] * 4
    assert len(bodies) == 4 and stats.conn_errors == 0


def test_connection_failures_are_reported_as_status_zero():
    async def main():
        answers = []
        stats = await post_until(
            [("127.0.0.1", 1)],
            "/x",
            lambda: b"x",
            time.time() + 0.3,
            lambda t0, t1, st, body: answers.append(st),
            concurrency=2,
        )
        return answers, stats

    answers, stats = asyncio.run(main())
    assert answers and set(answers) == {0}
    assert stats.conn_errors == len(answers)


def test_kv_contract_puts_and_gets(tmp_path):
    chain = AppChain(tmp_path)
    try:
        chain.deploy("kv", example_source("kv"))
        alice = chain.identity("org1", "alice")
        assert chain.call(alice, "kv", "put", "a", 41).ok
        assert chain.call(alice, "kv", "put", "a", 42).ok
        assert chain.query("kv", "get", "a") == 42
        assert chain.query("kv", "get", "missing") is None
        bad = chain.call(alice, "kv", "put", "", 1)
        assert not bad.ok and "key" in bad.error
    finally:
        chain.close()


def test_bench_usage_errors_exit_2():
    runner = CliRunner()
    r = runner.invoke(bench_app, ["--contract", "nope", "--duration", "1"])
    assert r.exit_code == 2 and "contract" in r.output
    r = runner.invoke(bench_app, ["sweep", "--rates", "10", "--validators-sweep", "1,4"])
    assert r.exit_code == 2 and "not both" in r.output
    r = runner.invoke(bench_app, ["sweep", "--rates", "ten"])
    assert r.exit_code == 2
    r = runner.invoke(bench_app, ["--help"])
    assert r.exit_code == 0 and "--validators" in r.output and "sweep" in r.output


def test_batched_payloads_carry_exactly_n_transactions():
    stock = iter([b"a", b"bb", b"ccc", b"d", b"e"])
    payload = batched(lambda: next(stock, None), 2)
    assert msgspec.msgpack.decode(payload()) == [b"a", b"bb"]
    assert payload() == encode([b"ccc", b"d"])  # the canonical array the node expects
    assert payload() is None  # one left: no partial batch


def test_batch_answers_from_the_real_route(tmp_path):
    chain = KvChain(tmp_path / "a")
    api = TestClient(create_app(chain.service))
    good, bad = make_tx(chain, nonce=1), make_tx(chain, nonce=2, expiry=0)
    failing = make_tx(chain, method="fail", args=["no"], nonce=3)
    body = encode([encode(t) for t in (good, good, bad, failing)])
    first = chain.height + 1  # what a batch admits commits in one block
    r = api.post("/v1/txs/batch", content=body, params={"wait": "commit"})
    answers = batch_answers(r.status_code, r.content, 4)
    assert answers == [
        TxAnswer(200, True, first),
        TxAnswer(409, False, 0),
        TxAnswer(400, False, 0),
        TxAnswer(200, False, first),  # committed, failed receipt
    ]
    chain.close()
    pending = KvChain(tmp_path / "b", auto_commit=False)
    r = TestClient(create_app(pending.service)).post(
        "/v1/txs/batch", content=encode([encode(make_tx(pending))])
    )
    assert batch_answers(r.status_code, r.content, 1) == [TxAnswer(202, False, 0)]
    pending.close()
    assert batch_answers(0, b"", 3) == [TxAnswer(0, False, 0)] * 3  # connection failed
    assert batch_answers(413, b'{"error": "x"}', 2) == [TxAnswer(413, False, 0)] * 2
    assert batch_answers(200, b"junk", 2) == [TxAnswer(502, False, 0)] * 2
    assert batch_answers(200, r.content, 2) == [TxAnswer(502, False, 0)] * 2  # wrong count


def test_closed_loop_batches_over_http_to_a_served_app(tmp_path):
    """post_until + batched against the real application served by uvicorn on loopback:
    every transaction committed and answered per transaction."""
    import uvicorn

    chain = KvChain(tmp_path)
    base = chain.height
    kp_nonce = iter(range(1, 10**6))

    def next_tx():
        return encode(make_tx(chain, nonce=next(kp_nonce)))

    async def main():
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(chain.service),
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="off",
            )
        )
        task = asyncio.ensure_future(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        answers: list[TxAnswer] = []
        start = time.time() + 0.05
        stats = await post_until(
            [("127.0.0.1", port)],
            "/v1/txs/batch?wait=commit&timeout=5",
            batched(next_tx, 5),
            start + 0.5,
            lambda t0, t1, st, body: answers.extend(batch_answers(st, body, 5)),
            concurrency=2,
            start_at=start,
            grace=5.0,
        )
        server.should_exit = True
        await task
        return answers, stats

    answers, stats = asyncio.run(main())
    assert answers and len(answers) % 5 == 0
    assert all(a.status == 200 and a.ok for a in answers)
    assert stats.conn_errors == 0 and stats.unfinished == 0
    store = chain.service.ledger.store
    blocks = [store.load_block(h) for h in range(base + 1, chain.height + 1)]
    chain.close()
    assert max(len(b.txs) for b in blocks) == 5  # one block per request of 5
    assert sum(len(b.txs) for b in blocks) == len(answers)


def test_bench_batch_option():
    runner = CliRunner()
    r = runner.invoke(bench_app, ["--batch", "0", "--duration", "1"])
    assert r.exit_code == 2
    r = runner.invoke(bench_app, ["--batch", "1001", "--duration", "1"])
    assert r.exit_code == 2
    assert "--batch" in runner.invoke(bench_app, ["--help"]).output
    assert "--batch" in runner.invoke(bench_app, ["sweep", "--help"]).output
    assert BenchConfig().connections() == 512 and BenchConfig().batch == 1
    assert BenchConfig(batch=50).connections() == 48
    assert BenchConfig(batch=1000, validators=1).connections() == 4  # 2 clients × 1 node × 2 each
    assert BenchConfig(batch=10, rate=1000.0).connections() == 200  # 2 s of requests
    with pytest.raises(ValueError):
        BenchConfig(batch=0).validate()


def test_sessions_send_each_request_after_the_answer_to_the_one_before():
    class Steps:
        """Three requests, each naming the session and the answers it has seen."""

        made = 0

        def __init__(self) -> None:
            Steps.made += 1
            self.name, self.seen = Steps.made, 0

        def next(self) -> bytes | None:
            return None if self.seen == 3 else f"{self.name}:{self.seen}".encode()

        def answered(self, status: int, body: bytes) -> None:
            assert status == 200 and body == b"ok"
            self.seen += 1

    async def main():
        server, port, bodies = await _server(0.01)
        answers = []
        stats = await post_sessions(
            [("127.0.0.1", port)],
            "/x",
            Steps,
            time.time() + 0.5,
            lambda t0, t1, st, body: answers.append(st),
            concurrency=3,
            grace=2.0,
        )
        server.close()
        return bodies, answers, stats

    bodies, answers, stats = asyncio.run(main())
    assert len(bodies) == len(answers) >= 9 and stats.conn_errors == 0
    steps: dict[str, list[int]] = {}
    for b in bodies:
        name, step = b.decode().split(":")
        steps.setdefault(name, []).append(int(step))
    # Every session's requests came in order, one after another, and finished sessions
    # made room for new ones on the same connections.
    assert all(s == list(range(len(s))) and len(s) <= 3 for s in steps.values())
    assert sum(len(s) == 3 for s in steps.values()) >= 3 and len(steps) > 3
