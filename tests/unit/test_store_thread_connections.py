"""A store's per-thread read connections end with their threads.

Every thread reading the store gets a SQLite connection of its own (two file handles, the
database and its WAL, and up to 32 MiB of page cache). The node reads in worker threads
(AnyIO's pool for the API and the console, `asyncio.to_thread`), and such a pool ends a
worker idle for a while and starts new ones under the next load: the connection of a
thread that had ended was kept open until the store closed, so a client making one read
every few seconds, a quiet node's ordinary traffic included, leaked a connection per
ended worker until the process ran out of file handles (then no read, no write, no peer's
connection, and the chain halted on that node) or memory."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from tianfu.store.sqlite import Store

THREADS = 60
WAIT_S = 60.0


def _handles_on(path: Path) -> int:
    """This process's open file handles on `path` (its WAL and shared-memory files too)."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") in names:
                count += 1
        except OSError:
            pass  # closed meanwhile
    return count


def _read_in_a_thread(store: Store) -> None:
    got: list[int] = []
    t = threading.Thread(target=lambda: got.append(len(store.headers(1, 10))))
    t.start()
    t.join(WAIT_S)
    assert got == [0]


def test_the_connection_of_an_ended_thread_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "chain.db"
    store = Store(path)
    try:
        _read_in_a_thread(store)  # the WAL is open, as on a node
        before = _handles_on(path)
        for _ in range(THREADS):
            _read_in_a_thread(store)
        # Each ended thread's connection is closed as the thread ends: the handles come
        # back to what one reader's took (waited for, not assumed at join).
        deadline = time.monotonic() + WAIT_S
        while (now := _handles_on(path)) > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert now <= before, f"{now - before} file handles left open by {THREADS} ended threads"
        assert store.headers(1, 10) == []  # the store itself still reads
    finally:
        store.close()
    assert _handles_on(path) == 0


def test_a_living_thread_keeps_its_connection_and_close_ends_it(tmp_path: Path) -> None:
    path = tmp_path / "chain.db"
    store = Store(path)
    read = threading.Event()
    done = threading.Event()

    def reader() -> None:
        store.headers(1, 10)
        read.set()
        done.wait(WAIT_S)

    t = threading.Thread(target=reader)
    t.start()
    try:
        assert read.wait(WAIT_S)
        assert _handles_on(path) > 0
        store.close()  # closes the living thread's connection too
        assert _handles_on(path) == 0
    finally:
        done.set()
        t.join(WAIT_S)
