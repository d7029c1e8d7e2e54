"""The node's content-addressed store of photo bytes: one file per SHA-256, beside the chain.

A blob is written to a temporary file, flushed to disk and renamed into place, so a crash
leaves it whole or absent. Reading checks the hash again: a damaged file reads as absent.
What gets in is decided by the upload route (`routes.py`): only bytes that a committed
registration names, so the space used is bounded by the accounts' on-chain quotas.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")


class BlobTooLarge(Exception):
    """A blob over the size its reader asked for at most (`BlobStore.load(max_bytes=)`)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the blob has {size} bytes")
        self.size = size


class BlobStore:
    """Blobs under `directory/<first two hex>/<sha256>`."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.directory / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def load(self, sha256: str, max_bytes: int | None = None) -> bytes | None:
        """The blob's bytes, or None if absent (or damaged: its hash no longer matches).
        `max_bytes`: `BlobTooLarge`, unread, for a larger blob."""
        try:
            with self._path(sha256).open("rb") as f:
                if max_bytes is not None:
                    size = os.fstat(f.fileno()).st_size
                    if size > max_bytes:
                        raise BlobTooLarge(size)
                data = f.read()
        except FileNotFoundError:
            return None
        if hashlib.sha256(data).hexdigest() != sha256:
            log.error("photo blob %s is damaged (hash mismatch); serving it as absent", sha256)
            return None
        return data

    def save(self, sha256: str, data: bytes) -> None:
        """Store `data` under its hash (ValueError if `sha256` is not its hash)."""
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError("the data's SHA-256 is not the name it is stored under")
        path = self._path(sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
