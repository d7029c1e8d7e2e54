"""The node's photo routes: upload the bytes a registration names, and read them back.

`PUT /v1/apps/photo_sharing/blobs/{sha256}` takes the raw bytes of a registered image or
thumbnail. The node accepts them only if a committed registration names that SHA-256 with
that size, and only once it has decoded them (bounded, `media.open_image`) and found the
registered perceptual hash (an image) or a picture of the registered image (a thumbnail).
Anything else is refused with a 4xx and nothing is stored. `GET` of the same path returns
the bytes, a thumbnail-sized blob cheaply and every blob as immutable (`serving.py`). The
request body limit of every route (the node's `max_body_bytes`) applies, and
an upload's checks are a read of the node's read budget (`tianfu.api.readgate`) once its
body is in.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, NoReturn

import anyio
from fastapi import APIRouter, Request, Response

from tianfu.api.errors import ApiError
from tianfu.api.limits import client_address
from tianfu.api.readgate import OwnReadRoute, ReadRoute, body_read, own_read
from tianfu.api.service import ChainService
from tianfu.apps.photo_sharing import BLOB_PREFIX, media
from tianfu.apps.photo_sharing.blobs import SHA256_RE, BlobStore, BlobTooLarge
from tianfu.apps.photo_sharing.replication import BlobReplicator, check, registration
from tianfu.apps.photo_sharing.serving import (
    SMALL_BLOB_BYTES,
    BlobCache,
    SmallReads,
    blob_headers,
    not_modified,
)

PREFIX = BLOB_PREFIX
log = logging.getLogger(__name__)
MAX_CHECKS_AT_ONCE = 2  # uploads decoded at the same time; more get 429

_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))


def media_type(data: bytes) -> str:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _sha(sha256: str) -> str:
    if not SHA256_RE.match(sha256):
        raise ApiError(400, f"{sha256!r} is not a SHA-256 (64 lower-case hex characters)")
    return sha256


def blob_router(
    service: ChainService, store: BlobStore, replicator: BlobReplicator | None = None
) -> APIRouter:
    router = APIRouter(tags=["photo_sharing"], route_class=ReadRoute)
    checks = threading.BoundedSemaphore(MAX_CHECKS_AT_ONCE)
    cache = BlobCache()
    small = SmallReads()

    @router.put(PREFIX + "/{sha256}", status_code=201)
    async def upload(sha256: str, request: Request, response: Response) -> dict[str, Any]:
        """Upload the bytes of a registered photo's image or thumbnail (raw body): 201 when
        stored, 200 when this node held them already."""
        _sha(sha256)
        data = await request.body()
        # The node's read budget once the body is in; the body's hash (milliseconds for a
        # large one) is part of the read, in a worker thread.
        async with body_read(request.scope):
            digest = await anyio.to_thread.run_sync(media.sha256_hex, data)
            if digest != sha256:
                raise ApiError(422, f"the body's SHA-256 is {digest}, not the named {sha256}")
            kind, record = await anyio.to_thread.run_sync(registration, service, sha256)
            summary = {"sha256": sha256, "kind": kind, "photo": record["id"], "size": len(data)}
            if store.has(sha256):
                response.status_code = 200
                return {**summary, "stored": False}
            if not checks.acquire(blocking=False):
                raise ApiError(429, "busy checking other uploads; retry shortly")
            try:
                await anyio.to_thread.run_sync(check, kind, record, data)
                await anyio.to_thread.run_sync(store.save, sha256, data)
            except media.MediaError as exc:
                raise ApiError(422, f"upload refused: {exc}") from None
            except OSError as exc:  # the node's disk, not the request
                log.error("cannot store photo blob %s: %s", sha256, exc)
                raise ApiError(
                    507, "this node cannot store the upload now; try another node"
                ) from None
            finally:
                checks.release()
        if replicator is not None:
            replicator.announce(sha256)
        return {**summary, "stored": True}

    async def download(sha256: str, request: Request) -> Response:
        """The bytes of a stored image or thumbnail (the client checks their SHA-256);
        immutable: cached by browsers, 304 when `If-None-Match` names them (`serving`)."""
        _sha(sha256)
        headers = blob_headers(sha256)
        if not_modified(request.headers.get("if-none-match"), sha256):
            return Response(status_code=304, headers=headers)
        data = cache.get(sha256)
        if data is None:
            data = await _read(sha256, request)
        return Response(data, media_type=media_type(data), headers=headers)

    async def _read(sha256: str, request: Request) -> bytes:
        """A blob the cache does not hold: a small one under `small` (then cached), a larger
        one under a slot of the read budget, as any other read."""
        scope = request.scope
        with small.slot(client_address(scope)):
            try:
                data = await small.run(scope, store.load, sha256, SMALL_BLOB_BYTES)
            except BlobTooLarge:
                pass
            else:
                if data is None:
                    await _missing(sha256, scope)
                cache.put(sha256, data)
                return data
        read = own_read(scope)
        if read is not None:
            await read.take()  # released by the gate when the answer starts
        data = await anyio.to_thread.run_sync(store.load, sha256)
        if data is None:  # damaged since it was found
            raise ApiError(404, f"this node holds no photo blob {sha256}")
        return data

    async def _missing(sha256: str, scope: Any) -> NoReturn:
        """404 for a blob this node does not hold; a registered one is asked of the peers
        (the client retries)."""
        if replicator is not None:
            await small.run(scope, registration, service, sha256)
            replicator.want(sha256)
            raise ApiError(404, f"this node holds no photo blob {sha256} yet; asking its peers")
        raise ApiError(404, f"this node holds no photo blob {sha256}")

    router.add_api_route(
        PREFIX + "/{sha256}", download, methods=["GET"], route_class_override=OwnReadRoute
    )

    return router
