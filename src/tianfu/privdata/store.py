"""A node's store of private content: one file per blob, bounded by quotas, never in the
block store.

Layout: `<dir>/blobs/<contract>/<hash>` (contract names are `[a-z][a-z0-9_]*`, hashes 64
hex characters, so no name from outside reaches the file system unchecked). A blob is written
atomically (temporary file, fsync, rename) and checked against its hash when written and
every time it is read: a stored file that no longer matches raises `Tampered`. Quotas bound
one record (`MAX_BLOB_BYTES`), the bytes kept for records written by one organisation, all
bytes, and the number of records. Deleting a blob removes its file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from tianfu.privdata.keys import write_private
from tianfu.privdata.record import CONTRACT_RE, HASH_RE
from tianfu.privdata.sealing import MAX_BLOB_BYTES

log = logging.getLogger(__name__)
UNKNOWN_ORG = ""  # a blob found on disk whose record has not been read yet


class PrivateStoreError(Exception):
    """Base class of the private store's refusals."""


class QuotaExceeded(PrivateStoreError):
    """Storing the blob would pass one of the node's quotas."""


class Tampered(PrivateStoreError):
    """A stored blob (or one offered for storage) does not match its hash."""


@dataclass(frozen=True)
class Quotas:
    max_bytes_per_org: int = 256 << 20  # blobs of records written by one organisation
    max_bytes: int = 1 << 30  # all blobs
    max_records: int = 100_000

    def validate(self) -> None:
        if min(self.max_bytes_per_org, self.max_bytes, self.max_records) < 1:
            raise ValueError("private data quotas must be positive")


def _checked(contract: str, content_hash: str) -> None:
    if not CONTRACT_RE.match(contract) or not HASH_RE.match(content_hash):
        raise PrivateStoreError(f"malformed record name {contract!r}/{content_hash!r}")


class PrivateStore:
    """Blobs on disk with an in-memory index of (contract, hash) -> (writer org, size)."""

    def __init__(self, directory: Path, quotas: Quotas | None = None) -> None:
        self.dir = Path(directory)
        self.blobs = self.dir / "blobs"
        self.quotas = quotas or Quotas()
        self.quotas.validate()
        self._lock = threading.Lock()
        # Every blob counted against the quotas, written or being written ...
        self._index: dict[tuple[str, str], tuple[str, int]] = {}
        self._writing: set[tuple[str, str]] = set()  # ... those still being written ...
        self._doomed: set[tuple[str, str]] = set()  # ... and those deleted meanwhile
        self._by_org: dict[str, int] = {}
        self._total = 0
        self.blobs.mkdir(parents=True, exist_ok=True)
        self._scan()

    def _scan(self) -> None:
        """Index the blobs already on disk (their organisation is filled in by `assign`)."""
        for sub in sorted(self.blobs.iterdir()):
            if not sub.is_dir() or not CONTRACT_RE.match(sub.name):
                continue
            for f in sorted(sub.iterdir()):
                if f.name.endswith(".tmp"):
                    f.unlink(missing_ok=True)  # an interrupted write
                    continue
                if HASH_RE.match(f.name) and f.is_file():
                    self._add((sub.name, f.name), UNKNOWN_ORG, f.stat().st_size)

    def _add(self, key: tuple[str, str], org: str, size: int) -> None:
        self._index[key] = (org, size)
        self._by_org[org] = self._by_org.get(org, 0) + size
        self._total += size

    def _remove(self, key: tuple[str, str]) -> None:
        org, size = self._index.pop(key)
        left = self._by_org[org] - size
        if left:
            self._by_org[org] = left
        else:
            del self._by_org[org]
        self._total -= size

    def path(self, contract: str, content_hash: str) -> Path:
        _checked(contract, content_hash)
        return self.blobs / contract / content_hash

    # -- reads -----------------------------------------------------------------------------
    def has(self, contract: str, content_hash: str) -> bool:
        """Whether the blob is stored (completely written)."""
        key = (contract, content_hash)
        with self._lock:
            return key in self._index and key not in self._writing

    def load(self, contract: str, content_hash: str) -> bytes | None:
        """The blob, checked against its hash; None if not stored; `Tampered` if changed."""
        path = self.path(contract, content_hash)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        if len(blob) > MAX_BLOB_BYTES or hashlib.sha256(blob).hexdigest() != content_hash:
            raise Tampered(
                f"stored content of {contract}/{content_hash[:16]}… does not match its "
                "on-chain hash"
            )
        return blob

    def entries(self) -> list[tuple[str, str]]:
        with self._lock:
            return sorted(k for k in self._index if k not in self._writing)

    def usage(self) -> dict[str, object]:
        with self._lock:
            return {
                "records": len(self._index),
                "bytes": self._total,
                "by_org": dict(sorted(self._by_org.items())),
            }

    # -- writes ----------------------------------------------------------------------------
    def save(self, contract: str, content_hash: str, org: str, blob: bytes) -> bool:
        """Store a blob of a record written by `org`; False if it was stored already.

        `Tampered` if the blob does not match the hash, `QuotaExceeded` past a quota."""
        path = self.path(contract, content_hash)
        if len(blob) > MAX_BLOB_BYTES or hashlib.sha256(blob).hexdigest() != content_hash:
            raise Tampered(f"content offered for {content_hash[:16]}… does not match that hash")
        key = (contract, content_hash)
        q = self.quotas
        with self._lock:
            if key in self._index:
                return False
            if len(self._index) >= q.max_records:
                raise QuotaExceeded(f"this node keeps at most {q.max_records} private records")
            if self._total + len(blob) > q.max_bytes:
                raise QuotaExceeded(f"this node keeps at most {q.max_bytes} bytes of private data")
            if self._by_org.get(org, 0) + len(blob) > q.max_bytes_per_org:
                raise QuotaExceeded(
                    f"this node keeps at most {q.max_bytes_per_org} bytes of private data "
                    f"written by {org}"
                )
            self._add(key, org, len(blob))  # reserved; released if the write fails
            self._writing.add(key)
        try:
            write_private(path, blob)
        except OSError:
            with self._lock:
                self._writing.discard(key)
                self._doomed.discard(key)
                self._remove(key)
            raise
        with self._lock:
            self._writing.discard(key)
            doomed = key in self._doomed
            if doomed:  # deleted (purged, revoked) while it was being written
                self._doomed.discard(key)
                self._remove(key)
        if doomed:
            path.unlink(missing_ok=True)
            return False
        return True

    def assign(self, contract: str, content_hash: str, org: str) -> None:
        """Record the writer organisation of a blob indexed from disk."""
        key = (contract, content_hash)
        with self._lock:
            entry = self._index.get(key)
            if entry is None or entry[0] == org:
                return
            size = entry[1]
            self._remove(key)
            self._add(key, org, size)

    def delete(self, contract: str, content_hash: str) -> bool:
        """Remove a blob's file; True if there was one."""
        path = self.path(contract, content_hash)
        key = (contract, content_hash)
        with self._lock:
            if key in self._writing:
                self._doomed.add(key)  # its writer removes it when the write ends
                return True
            if key in self._index:
                self._remove(key)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
