"""Durable file writes for the signer state and the WAL: atomic replace, then fsync."""

from __future__ import annotations

import os
from pathlib import Path

fdatasync = getattr(os, "fdatasync", os.fsync)  # (macOS has no fdatasync)


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(path: Path, data: bytes) -> None:
    """Replace `path` by a file holding `data` (owner-only), atomically and durably: a
    temporary file written in full and fsynced, renamed over `path`, then the directory
    fsynced."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)
