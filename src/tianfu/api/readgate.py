"""The budget of the reads a node serves: at most a few at once, so that no flood of reads
takes the CPU its consensus needs (`ReadBudget`, enforced in front of every route by the
`ReadGate` middleware).

A read is any HTTP GET or HEAD that a route serves — the API's blocks, transactions, state,
proofs, event batches, the console's pages and the applications' records. Each one takes
worker-thread CPU (decoding, rendering, encoding) from the same process, and under the
interpreter lock the same core, as the node's votes and timers. Two budgets bound them:

- concurrency: at most `total` reads run at once, and one client address has at most
  `per_client` reads running or waiting;
- time: reads run at most `share` of the time on average (`TimeBudget`: seconds of reading
  per second, a read counted from its start to the start of its answer; at most
  `READ_BURST_S` saved up while reads are few; one read is charged at most
  `MAX_CHARGE_S`). Time, not CPU time: while a read's thread
  runs, the event loop waits for the interpreter lock at every turn (up to the switch
  interval each time), and on a loaded machine a read holds it longer.

A read that finds no slot, or a spent time budget, waits for them at most `max_wait_s`,
with at most `waiting` others. A read past any of these is refused with 429 and
`Retry-After` (the seconds until its budget allows it), rendered by the application's own error handlers (a
browser asking for a page gets the console's error page, rendered once per language and
shared: `tianfu.web.render.shared_error_page`). A slot is held until the answer
starts (a rendered answer is complete by then): a client that reads its answer slowly, or
never, holds no slot and spends no time budget, only its connection.

Not counted by the gate: requests no route serves (an unknown path, 404, or a method its
path is not served for, 405 — a HEAD of a GET route among them) and reads whose path or
query parameters their route refuses (400): the router or the route's parameter check
refuses them before any work, so they neither take nor wait for a slot nor spend the time
budget (the slot is taken where the router hands a read to its route: `ReadGate`,
`ReadRoute`); requests with a body (a slot is never held while a body trickles
in): the submission routes (the mempool's own bounds); the read-only POSTs — contract
queries and state proof documents — which the `QueryGate` bounds once their body is read
(parsing it too, in the worker thread: a body of many small values takes tens of ms);
the private-data operations and photo uploads, which take a read of this budget once their
body is in (`ReadBudget.held`, `body_read`), around their work (an upload's hash included); the
photo blob reads, whose route decides itself (`OwnReadRoute`: a thumbnail-sized blob under a
gate of its own, its disk reads paced by this budget's time, `ReadBudget.paced`; a larger
blob takes a slot as any GET; `tianfu.apps.photo_sharing.serving`); the
reads the `QueryGate` bounds at once (proof documents, the governance views: their slots
are the query gate's, but they wait for and spend this budget's time, `ReadBudget.timed`,
and so do the contract queries and `POST /v1/proofs/state`); the node's
liveness and metrics (`EXEMPT_PATHS`); prefixes registered with
`ReadBudget.exempt_prefix` (the console's static files), and WebSocket streams (their own
gate; the work a stream does in worker threads shares `ReadBudget.stream_threads` and
waits for and spends the time budget, `ReadBudget.stream_work`, and so does each message
a stream sends on the event loop, `ReadBudget.stream_send`).

A client is its address as `tianfu.api.limits.client_address` counts it (an IPv6 client is
its /56). Behind a reverse proxy every client has the proxy's address, unless the operator
declared the proxy trusted (`tianfu.api.limits.TrustedProxies`, ADR 0008).
"""

from __future__ import annotations

import collections
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tianfu.api.errors import ApiError, error_response
from tianfu.api.limits import client_address
from tianfu.api.readroute import (
    GATE_KEY,
    OwnReadRoute,  # noqa: F401 - a route taking its read itself, named here too
    PendingRead,
    ReadRoute,  # noqa: F401 - the routers' route class, named here too
    gate_routes,
    own_read,  # noqa: F401 - the read an OwnReadRoute's handler may take
)

DEFAULT_READS = 2  # reads running at once, all clients together
DEFAULT_READS_WAITING = 32  # reads waiting for a slot, all clients together
DEFAULT_READS_PER_CLIENT = 4  # reads running or waiting from one client address
DEFAULT_READ_WAIT_S = 5.0  # longest wait for a slot and the time budget
DEFAULT_READ_SHARE = 0.5  # seconds of reading per second, all clients together
READ_BURST_S = 2.0  # seconds of reading saved up while reads are few
# The most one read is charged: the debt stays under what a read may wait for, so a lone
# client's reads wait their turn, however long one of them took, and are never refused.
MAX_CHARGE_S = 1.0
STREAM_THREADS = 2  # worker threads the event streams use at once, all streams together
T = TypeVar("T")

READ_METHODS = frozenset({"GET", "HEAD"})
EXEMPT_PATHS = frozenset({"/v1/status", "/metrics", "/v1/orgs", "/v1/contracts"})
# The reads the query gate bounds (refused at once past it): the governance views above,
# the proof documents below and a transaction's proof.
QUERY_GATED = ("/v1/proofs/",)


class TimeBudget:
    """Seconds of reading: refilled at `share` seconds per second up to `burst`, spent by
    the time each read took (so reads run at most `share` of the time, on average)."""

    def __init__(self, share: float, burst: float, now: float) -> None:
        self.share = share
        self.burst = burst
        self.level = burst
        self.stamp = now

    def refill(self, now: float) -> float:
        self.level = min(self.burst, self.level + (now - self.stamp) * self.share)
        self.stamp = now
        return self.level

    def wait_s(self, now: float) -> float:
        """How long until a read may start (0: now)."""
        level = self.refill(now)
        return 0.0 if level > 0 else -level / self.share

    def spend(self, seconds: float, now: float) -> None:
        self.refill(now)
        self.level -= seconds


class ReadBudget:
    """The limits of the module docstring. Used on the event loop only."""

    def __init__(
        self,
        total: int = DEFAULT_READS,
        per_client: int = DEFAULT_READS_PER_CLIENT,
        waiting: int = DEFAULT_READS_WAITING,
        max_wait_s: float = DEFAULT_READ_WAIT_S,
        share: float = DEFAULT_READ_SHARE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if total < 1 or per_client < 1 or waiting < 0 or max_wait_s < 0:
            raise ValueError("read limits must be positive")
        if not share > 0:
            raise ValueError("the read time share must be positive")
        self.total = total
        self.per_client = per_client
        self.waiting_max = waiting
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.running = 0
        self.waiting = 0
        self.by_client: collections.Counter[str] = collections.Counter()
        self.time = TimeBudget(share, READ_BURST_S, clock())
        self.refused = 0
        self._slots: anyio.Semaphore | None = None
        self._stream_threads: anyio.CapacityLimiter | None = None
        self._stream_turns: anyio.Semaphore | None = None
        self._timed_turns: anyio.Semaphore | None = None
        self._exempt: tuple[str, ...] = ()

    def exempt_prefix(self, prefix: str) -> None:
        """Leave the requests whose path starts with `prefix` out of the budget."""
        self._exempt += (prefix,)

    def counts(self, scope: Scope) -> bool:
        """Whether the HTTP request `scope` is a read this budget bounds."""
        path: str = scope["path"]
        return (
            scope["method"] in READ_METHODS
            and path not in EXEMPT_PATHS
            and not path.startswith(QUERY_GATED)
            and not (path.startswith("/v1/txs/") and path.endswith("/proof"))
            and not path.startswith(self._exempt)
        )

    @property
    def stream_threads(self) -> anyio.CapacityLimiter:
        """The worker threads the event streams may use at once (created on first use, on
        the event loop that serves them)."""
        if self._stream_threads is None:
            self._stream_threads = anyio.CapacityLimiter(STREAM_THREADS)
        return self._stream_threads

    @property
    def stream_turns(self) -> anyio.Semaphore:
        """The streams between their turn of the time budget and their spend, at most
        `STREAM_THREADS` (one per worker thread they may use)."""
        if self._stream_turns is None:
            self._stream_turns = anyio.Semaphore(STREAM_THREADS)
        return self._stream_turns

    async def stream_turn(self) -> None:
        """Wait, without a deadline, until the time budget allows a read (an open event
        stream falls behind; it is never refused)."""
        while (wait := self.time.wait_s(self.clock())) > 0:
            await anyio.sleep(wait)

    async def stream_send(
        self, send: Callable[[str], Coroutine[Any, Any, None]], text: str, took_s: float = 0.0
    ) -> None:
        """Hand one message of an open event stream to its connection (`send(text)`, on the
        event loop: framing it, writing it to the socket) once the time budget allows a read,
        spending what the send took on the loop until it first waited, and `took_s` (the
        caller's own work on the loop for this message). A client slow to take its
        messages makes the send wait for the socket: that wait spends nothing."""
        await self.stream_turn()
        timed = _FirstStep(send(text), self.clock)
        try:
            await timed
        finally:
            self.time.spend(min(took_s + timed.took, MAX_CHARGE_S), self.clock())

    async def stream_work(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` for an open event stream, in one of the `stream_threads`, once the time
        budget allows a read (waiting for it without a deadline: a stream falls behind, it
        is never refused), spending the time `fn` took: a stream catching up from an old
        height reads at the budget's pace, like any other read. A stream takes its thread
        before its turn: at most `STREAM_THREADS` streams are between their turn and their
        spend (streams waiting for the budget would all pass it the moment it came back, and
        then spend it many reads deep)."""
        took = [0.0]

        def timed() -> T:
            start = self.clock()
            try:
                return fn(*args)
            finally:
                took[0] = self.clock() - start

        async with self.stream_turns:
            await self.stream_turn()
            try:
                return await anyio.to_thread.run_sync(timed, limiter=self.stream_threads)
            finally:
                self.time.spend(min(took[0], MAX_CHARGE_S), self.clock())

    async def acquire(self, client: str) -> float:
        """Take a slot for `client` once the time budget allows it, waiting at most
        `max_wait_s`; `ApiError` 429 if not. Returns the read's start, for `release`."""
        if self._slots is None:
            self._slots = anyio.Semaphore(self.total)
        if self.by_client[client] >= self.per_client:
            self._refuse(f"at most {self.per_client} per client address", 1.0)
        busy = self._slots.value == 0 or self.time.wait_s(self.clock()) > 0
        if busy and self.waiting >= self.waiting_max:
            self._refuse(f"at most {self.total} running and {self.waiting_max} waiting", 1.0)
        self.by_client[client] += 1
        try:
            if busy:
                self.waiting += 1
                try:
                    await self._wait(client)
                finally:
                    self.waiting -= 1
            else:
                self._slots.acquire_nowait()
        except BaseException:
            self._leave(client)
            raise
        self.running += 1
        return self.clock()

    async def _wait(self, client: str) -> None:
        """Take a slot, then wait until the time budget allows a read, all within
        `max_wait_s`; `ApiError` 429 if that passes."""
        assert self._slots is not None
        deadline = self.clock() + self.max_wait_s
        got = self._slots.value > 0
        if got:
            self._slots.acquire_nowait()
        else:
            with anyio.move_on_after(self.max_wait_s):
                await self._slots.acquire()
                got = True
        if not got:
            self._refuse(f"no slot came free within {self.max_wait_s:g} s", 1.0)
        try:
            while True:
                now = self.clock()
                wait = self.time.wait_s(now)
                if wait <= 0:
                    return
                if now + wait > deadline:
                    self._refuse("reads have used their share of the node's time", wait)
                await anyio.sleep(wait)
        except BaseException:
            self._slots.release()
            raise

    @contextlib.asynccontextmanager
    async def held(self, client: str) -> AsyncIterator[None]:
        """A read of `client` done in the body of the `async with`: a slot is taken as for a
        GET (waiting at most `max_wait_s`, `ApiError` 429 past it) and given back, its time
        spent, when the body ends. For the routes whose request has a body (the gate does
        not count them): they take it once the body is read, around their work."""
        started = await self.acquire(client)
        try:
            yield
        finally:
            self.release(client, started)

    @contextlib.asynccontextmanager
    async def timed(self, client: str) -> AsyncIterator[None]:
        """A read whose concurrency another gate bounds (the `QueryGate`: contract queries,
        proof documents, the governance views) done in the body of the `async with`: it
        takes no slot, but waits for the time budget as any read does (at most
        `max_wait_s`, among the `waiting`; 429 with `Retry-After` past them), and spends
        the time it took. A read that waits takes one of `total` turns first, held until
        it has spent: when the budget comes back, at most `total` waiting reads pass it
        together (all of them would, and spend it many reads deep)."""
        turn = False
        wait = self.time.wait_s(self.clock())
        if wait > 0:
            if self.by_client[client] >= self.per_client:
                self._refuse(f"at most {self.per_client} per client address", 1.0)
            if wait > self.max_wait_s:
                self._refuse("reads have used their share of the node's time", wait)
            if self.waiting >= self.waiting_max:
                self._refuse(f"at most {self.total} running and {self.waiting_max} waiting", 1.0)
            self.by_client[client] += 1
            self.waiting += 1
            try:
                deadline = self.clock() + self.max_wait_s
                with anyio.move_on_after(self.max_wait_s):
                    await self.timed_turns.acquire()
                    turn = True
                if not turn:
                    self._refuse(f"no turn came free within {self.max_wait_s:g} s", 1.0)
                while (wait := self.time.wait_s(self.clock())) > 0:
                    if self.clock() + wait > deadline:
                        self._refuse("reads have used their share of the node's time", wait)
                    await anyio.sleep(wait)
            except BaseException:
                if turn:
                    self.timed_turns.release()
                raise
            finally:
                self.waiting -= 1
                self._leave(client)
        started = self.clock()
        try:
            yield
        finally:
            now = self.clock()
            self.time.spend(min(now - started, MAX_CHARGE_S), now)
            if turn:
                self.timed_turns.release()

    @property
    def timed_turns(self) -> anyio.Semaphore:
        """The `timed` reads that waited for the time budget and have not yet spent, at
        most `total` (created on first use, on the event loop that serves them)."""
        if self._timed_turns is None:
            self._timed_turns = anyio.Semaphore(self.total)
        return self._timed_turns

    async def paced(self, turns: anyio.Semaphore, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker thread for a read whose concurrency its own gate bounds
        (the photo blobs' small reads, `tianfu.apps.photo_sharing.serving`): within
        `max_wait_s` it takes one of `turns` (held until it has spent) and waits until the
        time budget allows a read, 429 with `Retry-After` past it; then it spends the
        time `fn` took in its thread (at most `MAX_CHARGE_S`), not the time it waited."""
        deadline = self.clock() + self.max_wait_s
        got = False
        with anyio.move_on_after(self.max_wait_s):
            await turns.acquire()
            got = True
        if not got:
            self._refuse(f"no turn came free within {self.max_wait_s:g} s", 1.0)
        took = [0.0]

        def timed() -> T:
            start = self.clock()
            try:
                return fn(*args)
            finally:
                took[0] = self.clock() - start

        try:
            while (wait := self.time.wait_s(self.clock())) > 0:
                if self.clock() + wait > deadline:
                    self._refuse("reads have used their share of the node's time", wait)
                await anyio.sleep(wait)
            try:
                return await anyio.to_thread.run_sync(timed)
            finally:
                self.time.spend(min(took[0], MAX_CHARGE_S), self.clock())
        finally:
            turns.release()

    def release(self, client: str, started: float) -> None:
        """End `client`'s read begun at `started`, spending the time it took."""
        assert self._slots is not None
        now = self.clock()
        self.time.spend(min(now - started, MAX_CHARGE_S), now)
        self.running -= 1
        self._slots.release()
        self._leave(client)

    def _leave(self, client: str) -> None:
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]

    def _refuse(self, why: str, retry_s: float) -> None:
        self.refused += 1
        raise ApiError(
            429,
            f"too many reads at once ({why}); retry later",
            headers={"retry-after": str(max(1, math.ceil(retry_s)))},
        )


class _FirstStep:
    """Awaits `coro`, timing its first step: what it does on the event loop before it first
    waits (or ends). `took` is 0 until then."""

    def __init__(self, coro: Coroutine[Any, Any, Any], clock: Callable[[], float]) -> None:
        self.coro = coro
        self.clock = clock
        self.took = 0.0

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self.coro
        start = self.clock()
        try:
            step = coro.send(None)
        except StopIteration as done:
            return done.value
        finally:
            self.took = self.clock() - start
        while True:  # the rest, as `yield from` would (the loop's resumptions and throws)
            try:
                sent = yield step
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # a cancellation while it waits
                try:
                    step = coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    step = coro.send(sent)
                except StopIteration as done:
                    return done.value


def request_budget(scope: Scope) -> ReadBudget | None:
    """The read budget of the application serving `scope` (None: an application without
    one, such as a bare router in a test)."""
    app = scope.get("app")
    state = getattr(app, "state", None)
    budget = getattr(state, "read_budget", None)
    return budget if isinstance(budget, ReadBudget) else None


@contextlib.asynccontextmanager
async def body_read(scope: Scope) -> AsyncIterator[None]:
    """`ReadBudget.held` of the application serving `scope`, for the request's client (a
    no-op without a budget)."""
    budget = request_budget(scope)
    if budget is None:
        yield
        return
    async with budget.held(client_address(scope)):
        yield


class ReadGate:
    """ASGI middleware holding a `ReadBudget` slot for every read until its answer starts
    (module docstring); a refusal is answered by `api`'s error handler for `ApiError`.

    The slot is taken where the router hands the read to its route, not here: the
    middleware puts a `PendingRead` in the request's scope (`GATE_KEY`), which the route's
    application takes (`ReadRoute`, the route class of the node's routers; a top-level
    route's application is put behind `_RouteRead` when the middleware is built). The
    route is matched once, by the router; what no route serves (404, 405) never takes a
    slot, nor does a read whose path or query parameters its route refuses (FastAPI's
    validation, answered 400 by the API's handler): it is refused before any work. An `api`
    with a route that takes no `PendingRead` (no router, a route of another class in an included
    router) is gated here instead, for the requests a route of it matches (`routed`)."""

    def __init__(self, app: ASGIApp, api: Any, budget: ReadBudget) -> None:
        self.app = app
        self.api = api
        self.budget = budget
        routes = getattr(getattr(api, "router", None), "routes", None)
        self.by_route = routes is not None and gate_routes(routes)

    def routed(self, scope: Scope) -> bool:
        """Whether a route of `api` serves the request `scope`, path and method both: what
        no route serves (an unknown path: 404; a path served only for other methods, such
        as a HEAD of a GET route: 405) is refused by the router before any work."""
        router = getattr(self.api, "router", None)
        routes = getattr(router, "routes", None)
        if routes is None:
            return True  # no router to ask: every read counts
        try:
            return any(route.matches(scope)[0] is Match.FULL for route in routes)
        except Exception:  # a path parameter its route cannot convert: the router decides
            return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.budget.counts(scope):
            await self.app(scope, receive, send)
            return
        read = PendingRead(self.budget, client_address(scope))
        if self.by_route:
            scope[GATE_KEY] = read  # taken by the route the router chooses
        elif self.routed(scope):
            try:
                await read.take()
            except ApiError as exc:
                await self._refuse(exc, scope, receive, send)
                return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                read.release()  # the answer is made: sending it, however slowly, is not reading
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            read.release()
            scope.pop(GATE_KEY, None)

    async def _refuse(self, exc: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
        handler = getattr(self.api, "exception_handlers", {}).get(ApiError)
        if handler is None:
            response = error_response(exc.status, exc.message, exc.headers)
        else:
            response = await handler(Request(scope, receive), exc)
        await response(scope, receive, send)
