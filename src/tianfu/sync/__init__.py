"""Block sync: fetch blocks with commit certificates from peers and check each before applying."""

from tianfu.sync.messages import (
    MAX_BLOCKS_PER_MESSAGE,
    BlocksRequest,
    BlocksResponse,
    BlockWithCert,
    Status,
)
from tianfu.sync.syncer import BlockSyncer, PeerMisbehaved, SyncConfig, SyncError

__all__ = [
    "MAX_BLOCKS_PER_MESSAGE",
    "BlockSyncer",
    "BlockWithCert",
    "BlocksRequest",
    "BlocksResponse",
    "PeerMisbehaved",
    "Status",
    "SyncConfig",
    "SyncError",
]
