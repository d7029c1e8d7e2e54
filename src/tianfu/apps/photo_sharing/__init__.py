"""The `photo_sharing` application: its contract source, media checks, blob store, SDK, CLI,
demo data and scenario."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tianfu.apps.common.source import contract_source

if TYPE_CHECKING:
    from tianfu.api.service import ChainService
    from tianfu.apps.registry import NodePart
    from tianfu.p2p.protocol import Network

NAME = "photo_sharing"
BLOB_PREFIX = "/v1/apps/photo_sharing/blobs"  # the node's photo routes: PREFIX/<sha256>


def source() -> str:
    """The contract's source text as it is deployed (never imported as a module)."""
    return contract_source(__file__, "contract.py", "contract_views.py")


def node_part(service: ChainService, data_dir: Path, network: Network | None) -> NodePart:
    """The node's photo routes (`routes.py`) and, on a node with peers, the replication of
    checked blobs (`replication.py`); imported when a node starts (they load the web
    framework and the image libraries, which other commands do not need)."""
    from tianfu.apps.photo_sharing.blobs import BlobStore
    from tianfu.apps.photo_sharing.replication import BlobReplicator
    from tianfu.apps.photo_sharing.routes import blob_router
    from tianfu.apps.registry import NodePart

    store = BlobStore(data_dir / "photos")
    replicator = BlobReplicator(service, store, network) if network is not None else None
    return NodePart(blob_router(service, store, replicator), replicator)
