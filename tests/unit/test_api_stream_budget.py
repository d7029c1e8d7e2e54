"""The messages an event stream sends on the event loop are reads of the node's time budget
(`ReadBudget.stream_send`): each waits until the budget allows a read (a stream falls
behind, it is never refused) and spends the loop time its rendering and its send took —
the send until it first waits for the socket, so a client slow to take its messages spends
nothing while it waits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.api.readgate import READ_BURST_S, ReadBudget


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[KvChain]:
    kv = KvChain(tmp_path)
    yield kv
    kv.close()


def _wait_subscribers(chain: KvChain, n: int) -> None:
    deadline = time.monotonic() + 60
    while chain.subscriber_count < n:
        assert time.monotonic() < deadline, "the stream never subscribed"
        time.sleep(0.005)


@pytest.mark.timeout(120)
def test_an_event_streams_messages_wait_for_and_spend_the_time_budget(chain: KvChain) -> None:
    """Every `/v1/events` message was rendered and sent on the event loop outside the
    budget: 64 streams sent every event at once whatever the budget said (a flood of
    streams took heights to 0.67-0.82 of the quiet rate). A message now waits for the
    budget, and spends what it took."""
    app = create_app(chain.service)
    budget: ReadBudget = app.state.read_budget
    with TestClient(app) as api, api.websocket_connect("/v1/events?contract=kv") as ws:
        _wait_subscribers(chain, 1)
        budget.time.spend(READ_BURST_S + 0.75, budget.clock())  # 1.5 s until a read may run
        started = time.monotonic()
        chain.commit([chain.tx("put", "streamed", 1, contract="kv")])
        event = ws.receive_json()
        waited = time.monotonic() - started
        assert event["data"] == {"key": "streamed"}
        assert waited >= 1.4, waited
        # what the message took on the loop was spent: the level is below what time alone
        # refilled since the debt
        level = budget.time.level
        budget.time.level = 0.0
        budget.time.stamp = stamp = budget.clock()
        chain.commit([chain.tx("put", "spent", 1, contract="kv")])
        assert ws.receive_json()["data"] == {"key": "spent"}
        now = budget.clock()
        spent = budget.time.share * (now - stamp) - budget.time.refill(now)
        assert spent > 1e-7, (level, spent)


def test_a_send_spends_its_work_not_the_clients_slowness() -> None:
    """A send is charged until it first waits (the socket's buffer full: a slow client);
    the wait, however long, spends nothing, and a cancelled send still spends its work."""
    now = [0.0]
    budget = ReadBudget(share=0.5, clock=lambda: now[0])

    async def main() -> None:
        drained = anyio.Event()

        async def slow_client_send(text: str) -> None:
            now[0] += 0.25  # framing and writing: work on the loop
            await drained.wait()  # the client is slow to read
            now[0] += 0.001

        async with anyio.create_task_group() as tg:

            async def send() -> None:
                await budget.stream_send(slow_client_send, "x", took_s=0.05)

            tg.start_soon(send)
            await anyio.sleep(0.05)
            now[0] += 10.0  # the client takes its time
            drained.set()
        level = budget.time.refill(now[0])
        assert level == pytest.approx(READ_BURST_S - 0.3, abs=1e-6)  # 10 s of refill capped

        drained = anyio.Event()
        budget.time.level, budget.time.stamp = 1.0, now[0]
        with anyio.move_on_after(0.05):
            await budget.stream_send(slow_client_send, "x")
        # 1.0, refilled 0.125 over the send's 0.25 s of work, less those 0.25 s
        assert budget.time.refill(now[0]) == pytest.approx(0.875, abs=1e-6)

    anyio.run(main)


def test_streams_waiting_for_the_budget_do_not_all_start_at_once() -> None:
    """Streams waiting for the time budget all woke when it came back and all passed their
    turn before any had spent: with 64 streams each reading a large block in a worker
    thread, the budget fell 64 reads deep (every page refused for as long as it took to
    refill). At most `STREAM_THREADS` streams are now between their turn and their spend."""
    import threading

    from tianfu.api.readgate import STREAM_THREADS

    budget = ReadBudget(share=0.5)
    lowest = [budget.time.level]
    tooks: list[float] = []
    lock = threading.Lock()
    spend = budget.time.spend

    def spending(seconds: float, now: float) -> None:
        spend(seconds, now)
        lowest[0] = min(lowest[0], budget.time.level)

    budget.time.spend = spending  # type: ignore[method-assign]

    def read_block() -> None:
        start = time.monotonic()
        time.sleep(0.05)
        with lock:
            tooks.append(time.monotonic() - start)

    async def main() -> None:
        budget.time.level, budget.time.stamp = 0.001, budget.clock()  # just enough for one
        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(budget.stream_work, read_block)

    anyio.run(main)
    assert len(tooks) == 12
    # no more than STREAM_THREADS reads were charged at once past the level they found
    assert lowest[0] >= -STREAM_THREADS * max(tooks) - 0.01, (lowest[0], tooks)
