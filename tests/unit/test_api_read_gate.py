"""Unit tests: the reads a node serves are bounded (`tianfu.api.readgate`) — past the running,
waiting and per-client limits a read is refused at once with 429 and `Retry-After`, a
waiting read gets the slot a finished one leaves, and liveness, metrics, submissions and the
console's static files are not counted. Run against the real in-process chain (`AppChain`)
with one read held open by a service call that blocks until the test lets it go."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from tianfu.api.app import create_app
from tianfu.api.errors import ApiError
from tianfu.api.readgate import ReadBudget, ReadGate
from tianfu.node.http import node_app
from tianfu.testing.appchain import AppChain


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("readgate"))
    yield c
    c.close()


class HeldService:
    """`service`, whose `get_block` waits until `release` is set (a read that runs long)."""

    def __init__(self, service: Any) -> None:
        self._service = service
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    def get_block(self, height: int) -> Any:
        self.entered.release()
        assert self.release.wait(30)
        return self._service.get_block(height)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)


def _client(app: Any, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://node")


async def _wait_entered(held: HeldService, n: int = 1) -> None:
    for _ in range(n):
        with anyio.fail_after(20):
            while not held.entered.acquire(blocking=False):
                await anyio.sleep(0.01)


def test_a_read_past_the_running_and_waiting_limits_is_refused_at_once(chain: AppChain) -> None:
    held = HeldService(chain.service)
    app = create_app(held, reads=1, reads_waiting=0, reads_per_client=8)
    answers: dict[str, httpx.Response] = {}

    async def main() -> None:
        async with _client(app, "10.0.0.1") as a, _client(app, "10.0.0.2") as b:

            async def slow() -> None:
                answers["slow"] = await a.get("/v1/blocks/1")

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                await _wait_entered(held)
                answers["refused"] = await b.get("/v1/blocks")
                answers["status"] = await b.get("/v1/status")
                answers["metrics"] = await b.get("/metrics")
                answers["submit"] = await b.post("/v1/txs", content=b"\x00")
                held.release.set()

    anyio.run(main)
    assert answers["slow"].status_code == 200
    r = answers["refused"]
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"] == "1"
    assert "too many reads at once" in r.json()["error"]
    assert answers["status"].status_code == 200
    assert answers["metrics"].status_code == 200
    assert answers["submit"].status_code == 400  # decoded and refused, not counted as a read
    assert app.state.read_budget.running == 0 and not app.state.read_budget.by_client


def test_one_client_address_has_at_most_its_share(chain: AppChain) -> None:
    held = HeldService(chain.service)
    app = create_app(held, reads=4, reads_per_client=2)
    answers: list[httpx.Response] = []

    async def main() -> None:
        async with _client(app, "10.0.0.1") as a, _client(app, "10.0.0.2") as b:

            async def slow() -> None:
                answers.append(await a.get("/v1/blocks/1"))

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                tg.start_soon(slow)
                await _wait_entered(held, 2)
                third = await a.get("/v1/genesis")
                other = await b.get("/v1/genesis")
                held.release.set()
        answers.extend([third, other])

    anyio.run(main)
    slow1, slow2, third, other = answers
    assert slow1.status_code == slow2.status_code == 200
    assert third.status_code == 429 and "per client address" in third.json()["error"]
    assert other.status_code == 200


def test_a_waiting_read_gets_the_slot_a_finished_one_leaves(chain: AppChain) -> None:
    held = HeldService(chain.service)
    app = create_app(held, reads=1, reads_waiting=4, read_wait_s=20)
    answers: dict[str, httpx.Response] = {}

    async def main() -> None:
        async with _client(app, "10.0.0.1") as a, _client(app, "10.0.0.2") as b:

            async def slow() -> None:
                answers["slow"] = await a.get("/v1/blocks/1")

            async def waiting() -> None:
                answers["waiting"] = await b.get("/v1/genesis")

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                await _wait_entered(held)
                tg.start_soon(waiting)
                with anyio.fail_after(20):
                    while app.state.read_budget.waiting < 1:
                        await anyio.sleep(0.01)
                assert "waiting" not in answers
                held.release.set()

    anyio.run(main)
    assert answers["slow"].status_code == 200
    assert answers["waiting"].status_code == 200


def test_a_read_that_waits_too_long_is_refused(chain: AppChain) -> None:
    held = HeldService(chain.service)
    app = create_app(held, reads=1, reads_waiting=4, read_wait_s=0.2)
    answers: dict[str, httpx.Response] = {}

    async def main() -> None:
        async with _client(app, "10.0.0.1") as a, _client(app, "10.0.0.2") as b:

            async def slow() -> None:
                answers["slow"] = await a.get("/v1/blocks/1")

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                await _wait_entered(held)
                answers["late"] = await b.get("/v1/genesis")
                held.release.set()

    anyio.run(main)
    assert answers["late"].status_code == 429
    assert "within 0.2 s" in answers["late"].json()["error"]
    assert app.state.read_budget.waiting == 0 and app.state.read_budget.running == 0


def test_console_pages_are_reads_and_static_files_are_not(
    chain: AppChain, tmp_path_factory: pytest.TempPathFactory
) -> None:
    held = HeldService(chain.service)
    app = node_app(held, tmp_path_factory.mktemp("console-data"))
    budget = app.state.read_budget
    answers: dict[str, httpx.Response] = {}

    async def main() -> None:
        async with _client(app, "10.0.0.1") as a, _client(app, "10.0.0.2") as b:

            async def slow(i: int) -> None:
                answers[f"slow{i}"] = await a.get("/v1/blocks/1")

            async with anyio.create_task_group() as tg:
                for i in range(budget.total):
                    tg.start_soon(slow, i)
                await _wait_entered(held, budget.total)
                budget.max_wait_s = 0.05
                html = {"accept": "text/html", "accept-language": "en"}
                answers["page"] = await b.get("/orgs", headers=html)
                answers["static"] = await b.get("/console/static/css/console.css")
                held.release.set()

    anyio.run(main)
    assert answers["page"].status_code == 429
    assert answers["page"].headers["content-type"].startswith("text/html")
    assert answers["page"].headers["retry-after"] == "1"
    assert answers["static"].status_code == 200


def test_reads_take_at_most_their_share_of_the_time() -> None:
    """The time budget: once reads have taken more time than the share saved up, the next
    read waits for it, or is refused with the seconds it would wait; it refills with time;
    one read is charged at most `MAX_CHARGE_S`."""
    now = [0.0]
    budget = ReadBudget(total=4, share=0.5, clock=lambda: now[0])
    budget.max_wait_s = 0.0
    refusals: list[ApiError] = []

    async def main() -> None:
        reads = [await budget.acquire(who) for who in ("a", "c", "d")]
        now[0] = 3.0  # three reads of 3 s, each charged 1 s: the 2 s saved up and 1 s of debt
        for who, started in zip(("a", "c", "d"), reads, strict=True):
            budget.release(who, started)
        assert budget.time.level == -1.0
        with pytest.raises(ApiError) as refused:
            await budget.acquire("b")
        refusals.append(refused.value)
        now[0] = 5.0  # the budget is back to 0 s: a read may start
        started = await budget.acquire("b")
        now[0] = 5.5
        budget.release("b", started)
        with pytest.raises(ApiError) as refused:
            await budget.acquire("a")
        refusals.append(refused.value)
        now[0] = 7.0
        budget.release("a", await budget.acquire("a"))

    anyio.run(main)
    first, second = refusals
    assert first.status == 429 and first.headers == {"retry-after": "2"}, first.message
    assert "reads have used their share of the node's time" in first.message
    assert second.headers == {"retry-after": "1"}  # 0.5 s of debt at 0.5 s per second
    assert budget.running == 0 and budget.waiting == 0 and not budget.by_client


def test_a_slow_reader_holds_no_slot() -> None:
    """A read's slot is given back when its answer starts: a client that reads its answer
    slowly (here: an answer whose body waits) does not keep other reads out."""
    body_sent: anyio.Event | None = None  # made inside the event loop below
    budget = ReadBudget(total=1, waiting=0)
    answers: list[int] = []

    async def main() -> None:
        nonlocal body_sent
        body_sent = anyio.Event()
        started = anyio.Event()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            if scope["path"] == "/slow":
                started.set()
                assert body_sent is not None
                await body_sent.wait()  # the client is slow to take the body
            await send({"type": "http.response.body", "body": b"{}"})

        gate = ReadGate(app, api=None, budget=budget)  # refusals: plain JSON
        async with _client(gate, "10.0.0.1") as a, _client(gate, "10.0.0.2") as b:

            async def slow() -> None:
                answers.append((await a.get("/slow")).status_code)

            async with anyio.create_task_group() as tg:
                tg.start_soon(slow)
                with anyio.fail_after(20):
                    await started.wait()
                answers.append((await b.get("/other")).status_code)
                body_sent.set()

    anyio.run(main)
    assert sorted(answers) == [200, 200]
    assert budget.running == 0


def test_what_no_route_serves_takes_no_slot_and_no_time(
    chain: AppChain, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A HEAD of a GET route of the API or a POST of a console page (405), a GET of an
    unknown path or of a WebSocket route (404) is refused by the router before any work:
    with every slot held, no room to wait and the time budget spent, it is still answered at
    once with its 405 or 404 (not 429), and it spends nothing of the time budget. (A console
    page answers HEAD as a GET without a body: a read, which takes a slot.)"""
    held = HeldService(chain.service)
    app = node_app(held, tmp_path_factory.mktemp("unrouted-data"))
    budget = app.state.read_budget
    budget.waiting_max = 0
    budget.max_wait_s = 0.05
    unrouted = [
        ("HEAD", "/v1/blocks/1", 405),
        ("HEAD", "/v1/genesis", 405),
        ("POST", "/orgs", 405),  # a console page answers HEAD as GET (a read), not POST
        ("GET", "/v1/no-such-route", 404),
        ("GET", "/v1/events", 404),
    ]
    answers: dict[str, httpx.Response] = {}

    async def refused_at_once(client: httpx.AsyncClient, tag: str) -> None:
        for method, path, _status in unrouted:
            with anyio.fail_after(20):
                answers[f"{tag} {method} {path}"] = await client.request(method, path)

    async def main() -> None:
        async with _client(app, "10.0.0.1") as a, _client(app, "10.0.0.2") as b:

            async def slow() -> None:
                answers["slow"] = await a.get("/v1/blocks/1")

            async with anyio.create_task_group() as tg:
                for _ in range(budget.total):
                    tg.start_soon(slow)
                await _wait_entered(held, budget.total)
                await refused_at_once(a, "slots held, same client")
                await refused_at_once(b, "slots held, other client")
                answers["control"] = await b.get("/v1/genesis")
                held.release.set()
            budget.time.level = -100.0  # the time budget spent: a read would wait 200 s
            await refused_at_once(b, "time spent")
            answers["time control"] = await b.get("/v1/genesis")
            ticks = [0.0]

            def clock() -> float:  # every look at the clock is 10 ms later
                ticks[0] += 0.01
                return ticks[0]

            budget.clock = clock
            budget.time.stamp, budget.time.level = 0.0, budget.time.burst
            await refused_at_once(b, "full budget")

    anyio.run(main)
    for method, path, status in unrouted:
        for tag in ("slots held, same client", "slots held, other client", "time spent"):
            r = answers[f"{tag} {method} {path}"]
            assert r.status_code == status, (tag, method, path, r.status_code, r.text)
    assert answers["control"].status_code == 429  # a read a route serves is refused
    assert answers["time control"].status_code == 429
    assert budget.refused == 2
    assert budget.time.level == budget.time.burst  # nothing spent by the unrouted requests
    assert budget.running == 0 and budget.waiting == 0 and not budget.by_client
