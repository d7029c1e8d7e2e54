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
"""

from __future__ import annotations

import fcntl
import os
import threading

FileKey = tuple[int, int]  # (device, inode) of a signer file

_lock = threading.Lock()
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
