"""The event loop a node runs on: uvloop where it is installed (Linux, macOS), else asyncio's.

uvloop (libuv) does the loop's own work — polling, transports, TLS records, timers — in C,
which on a CPU-bound validator leaves more of the core for verifying and executing
transactions (docs/performance.md). `TIANFU_LOOP=asyncio` forces the standard loop, e.g. to
compare the two or to debug with asyncio's debug mode.

The cyclic garbage collector: a validator allocates millions of short-lived objects a
second (decoded transactions, receipts, dicts of a call), nearly all freed by reference
counting; CPython's default first-generation threshold (700 allocations) runs a young
collection hundreds of times a second for almost no garbage. `run` raises it to
`GC_THRESHOLD` (docs/performance.md measures the difference); `TIANFU_GC_THRESHOLD=700`
restores the default.

Stacks: `run` first sets the stacks of the threads the process starts from then on, and
the main thread's limit (`tianfu.stacks.set_stacks`: before any thread pool, asyncio's
default executor or anyio's worker threads exist; they are all made on first use).
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from tianfu.stacks import set_stacks

T = TypeVar("T")

GC_THRESHOLD = (50_000, 50, 100)


def loop_name() -> str:
    """`uvloop` or `asyncio`: the loop `run` will use."""
    if os.environ.get("TIANFU_LOOP", "").lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def tune_gc() -> tuple[int, int, int]:
    """Set the collector's thresholds for a node process (module docstring); returns them."""
    first = int(os.environ.get("TIANFU_GC_THRESHOLD", GC_THRESHOLD[0]))
    thresholds = (max(first, 1), *GC_THRESHOLD[1:])
    gc.set_threshold(*thresholds)
    return gc.get_threshold()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `loop_name()` names, with the collector tuned and
    the threads' stacks set (`tianfu.stacks.set_stacks`)."""
    tune_gc()
    set_stacks()
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
