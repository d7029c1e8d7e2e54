"""Unit tests: the read gate (`tianfu.api.readgate`) counts a read once its route is chosen
and its parameters are valid — a request whose parameters its route refuses (400: FastAPI's
validation, answered by the API's handler) takes no slot and spends no time budget, a
read's route is matched once, by the router, and the reads waiting for the time budget
pass it a few at a time when it refills (ADR 0008)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi.routing import APIRoute

from tianfu.api.readgate import ReadBudget
from tianfu.node.http import node_app
from tianfu.testing.appchain import AppChain


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("readgate-routes"))
    yield c
    c.close()


def _client(app: Any, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://node")


INVALID = [
    ("/v1/blocks/abc", "path.height"),
    ("/v1/blocks/-1", "path.height"),
    ("/v1/blocks/1/commit?x=1&height=1", None),  # valid: a control, refused with 429
    ("/v1/blocks?limit=-5", "query.limit"),
    ("/v1/blocks?from=x", "query.from"),
    ("/v1/state/notes/k?height=0", "query.height"),
    ("/v1/state/notes/k?prove=maybe", "query.prove"),
]


def test_a_request_its_route_refuses_as_invalid_takes_no_slot_and_no_time(
    chain: AppChain, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A read whose path or query parameters its route refuses is refused before any work:
    with the time budget spent and no room to wait, it is still answered at once with its
    400 naming the parameter (not 429), takes no slot and spends nothing; a valid read is
    refused (429)."""
    app = node_app(chain.service, tmp_path_factory.mktemp("invalid-data"))
    budget: ReadBudget = app.state.read_budget
    budget.waiting_max = 0
    budget.max_wait_s = 0.05
    answers: dict[str, httpx.Response] = {}

    async def main() -> None:
        async with _client(app, "10.0.0.1") as a:
            budget.time.level = -100.0  # the time budget spent: a read would wait 200 s
            budget.time.stamp = budget.clock()
            for path, _ in INVALID:
                with anyio.fail_after(20):
                    answers[path] = await a.get(path)

    anyio.run(main)
    for path, field in INVALID:
        r = answers[path]
        if field is None:
            assert r.status_code == 429, (path, r.text)
        else:
            assert r.status_code == 400, (path, r.status_code, r.text)
            assert field in r.json()["error"], r.text
    assert budget.refused == 1
    assert budget.time.level < -99.0  # only refilled: nothing spent
    assert budget.running == 0 and budget.waiting == 0 and not budget.by_client


def test_a_read_is_matched_to_its_route_once(
    chain: AppChain, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate finds a read's route where the router chose it: the routes are matched as
    often for a counted read as for the same request the budget does not count (the gate
    matched every route once more before the router did)."""
    app = node_app(chain.service, tmp_path_factory.mktemp("matched-data"))
    budget: ReadBudget = app.state.read_budget
    calls = [0]
    original = APIRoute.matches

    def counted(self: APIRoute, scope: Any) -> Any:
        calls[0] += 1
        return original(self, scope)

    monkeypatch.setattr(APIRoute, "matches", counted)
    paths = ["/v1/genesis", "/v1/blocks/1", "/v1/validators", "/v1/no-such-route"]
    matched: dict[str, list[int]] = {}

    async def main() -> None:
        async with _client(app, "10.0.0.1") as a:
            for exempt in (False, True):
                if exempt:
                    budget.exempt_prefix("/")  # the same requests, not counted
                for path in paths:
                    calls[0] = 0
                    r = await a.get(path)
                    assert r.status_code in (200, 404), r.text
                    matched.setdefault(path, []).append(calls[0])

    anyio.run(main)
    for path, (gated, ungated) in matched.items():
        assert ungated > 0, path
        assert gated == ungated, (path, gated, ungated)


def test_reads_waiting_for_the_time_budget_pass_it_a_few_at_a_time() -> None:
    """Reads of another gate's concurrency (`ReadBudget.timed`: queries, proof documents,
    governance views) waiting for the spent time budget all passed it the moment it came
    back, and all ran at once, spending it many reads deep (12 of 12 here; in a node the
    query gate's 4 slots bounded those that ran, and woke the others only to refuse them).
    Now at most `total` of them are between their turn and their spend: the others wait for
    the budget again."""
    budget = ReadBudget(total=2, waiting=32, max_wait_s=30.0, share=1.0)
    running = [0]
    most = [0]
    passed = [0]

    async def read(i: int) -> None:
        async with budget.timed(f"10.0.0.{i}"):
            running[0] += 1
            passed[0] += 1
            most[0] = max(most[0], running[0])
            try:
                await anyio.sleep(0.02)
                budget.time.spend(0.02, budget.clock())  # the read's work, made visible
            finally:
                running[0] -= 1

    async def main() -> None:
        budget.time.spend(budget.time.burst + 0.2, budget.clock())  # 0.2 s in debt
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for i in range(12):
                    tg.start_soon(read, i)

    anyio.run(main)
    assert passed[0] == 12
    assert most[0] <= budget.total, most[0]
    assert budget.waiting == 0 and not budget.by_client
