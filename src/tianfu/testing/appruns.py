"""Every application's demo and scenario run at the same time on one network (for tests).

The applications are independent (their own contracts, identities and records), and each
scenario spends most of its time waiting for its transactions' commits. Run one after the
other on a 4-validator network they take minutes; run together they share the blocks and
take about as long as the longest one. Each application's outcome is kept apart so that a
test per application reports its own failure.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tianfu.apps.env import AppEnv
from tianfu.apps.registry import APPLICATIONS, application


@dataclass(frozen=True)
class AppRun:
    name: str
    demo_s: float
    scenario_s: float


def run_app(env: AppEnv, name: str) -> AppRun:
    """One application's demo, then its scenario (which asserts its own invariants)."""
    entry = application(name)
    t0 = time.monotonic()
    summary = entry.create_demo(env)
    if not summary:
        raise AssertionError(f"{name}: the demo returned an empty summary")
    t1 = time.monotonic()
    entry.run_scenario(env)
    return AppRun(name, t1 - t0, time.monotonic() - t1)


class AppRuns:
    """Starts every application's run at once; `result(name)` waits for that one."""

    def __init__(self, env: AppEnv, names: tuple[str, ...] | None = None) -> None:
        names = names or tuple(a.name for a in APPLICATIONS)
        self._pool = ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="app")
        self._runs: dict[str, Future[AppRun]] = {
            name: self._pool.submit(run_app, env, name) for name in names
        }

    def result(self, name: str, timeout: float | None = None) -> AppRun:
        """That application's run, or its exception raised here."""
        return self._runs[name].result(timeout)

    def wait_all(self, timeout: float | None = None) -> None:
        """Until every run has ended (failed or not)."""
        for run in self._runs.values():
            run.exception(timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
