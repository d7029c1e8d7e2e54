"""Block-sync wire messages: a peer's status, block requests and blocks with certificates.

Each struct is encoded with `tianfu.codec.encode` and decoded with `tianfu.codec.decode`
(size limit, canonical form, `validate()`); the frame kind says which struct a payload is.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from tianfu.p2p.protocol import KIND_BLOCKS_REQUEST, KIND_BLOCKS_RESPONSE, KIND_STATUS
from tianfu.types import Block, CommitCertificate
from tianfu.types.block import Hash

# At most this many blocks are asked for, or sent, in one message.
MAX_BLOCKS_PER_MESSAGE = 100
MAX_HEIGHT = (1 << 63) - 1

Height = Annotated[int, msgspec.Meta(ge=0, le=MAX_HEIGHT)]


class Status(msgspec.Struct, array_like=True, frozen=True):
    """A node's latest committed height and the hash of its header (b"" at height 0)."""

    height: Height
    head_hash: Hash

    KIND = KIND_STATUS

    def validate(self) -> None:
        if self.height > 0 and len(self.head_hash) != 32:
            raise ValueError("status head_hash must be 32 bytes above height 0")
        if self.height == 0 and self.head_hash:
            raise ValueError("status at height 0 carries no head_hash")


class BlocksRequest(msgspec.Struct, array_like=True, frozen=True):
    """Ask for `count` consecutive blocks with their certificates, from `from_height`."""

    from_height: Height
    count: int

    KIND = KIND_BLOCKS_REQUEST

    def validate(self) -> None:
        if self.from_height < 1:
            raise ValueError("blocks are requested from height 1 on")
        if not 1 <= self.count <= MAX_BLOCKS_PER_MESSAGE:
            raise ValueError(f"count must be between 1 and {MAX_BLOCKS_PER_MESSAGE}")


class BlockWithCert(msgspec.Struct, array_like=True, frozen=True):
    """A committed block and the certificate that proves it was committed."""

    block: Block
    cert: CommitCertificate

    def validate(self) -> None:
        self.block.validate()
        self.cert.validate()


class BlocksResponse(msgspec.Struct, array_like=True, frozen=True):
    """Consecutive blocks in height order (possibly fewer than asked, or none)."""

    items: Annotated[list[BlockWithCert], msgspec.Meta(max_length=MAX_BLOCKS_PER_MESSAGE)]

    KIND = KIND_BLOCKS_RESPONSE

    def validate(self) -> None:
        for item in self.items:
            item.validate()
