"""Unit tests: the photo blob route serves a console page's thumbnails to one client at once
(a cache, a gate of their own), still refuses a flood past its bounds, paces its disk reads
by the read budget's time, reads a larger blob under a slot of the read budget, and sends
every blob as immutable content-addressed bytes with `nosniff` (ADR 0026, "Serving blobs")."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI

from tianfu.api.errors import install_error_handlers
from tianfu.api.readgate import ReadBudget, ReadGate
from tianfu.apps.photo_sharing import routes, serving
from tianfu.apps.photo_sharing.blobs import BlobStore
from tianfu.web.data import PAGE_SIZE

DEADLINE_S = 60


def _blob(i: int, size: int = 3000) -> tuple[str, bytes]:
    """A JPEG-looking blob of `size` bytes, distinct per `i`."""
    seed = hashlib.sha256(i.to_bytes(8, "big")).digest()
    data = (b"\xff\xd8\xff" + seed * (size // 32 + 1))[:size]
    return hashlib.sha256(data).hexdigest(), data


def _node(tmp_path: Path, budget: ReadBudget | None = None) -> tuple[FastAPI, BlobStore]:
    """The blob routes behind the node's read gate (its default budget unless given)."""
    app = FastAPI()
    app.state.read_budget = budget or ReadBudget()
    app.add_middleware(ReadGate, api=app, budget=app.state.read_budget)
    install_error_handlers(app)
    store = BlobStore(tmp_path / "photos")
    app.include_router(routes.blob_router(object(), store))  # type: ignore[arg-type]
    return app, store


def _client(app: Any, host: str = "10.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 1234))
    return httpx.AsyncClient(transport=transport, base_url="http://node")


def _stored(store: BlobStore, count: int, first: int = 0) -> dict[str, bytes]:
    blobs = dict(_blob(i) for i in range(first, first + count))
    for sha, data in blobs.items():
        store.save(sha, data)
    return blobs


def _fetch_all(app: Any, shas: list[tuple[str, str]]) -> list[httpx.Response]:
    """GET every (client, sha256) at once; the answers in order."""
    answers: list[Any] = [None] * len(shas)

    async def main() -> None:
        clients = {host: _client(app, host) for host, _ in shas}

        async def get(i: int, host: str, sha: str) -> None:
            answers[i] = await clients[host].get(f"{routes.PREFIX}/{sha}")

        with anyio.fail_after(DEADLINE_S):
            async with anyio.create_task_group() as tg:
                for i, (host, sha) in enumerate(shas):
                    tg.start_soon(get, i, host, sha)
        for c in clients.values():
            await c.aclose()

    anyio.run(main)
    return answers


def test_a_pages_worth_of_thumbnails_fetched_at_once_by_one_client_all_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A /photos page shows up to PAGE_SIZE thumbnails; a browser asks for several at once.
    Every blob GET was a read of the budget (4 per client), so the fifth at once got 429
    and the page showed broken pictures. All of a page's thumbnails asked for at once by
    one client are now served, from the disk once and then from the cache."""
    app, store = _node(tmp_path)  # the node's default read budget
    blobs = _stored(store, PAGE_SIZE)
    loads: list[str] = []
    real_load = store.load

    def load(sha256: str, max_bytes: int | None = None) -> bytes | None:
        loads.append(sha256)
        return real_load(sha256) if max_bytes is None else real_load(sha256, max_bytes)

    monkeypatch.setattr(store, "load", load)
    for round_ in ("disk", "cache"):
        answers = _fetch_all(app, [("10.0.0.1", sha) for sha in blobs])
        statuses = [a.status_code for a in answers]
        assert statuses == [200] * PAGE_SIZE, (round_, sorted(statuses))
        assert [a.content for a in answers] == list(blobs.values())
    assert sorted(loads) == sorted(blobs)  # each read from the disk once
    budget: ReadBudget = app.state.read_budget
    assert budget.running == 0 and not budget.by_client and budget.refused == 0


def test_the_small_reads_allowance_covers_a_console_page() -> None:
    assert serving.SMALL_READS_PER_CLIENT > PAGE_SIZE
    assert serving.SMALL_READS >= 4 * serving.SMALL_READS_PER_CLIENT
    assert serving.CACHE_BYTES >= 2 * PAGE_SIZE * serving.SMALL_BLOB_BYTES


def _blocked_loads(
    monkeypatch: pytest.MonkeyPatch, store: BlobStore
) -> tuple[threading.Event, list[str]]:
    """Make the store's reads wait until the returned event is set (at most DEADLINE_S)."""
    release = threading.Event()
    started: list[str] = []
    real_load = store.load

    def load(sha256: str, max_bytes: int | None = None) -> bytes | None:
        started.append(sha256)
        release.wait(DEADLINE_S)
        return real_load(sha256) if max_bytes is None else real_load(sha256, max_bytes)

    monkeypatch.setattr(store, "load", load)
    return release, started


def _flood(
    app: Any, release: threading.Event, shas: list[tuple[str, str]], refused: int
) -> list[httpx.Response]:
    """GET every (client, sha256) at once while the disk reads wait; once `refused` answers
    are in (none of the reads has ended: they are the refusals), let the reads go on."""
    answers: list[Any] = [None] * len(shas)

    async def main() -> None:
        clients = {host: _client(app, host) for host, _ in shas}

        async def get(i: int, host: str, sha: str) -> None:
            answers[i] = await clients[host].get(f"{routes.PREFIX}/{sha}")

        async def watch() -> None:
            while sum(a is not None for a in answers) < refused:
                await anyio.sleep(0.01)
            release.set()

        with anyio.fail_after(DEADLINE_S):
            async with anyio.create_task_group() as tg:
                for i, (host, sha) in enumerate(shas):
                    tg.start_soon(get, i, host, sha)
                tg.start_soon(watch)
        for c in clients.values():
            await c.aclose()

    anyio.run(main)
    return answers


def test_a_flood_from_one_client_past_its_allowance_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = _node(tmp_path, ReadBudget(max_wait_s=DEADLINE_S))
    over = 6
    blobs = _stored(store, serving.SMALL_READS_PER_CLIENT + over)
    release, started = _blocked_loads(monkeypatch, store)
    answers = _flood(app, release, [("10.0.0.7", sha) for sha in blobs], over)
    statuses = [a.status_code for a in answers]
    assert statuses.count(429) == over and statuses.count(200) == len(blobs) - over, statuses
    for a in answers:
        if a.status_code == 429:
            assert "your address" in a.json()["error"] and a.headers["retry-after"] == "1"
    assert len(started) == len(blobs) - over  # a refused read never touched the disk


def test_a_flood_from_many_clients_past_the_nodes_allowance_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, store = _node(tmp_path, ReadBudget(max_wait_s=DEADLINE_S))
    per_client = serving.SMALL_READS_PER_CLIENT - 4  # under a client's own allowance
    clients = serving.SMALL_READS // per_client + 1
    blobs = list(_stored(store, clients * per_client))
    over = clients * per_client - serving.SMALL_READS
    release, _ = _blocked_loads(monkeypatch, store)
    shas = [(f"10.0.1.{i // per_client}", sha) for i, sha in enumerate(blobs)]
    answers = _flood(app, release, shas, over)
    statuses = [a.status_code for a in answers]
    assert statuses.count(429) == over and statuses.count(200) == serving.SMALL_READS
    for a in answers:
        if a.status_code == 429:
            assert "this node" in a.json()["error"]


def test_every_blob_answer_is_immutable_and_not_sniffed(tmp_path: Path) -> None:
    """The blob GET sent neither `X-Content-Type-Options: nosniff` nor caching headers:
    browsers asked again on every page, and could sniff a blob as another type."""
    app, store = _node(tmp_path)
    small_sha, small = _blob(1)
    large_sha, large = _blob(2, serving.SMALL_BLOB_BYTES + 1)
    store.save(small_sha, small)
    store.save(large_sha, large)
    missing = "ab" * 32
    answers: dict[str, httpx.Response] = {}

    async def main() -> None:
        async with _client(app) as c:
            for name, sha in (("small", small_sha), ("large", large_sha)):
                answers[name] = await c.get(f"{routes.PREFIX}/{sha}")
                answers[name + "-again"] = await c.get(
                    f"{routes.PREFIX}/{sha}", headers={"if-none-match": f'"{sha}"'}
                )
            answers["other-tag"] = await c.get(
                f"{routes.PREFIX}/{small_sha}", headers={"if-none-match": f'"{large_sha}"'}
            )
            answers["missing"] = await c.get(f"{routes.PREFIX}/{missing}")

    anyio.run(main)
    for name, sha, data in (("small", small_sha, small), ("large", large_sha, large)):
        got = answers[name]
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert got.headers["etag"] == f'"{sha}"'
        assert "sandbox" in got.headers["content-security-policy"]
        again = answers[name + "-again"]
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == f'"{sha}"'
    assert answers["other-tag"].status_code == 200
    assert answers["other-tag"].content == small
    assert answers["missing"].status_code == 404


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('"{sha}"', True),
        ('W/"{sha}"', True),
        ('"x", "{sha}"', True),
        ("*", True),
        ("{sha}", True),
        ('"{other}"', False),
        ("", False),
    ],
)
def test_if_none_match_names_the_blob(header: str, matches: bool) -> None:
    sha, other = "a" * 64, "b" * 64
    assert serving.not_modified(header.format(sha=sha, other=other), sha) is matches


def test_a_large_blob_is_a_read_of_the_budget_a_thumbnail_is_not(tmp_path: Path) -> None:
    """With every read slot taken by another client, an image (over the thumbnail size)
    waits for a slot and is refused past the wait, as any read; a thumbnail is served."""
    budget = ReadBudget(total=1, waiting=4, max_wait_s=0.1)
    app, store = _node(tmp_path, budget)
    small_sha, small = _blob(1)
    large_sha, large = _blob(2, serving.SMALL_BLOB_BYTES + 1)
    store.save(small_sha, small)
    store.save(large_sha, large)
    answers: dict[str, httpx.Response] = {}

    async def main() -> None:
        held = await budget.acquire("10.0.0.9")
        async with _client(app) as c:
            answers["large"] = await c.get(f"{routes.PREFIX}/{large_sha}")
            answers["small"] = await c.get(f"{routes.PREFIX}/{small_sha}")
            budget.release("10.0.0.9", held)
            answers["large-free"] = await c.get(f"{routes.PREFIX}/{large_sha}")

    anyio.run(main)
    assert answers["large"].status_code == 429, answers["large"].text
    assert "too many reads at once" in answers["large"].json()["error"]
    assert answers["small"].status_code == 200 and answers["small"].content == small
    assert answers["large-free"].status_code == 200 and answers["large-free"].content == large
    assert budget.running == 0 and not budget.by_client


def test_a_thumbnails_disk_read_waits_for_the_read_budgets_time(tmp_path: Path) -> None:
    """A read from the disk is paced by the read budget's time (refused past its wait when
    reads have used the node's share); one from the cache costs no more than a refusal
    and is served."""
    budget = ReadBudget(max_wait_s=0.1)
    app, store = _node(tmp_path, budget)
    cached_sha, cached = _blob(1)
    cold_sha, cold = _blob(2)
    store.save(cached_sha, cached)
    store.save(cold_sha, cold)
    answers: dict[str, httpx.Response] = {}

    async def main() -> None:
        async with _client(app) as c:
            answers["first"] = await c.get(f"{routes.PREFIX}/{cached_sha}")
            level = budget.time.level
            budget.time.spend(1000.0, budget.clock())  # reads have used the node's share
            answers["cold"] = await c.get(f"{routes.PREFIX}/{cold_sha}")
            answers["cached"] = await c.get(f"{routes.PREFIX}/{cached_sha}")
            assert level > budget.time.level + 999  # nothing was spent by the two

    anyio.run(main)
    assert answers["first"].status_code == 200
    assert answers["cold"].status_code == 429
    assert "share of the node's time" in answers["cold"].json()["error"]
    assert answers["cached"].status_code == 200 and answers["cached"].content == cached


def test_the_cache_is_bounded_in_bytes_and_keeps_the_recently_used() -> None:
    entry = 3_000 + serving.ENTRY_OVERHEAD  # what one cached blob of 3,000 bytes counts
    cache = serving.BlobCache(max_bytes=3 * entry + 100, max_entry=4_000)
    cache.put("big", b"x" * 4_001)  # over a small blob's size: never cached
    assert cache.get("big") is None
    for i in range(3):
        cache.put(f"b{i}", bytes([i]) * 3_000)
    assert cache.get("b0") == b"\0" * 3_000  # b0 now the most recently used
    cache.put("b3", b"3" * 3_000)  # four do not fit: the least recently used (b1) leaves
    assert cache.get("b1") is None
    assert [k for k in ("b0", "b2", "b3") if cache.get(k) is not None] == ["b0", "b2", "b3"]
    assert cache.bytes == 3 * entry <= cache.max_bytes


def test_many_tiny_blobs_are_bounded_by_their_count_too() -> None:
    cache = serving.BlobCache(max_bytes=100 * serving.ENTRY_OVERHEAD)
    for i in range(10_000):
        cache.put(f"{i:064x}", b"t")
    assert len(cache.entries) < 100 and cache.bytes <= cache.max_bytes
