"""The signer file's exclusive lock: one process at a time signs from a signer file.

The data directory's `node.lock` keeps a second node off a data directory, but it is only
a name: deleted as "stale" by an operator or a clean-up script, or bypassed by a second
home whose signer file is the same file (a link, shared storage), it lets a second
process load the signer state and sign from it beside the first, each from its own copy
in memory, which is how one key signs twice. So the signer holds an exclusive `flock` on
the very file it signs from, as long as it has it open (`hold`, `release`): a second
process is refused when it opens the file, and at every later file it would take over.

Within one process the lock is shared: a file opened again by the same process (a restart
in the simulator or a test, while the old signer is not yet closed) counts one more holder
(the lock is on a duplicate descriptor of the first, so closing either signer keeps it).

A lock is on a file, not on its name: a signer that writes a new file at its path (the
old one deleted, or replaced by a copy put back while it runs) locks the new file before
it is renamed there, and renames it only while it holds the lock of the file it replaces
(`replacing`), so that it never puts its own file over one another process signs from
(which, renamed over while that process wrote it in place, let both sign one height).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FileKey = tuple[int, int]  # (device, inode) of a signer file

# Reentrant: a signer never closed is closed by the garbage collector (`__del__`), which
# runs at any allocation, also in a thread inside `hold` of another signer file; its
# release then takes this lock again in that thread (a plain lock deadlocked there).
_lock = threading.RLock()
_held: dict[FileKey, list[int]] = {}  # file -> [locked descriptor, holders in this process]


def hold(fd: int) -> FileKey:
    """Hold the exclusive lock of the file open at `fd` for this process (taken by the
    first holder, counted for the others). Raises `BlockingIOError` if another process
    holds it."""
    st = os.fstat(fd)
    key = (st.st_dev, st.st_ino)
    with _lock:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
            return key
        locked = os.dup(fd)  # (its own descriptor: closing `fd` keeps the lock)
        try:
            fcntl.flock(locked, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(locked)
            raise
        _held[key] = [locked, 1]
        return key


def release(key: FileKey) -> None:
    """One holder of this process lets the file go; the last one unlocks it."""
    with _lock:
        entry = _held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del _held[key]
            os.close(entry[0])


@contextmanager
def replacing(path: Path) -> Iterator[None]:
    """Hold the lock of the file now at `path` (if any, and not held by this process
    already) while the block replaces it. Raises `BlockingIOError` if another process
    holds it: the file it signs from is never replaced under it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield
        return
    try:
        st = os.fstat(fd)
        with _lock:
            mine = (st.st_dev, st.st_ino) in _held
        if not mine:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)
