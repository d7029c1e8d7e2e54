"""Pulling content from peers by key: the machinery the private-data distributor and the
photo-blob replicator share.

A `PullService` keeps a bounded set of wanted keys (touched from any thread), runs on the
event loop a task that starts at most `max_parallel` fetches at once, asks one peer at a time
with a request id and takes only the answer of the peer it asked for that key, backs off
exponentially after a failed round, and rate-limits each peer with a token bucket. What is
fetched, from whom, how it is checked and how requests are served is the subclass's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tianfu.p2p.protocol import PeerId
from tianfu.ratelimit import TokenBucket

K = TypeVar("K", bound=Hashable)  # what is wanted: a hash, (contract, hash)
R = TypeVar("R")  # a peer's answer


@dataclass(frozen=True)
class PullConfig:
    """The settings every pull service has; a service's own config extends it."""

    fetch_timeout_s: float = 10.0
    max_parallel: int = 4  # fetches (and checks) at once: bounds the content held in memory
    backoff_min_s: float = 0.5
    backoff_max_s: float = 60.0
    max_wanted: int = 4_096


@dataclass
class Want:
    due: float = 0.0
    failures: int = 0
    prefer: str = ""  # a peer that announced it holds the content
    running: bool = False


@dataclass
class Bucket:
    """A peer's token bucket and how many of its requests are being served."""

    limit: TokenBucket
    serving: int = 0


@dataclass
class _Asked(Generic[K, R]):
    peer: str
    key: K
    future: asyncio.Future[R] = field(repr=False)


class PullService(Generic[K, R]):
    """Wanted keys, the fetch task and the request/answer bookkeeping (see the module)."""

    task_name = "pull"  # the task's name; log lines say what failed with it

    def __init__(self, network: Any, config: PullConfig, clock: Callable[[], float]) -> None:
        self.network = network
        self.config = config
        self.clock = clock
        self.log = logging.getLogger(type(self).__module__)
        self._wanted: dict[K, Want] = {}
        self._lock = threading.Lock()  # _wanted is touched from other threads too
        self._asked: dict[int, _Asked[K, R]] = {}
        self._buckets: dict[str, Bucket] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False

    # -- hooks --------------------------------------------------------------------------------
    def _new_want(self) -> Want:
        return Want()

    async def _fetch(self, key: K) -> None:
        """One round of fetching `key` (its entry is marked running until it ends)."""
        raise NotImplementedError

    def _request(self, request_id: int, key: K) -> tuple[int, bytes]:
        """The frame (kind, payload) asking a peer for `key`."""
        raise NotImplementedError

    async def _step(self) -> None:
        """One pass of the task: by default, start the fetches that are due."""
        self._start_due()

    # -- wanted keys (any thread) ----------------------------------------------------------------
    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def _want(self, key: K, prefer: str) -> bool:
        """Add `key` (or prefer a peer for it unless a round is running); False if the
        wanted set is full."""
        with self._lock:
            entry = self._wanted.get(key)
            if entry is None:
                if len(self._wanted) >= self.config.max_wanted:
                    return False
                entry = self._wanted[key] = self._new_want()
            if prefer and not entry.running:
                entry.prefer = prefer
                entry.due = 0.0
        self._poke()
        return True

    def wanted_count(self) -> int:
        with self._lock:
            return len(self._wanted)

    def _preferred(self, key: K) -> str:
        with self._lock:
            return self._wanted[key].prefer if key in self._wanted else ""

    def _failed(self, entry: Want) -> None:
        """A round that got nothing: run again after a back-off doubling per failure."""
        entry.running = False
        entry.failures += 1
        entry.prefer = ""

    def _back_off(self, entry: Want) -> None:
        cfg = self.config
        wait = min(cfg.backoff_max_s, cfg.backoff_min_s * 2 ** (entry.failures - 1))
        entry.due = self.clock() + wait

    # -- peers -------------------------------------------------------------------------------
    def _bucket(self, peer: PeerId, rate: float, burst: int) -> Bucket:
        """The peer's bucket (the caller takes a token: `b.limit.take(self.clock())`)."""
        b = self._buckets.get(peer.address)
        if b is None:
            b = self._buckets[peer.address] = Bucket(TokenBucket(rate, burst, self.clock()))
        return b

    def _answer(self, peer: PeerId, request_id: int, key: K, answer: R) -> bool:
        """Hand a peer's answer to the round that asked that peer for that key; False (and
        nothing done) if no such request is waiting."""
        asked = self._asked.get(request_id)
        if asked is None or asked.peer != peer.address or asked.key != key:
            return False
        if not asked.future.done():
            asked.future.set_result(answer)
        return True

    async def _ask(self, peer: PeerId, key: K) -> R | None:
        """Ask one peer for `key`; None when it does not answer in time."""
        request_id = secrets.randbits(63)
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._asked[request_id] = _Asked(peer.address, key, future)
        try:
            kind, payload = self._request(request_id, key)
            self.network.send(peer.address, kind, payload)
            async with asyncio.timeout(self.config.fetch_timeout_s):
                return await future
        except TimeoutError:
            return None
        finally:
            self._asked.pop(request_id, None)

    # -- the task -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._runner = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        self._stopping = True
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._loop = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("%s task failed", self.task_name, exc_info=task.exception())

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            try:
                await self._step()
            except Exception:  # the task's top level: log, keep the node running
                self.log.exception("%s: distribution step failed", self.task_name)
            # `asyncio.timeout`, not `wait_for`: on Python 3.11 `wait_for` can swallow a
            # cancellation that arrives as the event is set, and the task would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    await self._wake.wait()
            self._wake.clear()

    def _start_due(self) -> None:
        now = self.clock()
        with self._lock:
            running = sum(1 for w in self._wanted.values() if w.running)
            due = [k for k, w in self._wanted.items() if not w.running and w.due <= now]
            for key in due[: max(0, self.config.max_parallel - running)]:
                self._wanted[key].running = True
                self._spawn(self._fetch(key))
