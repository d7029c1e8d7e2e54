"""How a node serves its stored photo blobs to browsers: thumbnails cheaply, everything as
immutable content-addressed bytes (ADR 0026, "Serving blobs").

A console page of photographs shows up to 50 thumbnails, and a browser asks for about six at
once; the read budget's 4 reads per client (`tianfu.api.readgate`) refused the rest with 429
and the page showed broken pictures. So a blob of at most `SMALL_BLOB_BYTES` (a thumbnail's
on-chain limit) is served on a path of its own:

- from `BlobCache`, a least-recently-used cache of such blobs bounded in bytes, on the event
  loop: a hit costs the loop about what a refusal would (one answer of at most 64 KiB);
- on a miss, under `SmallReads`: at most `per_client` of these reads from one client
  address and `total` from all together are waiting or reading at once (429 at once past
  them); at most `turns` read the disk at once, each read waiting for and spending the read
  budget's time (`ReadBudget.paced`), so misses take no more of the node's time than any
  other reads do.

A larger blob (an image) is read as any other read of the budget: it takes a slot
(`tianfu.api.readroute.own_read`). Every answer carries `ETag` (the SHA-256),
`Cache-Control: public, max-age=31536000, immutable` (the bytes named by a hash never
change: a browser asks once), `X-Content-Type-Options: nosniff` and a `sandbox` policy (a
blob is shown as the type its first bytes name, never run as a page); a request whose
`If-None-Match` names the SHA-256 is answered 304 with no work.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from starlette.types import Scope

from tianfu.api.limits import QueryGate
from tianfu.api.readgate import request_budget
from tianfu.apps.photo_sharing import media

T = TypeVar("T")

SMALL_BLOB_BYTES = media.MAX_THUMB_BYTES  # served by the cheap path (a thumbnail's limit)
CACHE_BYTES = 8 << 20  # cached small blobs: two and a half pages of 64 KiB thumbnails
# Small reads waiting or reading at once from one client address: more than the console's
# page of 50 photographs (`tianfu.web.data.PAGE_SIZE`; a unit test keeps them so), so a page
# fetched all at once is served, and ...
SMALL_READS_PER_CLIENT = 64
SMALL_READS = 256  # ... from all clients together (at most 16 MiB of thumbnails in memory)
SMALL_READ_TURNS = 2  # small reads reading the disk at once (worker threads)
ENTRY_OVERHEAD = 256  # bytes a cached blob is counted for besides its own (key, links)
IMMUTABLE = "public, max-age=31536000, immutable"


def blob_headers(sha256: str) -> dict[str, str]:
    """The headers of every answer carrying (or standing for, 304) the blob `sha256`."""
    return {
        "etag": f'"{sha256}"',
        "cache-control": IMMUTABLE,
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; sandbox",
    }


def not_modified(if_none_match: str | None, sha256: str) -> bool:
    """Whether a request's `If-None-Match` names the blob `sha256` (its ETag, weak or
    strong, in a list, or `*`): the client holds its bytes already."""
    if not if_none_match:
        return False
    for tag in if_none_match.split(",")[:64]:
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == "*" or tag.strip('"') == sha256:
            return True
    return False


class BlobCache:
    """Small blobs by SHA-256, least recently used first out, at most `max_bytes` of them,
    each counted `ENTRY_OVERHEAD` bytes more than its size (so many tiny blobs are bounded
    too), none larger than `max_entry`. Used on the event loop only."""

    def __init__(self, max_bytes: int = CACHE_BYTES, max_entry: int = SMALL_BLOB_BYTES) -> None:
        self.max_bytes = max_bytes
        self.max_entry = max_entry
        self.bytes = 0
        self.entries: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, sha256: str) -> bytes | None:
        data = self.entries.get(sha256)
        if data is None:
            self.misses += 1
            return None
        self.entries.move_to_end(sha256)
        self.hits += 1
        return data

    def put(self, sha256: str, data: bytes) -> None:
        cost = len(data) + ENTRY_OVERHEAD
        if len(data) > self.max_entry or cost > self.max_bytes or sha256 in self.entries:
            return
        self.entries[sha256] = data
        self.bytes += cost
        while self.bytes > self.max_bytes:
            _, old = self.entries.popitem(last=False)
            self.bytes -= len(old) + ENTRY_OVERHEAD


class SmallReads:
    """The gate of the small blobs' disk reads (module docstring): `slot(client)` admits a
    read (ApiError 429 past `per_client` or `total` at once), `run(scope, fn, *args)` does
    its work in a worker thread, at most `turns` at once, paced by the read budget's time."""

    def __init__(
        self,
        per_client: int = SMALL_READS_PER_CLIENT,
        total: int = SMALL_READS,
        turns: int = SMALL_READ_TURNS,
    ) -> None:
        self.gate = QueryGate(total, per_client, what="photo blob reads")
        self.turn_count = turns
        self._turns: anyio.Semaphore | None = None

    def slot(self, client: str) -> Any:
        return self.gate.slot(client)

    @property
    def turns(self) -> anyio.Semaphore:
        """Created on first use, on the event loop that serves the reads."""
        if self._turns is None:
            self._turns = anyio.Semaphore(self.turn_count)
        return self._turns

    async def run(self, scope: Scope, fn: Callable[..., T], *args: Any) -> T:
        budget = request_budget(scope)
        if budget is not None:
            return await budget.paced(self.turns, fn, *args)
        async with self.turns:  # an application without a read budget (a bare router)
            return await anyio.to_thread.run_sync(fn, *args)
