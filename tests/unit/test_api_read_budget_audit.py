"""Unit tests: what the read budget (`tianfu.api.readgate`) counts and for whom — the
private-data and photo routes' work once their body is in, one client however many of its
/56's IPv6 addresses it uses, and the fairness it gives a lone reader (ADR 0008)."""

from __future__ import annotations

import secrets
import threading
from typing import Any

import anyio
import httpx
import pytest

from tianfu.api.app import create_app
from tianfu.api.errors import ApiError
from tianfu.api.limits import client_address
from tianfu.api.readgate import MAX_CHARGE_S, READ_BURST_S, ReadBudget
from tianfu.codec import encode
from tianfu.crypto.keys import generate_keypair
from tianfu.privdata.messages import READ, sign_access


class FakePrivate:
    """A node's private data whose operations only count their calls."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, req: Any) -> dict[str, Any]:
        self.calls += 1
        return {"sealed": b"x"}


class FakeService:
    max_body_bytes = 1 << 20

    def __init__(self) -> None:
        self.private = FakePrivate()


def _client(app: Any, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://node")


def _read_request() -> bytes:
    req = sign_access(
        generate_keypair(),
        chain_id="test",
        action=READ,
        contract="notes",
        content_hash=bytes(32),
        time_ms=1,
        nonce=secrets.token_bytes(16),
        reply_key=bytes(32),
    )
    return encode(req)


def test_a_private_data_request_is_a_read_of_the_budget() -> None:
    """`POST /v1/private/read` runs a contract view and seals content in a worker thread,
    yet it took no part of the read budget: with every read slot taken it still ran at
    once. Now it waits its turn like a GET once its body is in, and past the wait it is
    refused with 429 and nothing is done."""
    service = FakeService()
    app = create_app(service, reads=1, reads_waiting=4, read_wait_s=0.1)
    budget: ReadBudget = app.state.read_budget
    body = _read_request()
    answers: list[httpx.Response] = []

    async def main() -> None:
        held = await budget.acquire("10.0.0.9")  # every slot taken by another client's read
        async with _client(app, "10.0.0.1") as a:
            headers = {"content-type": "application/octet-stream"}
            answers.append(await a.post("/v1/private/read", content=body, headers=headers))
            budget.release("10.0.0.9", held)
            answers.append(await a.post("/v1/private/read", content=body, headers=headers))

    anyio.run(main)
    busy, free = answers
    assert busy.status_code == 429, busy.text
    assert "too many reads at once" in busy.json()["error"]
    assert busy.headers["retry-after"] == "1"
    assert free.status_code == 200, free.text
    assert service.private.calls == 1  # the refused request did nothing
    assert budget.running == 0 and budget.waiting == 0 and not budget.by_client


def test_a_photo_upload_is_a_read_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """`PUT /v1/apps/photo_sharing/blobs/{sha256}` reads the registration (a contract view)
    and decodes the image in worker threads: now under the read budget once the body is in."""
    from fastapi import FastAPI

    from tianfu.api.errors import install_error_handlers
    from tianfu.api.readgate import ReadGate
    from tianfu.apps.photo_sharing import media, routes

    looked_up: list[str] = []

    def registration(service: Any, sha256: str) -> tuple[str, dict[str, Any]]:
        looked_up.append(sha256)
        return "image", {"id": "p1"}

    class Store:
        def has(self, sha256: str) -> bool:
            return True

    monkeypatch.setattr(routes, "registration", registration)
    app = FastAPI()
    app.state.read_budget = ReadBudget(total=1, waiting=4, max_wait_s=0.1)
    app.add_middleware(ReadGate, api=app, budget=app.state.read_budget)
    install_error_handlers(app)
    app.include_router(routes.blob_router(FakeService(), Store()))  # type: ignore[arg-type]
    data = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    url = f"{routes.PREFIX}/{media.sha256_hex(data)}"
    budget: ReadBudget = app.state.read_budget
    answers: list[httpx.Response] = []

    async def main() -> None:
        held = await budget.acquire("10.0.0.9")
        async with _client(app, "10.0.0.1") as a:
            answers.append(await a.put(url, content=data))
            budget.release("10.0.0.9", held)
            answers.append(await a.put(url, content=data))

    anyio.run(main)
    busy, free = answers
    assert busy.status_code == 429, busy.text
    assert "too many reads at once" in busy.json()["error"]
    assert free.status_code == 200, free.text
    assert len(looked_up) == 1
    assert budget.running == 0 and not budget.by_client


@pytest.mark.parametrize(
    ("one", "same", "other"),
    [
        ("2001:db8::1", "2001:db8::ffff:1", "2001:db8:0:100::1"),
        ("2001:db8::1", "2001:db8:0:ff::1", "2001:db8:1::1"),
        ("10.1.2.3", "::ffff:10.1.2.3", "10.1.2.4"),
    ],
)
def test_one_client_cannot_pose_as_many(one: str, same: str, other: str) -> None:
    """A client was its exact IP address: one IPv6 host, given a /64, could use a new
    address per request and take every read, query and stream slot meant to be shared
    (per-client limits never applied to it), and one client on a dual-stack socket counted
    twice. An IPv6 client is now its /56 (`IPV6_CLIENT_PREFIX`: every /64 of a site's /56
    is the same client), an IPv4-mapped address its IPv4 address."""
    key = client_address({"client": (one, 1)})
    assert client_address({"client": (same, 2)}) == key
    assert client_address({"client": (other, 1)}) != key
    budget = ReadBudget(total=8, per_client=2)
    statuses: list[int] = []

    async def main() -> None:
        started = [await budget.acquire(client_address({"client": (one, 1)}))]
        started.append(await budget.acquire(client_address({"client": (same, 1)})))
        try:
            await budget.acquire(client_address({"client": (same, 9)}))
            statuses.append(200)
        except ApiError as exc:
            statuses.append(exc.status)
        otherwise = await budget.acquire(client_address({"client": (other, 1)}))
        statuses.append(200)
        budget.release(client_address({"client": (other, 1)}), otherwise)
        for s in started:
            budget.release(key, s)

    anyio.run(main)
    assert statuses == [429, 200]
    assert not budget.by_client


def test_a_lone_reader_gets_at_least_the_share_and_is_never_refused() -> None:
    """The fairness ADR 0008 intends: the time budget is the node's, not a client's. A lone
    client reading non-stop, each read taking `d` seconds, is never refused (one read is
    charged at most `MAX_CHARGE_S`, below the longest wait) and, once its `READ_BURST_S`
    saved up are spent, reads `share` of the time: its reads take at most 1 / share (2x)
    as long as unbudgeted, and no less than the budget allows."""
    now = [0.0]
    budget = ReadBudget(total=2, share=0.5, clock=lambda: now[0])
    duration = 0.25
    done = 0
    waited = 0.0

    async def main() -> None:
        nonlocal done, waited
        while now[0] < 60.0:
            wait = budget.time.wait_s(now[0])
            waited += wait
            now[0] += wait  # the fake clock: the read's wait passes
            started = await budget.acquire("10.0.0.1")
            now[0] += duration
            budget.release("10.0.0.1", started)
            done += 1

    anyio.run(main)
    elapsed = now[0]
    # reading `share` of the time, plus the burst saved up at the start
    expected = (elapsed * 0.5 + READ_BURST_S) / duration
    assert expected - 2 <= done <= expected + 2, (done, expected)
    assert done * duration / elapsed >= 0.5  # at most 2x slower than reading non-stop
    assert MAX_CHARGE_S < budget.max_wait_s
    assert budget.refused == 0


def test_held_gives_the_slot_back_when_its_work_fails() -> None:
    budget = ReadBudget(total=1, waiting=0)

    async def main() -> None:
        with pytest.raises(RuntimeError):
            async with budget.held("10.0.0.1"):
                raise RuntimeError("the work failed")
        async with budget.held("10.0.0.1"):
            assert budget.running == 1

    anyio.run(main)
    assert budget.running == 0 and not budget.by_client


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tianfu.testing.appchain import AppChain

    c = AppChain(tmp_path_factory.mktemp("budget-audit"))
    yield c
    c.close()


GATED = [
    ("POST", "/v1/query", {"contract": "governance", "method": "list_orgs", "args": []}),
    ("GET", "/v1/orgs", None),
    ("GET", "/v1/contracts", None),
    ("GET", "/v1/proofs/orgs", None),
    ("GET", "/v1/proofs/state/governance/orgs", None),
    ("POST", "/v1/proofs/state", {"reads": [{"contract": "governance", "key": "orgs"}]}),
]


@pytest.mark.parametrize(("method", "path", "body"), GATED)
def test_the_query_gated_reads_spend_and_wait_for_the_time_budget(
    chain: Any, method: str, path: str, body: Any
) -> None:
    """Contract queries, proof documents and the governance views take the query gate's
    slots, not the read budget's, and took none of its time either: with the time spent
    (GETs waiting, then refused) they still ran at once, and what they took was not
    counted — a flood of them (48 connections) took a 4-node network to 0.74 of its quiet
    heights/min. They now wait for the time budget as any read (429 with Retry-After past
    the wait) and spend the time they take."""
    app = create_app(chain.service, read_wait_s=0.1)
    budget: ReadBudget = app.state.read_budget
    answers: list[httpx.Response] = []

    async def main() -> None:
        async with _client(app, "10.0.0.1") as a:
            budget.time.spend(READ_BURST_S + 3.0, budget.clock())  # 3 s of debt
            answers.append(await a.request(method, path, json=body))
            budget.time.level = 0.0
            budget.time.stamp = stamp = budget.clock()
            answers.append(await a.request(method, path, json=body))
            now = budget.clock()
            spent = 0.5 * (now - stamp) - budget.time.refill(now)  # refilled minus level
            assert spent > 1e-6  # the time the read took was spent

    anyio.run(main)
    refused, served = answers
    assert refused.status_code == 429, refused.text
    assert "share of the node's time" in refused.json()["error"]
    assert int(refused.headers["retry-after"]) >= 1
    assert served.status_code == 200, served.text
    assert budget.waiting == 0 and not budget.by_client


def test_a_block_event_stream_reads_at_the_time_budgets_pace(chain: Any) -> None:
    """`/v1/events/blocks?from=1` replays the chain block by block, each batch read and
    encoded in a worker thread: outside the time budget, so streams catching up from old
    heights read non-stop (2 threads busy, whatever the budget said). Each batch now waits
    for the time budget (without a deadline: the stream falls behind, it is not refused)
    and spends the time it took."""
    import time

    from fastapi.testclient import TestClient

    app = create_app(chain.service)
    budget: ReadBudget = app.state.read_budget
    with TestClient(app) as api:
        budget.time.spend(READ_BURST_S + 0.75, budget.clock())  # 1.5 s until a read may run
        started = time.monotonic()
        with api.websocket_connect("/v1/events/blocks?from=1&to=1") as ws:
            batch = ws.receive_json()
        waited = time.monotonic() - started
    assert batch["height"] == 1
    assert waited >= 1.4, waited
    assert budget.time.level < budget.time.burst  # what the batch took was spent


def test_a_photo_uploads_hash_is_work_of_the_budget_off_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An upload's SHA-256 (of up to the node's body limit, 1 MiB: milliseconds) was
    computed on the event loop before the budget was asked, twice when it did not match:
    an anonymous client sending mismatched bodies spent the loop's time outside every
    bound. It is now computed in a worker thread, once, as part of the upload's read."""

    from fastapi import FastAPI

    from tianfu.api.errors import install_error_handlers
    from tianfu.api.readgate import ReadGate
    from tianfu.apps.photo_sharing import media, routes

    hashed_on: list[str] = []
    real_sha = media.sha256_hex

    def sha(data: bytes) -> str:
        hashed_on.append(threading.current_thread().name)
        return real_sha(data)

    monkeypatch.setattr(media, "sha256_hex", sha)
    app = FastAPI()
    app.state.read_budget = ReadBudget(total=1, waiting=4, max_wait_s=0.1)
    app.add_middleware(ReadGate, api=app, budget=app.state.read_budget)
    install_error_handlers(app)
    app.include_router(routes.blob_router(FakeService(), object()))  # type: ignore[arg-type]
    data = b"\x89PNG\r\n\x1a\n" + b"0" * (1 << 20)
    url = f"{routes.PREFIX}/{'ab' * 32}"  # not the body's hash
    budget: ReadBudget = app.state.read_budget
    answers: list[httpx.Response] = []
    loop_thread: list[str] = []

    async def main() -> None:
        loop_thread.append(threading.current_thread().name)
        held = await budget.acquire("10.0.0.9")
        async with _client(app, "10.0.0.1") as a:
            answers.append(await a.put(url, content=data))
            budget.release("10.0.0.9", held)
            answers.append(await a.put(url, content=data))

    anyio.run(main)
    busy, mismatched = answers
    assert busy.status_code == 429, busy.text
    assert mismatched.status_code == 422, mismatched.text
    assert "SHA-256" in mismatched.json()["error"]
    assert len(hashed_on) == 1 and loop_thread[0] not in hashed_on, (hashed_on, loop_thread)
    assert budget.running == 0 and not budget.by_client


def _posts_spent_then_refilled(
    app: Any, path: str, spent: dict[str, Any], refilled: list[dict[str, Any]]
) -> tuple[list[str], list[httpx.Response]]:
    """The event loop's thread name, and the answers to one POST of `path` (httpx keyword
    arguments `spent`) while the time budget is far in debt, then to each of `refilled`
    once it is full again."""
    budget: ReadBudget = app.state.read_budget
    answers: list[httpx.Response] = []
    loop_thread: list[str] = []

    async def main() -> None:
        loop_thread.append(threading.current_thread().name)
        async with _client(app, "10.0.0.1") as a:
            budget.time.level = -100.0  # far more owed than a read may wait for
            answers.append(await a.post(path, **spent))
            budget.time.level, budget.time.stamp = budget.time.burst, budget.clock()
            for kwargs in refilled:
                answers.append(await a.post(path, **kwargs))

    anyio.run(main)
    return loop_thread, answers


def test_a_query_body_is_parsed_off_the_loop_within_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`POST /v1/query` parsed and checked its body on the event loop before any bound: a
    body of 1 MiB of small integers took 50-75 ms of the loop there (a few such requests a
    second from an anonymous client stall consensus). The body is now parsed in a worker
    thread, as part of the query's read (the query gate's slot, the time budget)."""

    from tianfu.api import reads

    checked_on: list[str] = []
    real_check = reads.check_value

    def check(value: Any) -> None:
        checked_on.append(threading.current_thread().name)
        real_check(value)

    monkeypatch.setattr(reads, "check_value", check)
    app = create_app(FakeService())  # type: ignore[arg-type]
    budget: ReadBudget = app.state.read_budget
    body = {"contract": "kv", "method": "get", "args": [list(range(1000)), {"x": 1.5}]}
    loop_thread, answers = _posts_spent_then_refilled(
        app, "/v1/query", {"json": body}, [{"json": body}]
    )
    busy, bad = answers
    assert busy.status_code == 429, busy.text
    assert bad.status_code == 400 and "bad argument" in bad.json()["error"], bad.text
    assert checked_on and loop_thread[0] not in checked_on, (checked_on, loop_thread)
    assert not budget.by_client and budget.waiting == 0


def test_a_state_proof_request_is_parsed_off_the_loop_within_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`POST /v1/proofs/state` had its body parsed by FastAPI on the event loop before any
    bound (`json.loads` of 1 MiB: 25-65 ms). It is now parsed in a worker thread as part of
    the document's read: refused at once when the budget is spent, a 400 naming what is
    wrong otherwise, as before."""

    from tianfu.api import proofs

    parsed_on: list[str] = []
    real_parse = proofs.parse_state_request

    def parse(body: bytes) -> Any:
        parsed_on.append(threading.current_thread().name)
        return real_parse(body)

    monkeypatch.setattr(proofs, "parse_state_request", parse)
    app = create_app(FakeService())  # type: ignore[arg-type]
    budget: ReadBudget = app.state.read_budget
    bad = {"reads": [{"contract": "Not A Name", "key": "k"}] * 3}
    loop_thread, answers = _posts_spent_then_refilled(
        app,
        "/v1/proofs/state",
        {"json": bad},
        [{"json": bad}, {"content": b"{not json"}, {"json": {"reads": []}}],
    )
    busy, invalid, not_json, empty = answers
    assert busy.status_code == 429, busy.text
    assert invalid.status_code == 400, invalid.text
    assert invalid.json()["error"].startswith("invalid request: reads.0.contract: ")
    assert not_json.status_code == 400 and "invalid request" in not_json.json()["error"]
    assert empty.status_code == 400 and "reads: " in empty.json()["error"], empty.text
    assert parsed_on and loop_thread[0] not in parsed_on, (parsed_on, loop_thread)
    assert not budget.by_client and budget.waiting == 0
