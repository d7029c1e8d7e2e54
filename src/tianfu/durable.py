"""Durable file writes: a file replaced atomically and fsynced, then its directory fsynced
(the signer state, the WAL's rotation, identities and keys, private-data blobs)."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` by a file holding `data` with permission `mode` (owner-only by
    default), atomically and durably: a temporary file written in full and fsynced, renamed
    over `path`, then the directory fsynced."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # in case a stale temporary file had other permissions
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)
