"""The event loop a node runs on: uvloop where it is installed (Linux, macOS), else asyncio's.

uvloop (libuv) does the loop's own work — polling, transports, TLS records, timers — in C,
which on a CPU-bound validator leaves more of the core for verifying and executing
transactions (docs/performance.md). `TIANFU_LOOP=asyncio` forces the standard loop, e.g. to
compare the two or to debug with asyncio's debug mode.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_name() -> str:
    """`uvloop` or `asyncio`: the loop `run` will use."""
    if os.environ.get("TIANFU_LOOP", "").lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `loop_name()` names."""
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
