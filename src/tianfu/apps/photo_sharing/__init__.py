"""The `photo_sharing` application: its contract source, media checks, blob store, SDK, CLI,
demo data and scenario."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter

    from tianfu.api.service import ChainService

NAME = "photo_sharing"
BLOB_PREFIX = "/v1/apps/photo_sharing/blobs"  # the node's photo routes: PREFIX/<sha256>


def source() -> str:
    """The contract's source text (deployed as is; never imported as a module)."""
    return (Path(__file__).parent / "contract.py").read_text(encoding="utf-8")


def node_routes(service: ChainService, data_dir: Path) -> APIRouter:
    """The node's photo routes (`routes.py`), imported when a node starts (they load the web
    framework and the image libraries, which other commands do not need)."""
    from tianfu.apps.photo_sharing.blobs import BlobStore
    from tianfu.apps.photo_sharing.routes import blob_router

    return blob_router(service, BlobStore(data_dir / "photos"))
