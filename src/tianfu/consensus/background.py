"""The consensus driver's background work: tasks it spawns (executing, building, recovering
the store) and trips to worker threads (`Timers.run_blocking`).

A worker-thread trip is shielded: a cancelled caller does not abandon it, and `stop`
waits for every trip still running, so the driver never stops while the ledger is being
written in another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from tianfu.consensus.clock import Timers


class Background:
    """Spawned tasks and worker-thread trips, waited for by `stop`."""

    def __init__(self, timers: Timers, stats: Counter[str]) -> None:
        self._timers = timers
        self._stats = stats
        self.tasks: set[asyncio.Task[Any]] = set()
        self.inflight: set[asyncio.Future[Any]] = set()  # worker-thread trips running

    async def in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn` through `Timers.run_blocking`; a cancelled caller does not abandon it."""
        self._stats["thread_hops"] += 1
        fut = asyncio.ensure_future(self._timers.run_blocking(fn, *args))
        self.inflight.add(fut)
        fut.add_done_callback(self.inflight.discard)
        return await asyncio.shield(fut)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self, *others: asyncio.Task[Any]) -> None:
        """Cancel the spawned tasks and `others`, wait for them, then for every
        worker-thread trip still running."""
        tasks = [*others, *self.tasks]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self.inflight:
            await asyncio.gather(*self.inflight, return_exceptions=True)
