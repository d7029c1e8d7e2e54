"""Whether bytes are the block of a hash: the check a relayed proposal's bytes must pass.

A proposal's or a certificate's signature covers the block's hash (the header's), not its
bytes, so any peer can relay it with other bytes. The header binds its transactions by
`tx_count` and `tx_root` (the Merkle root of their encodings), so bytes that are the
canonical encoding of a header hashing to the hash and of `tx_count` transaction encodings
whose root is `tx_root` are the only bytes of that block: nothing is decoded or executed
beyond the header, and no state is read, so any height's block can be checked.
"""

from __future__ import annotations

from tianfu.crypto.merkle import merkle_root
from tianfu.types.block import split_block

MAX_CHECKED_BYTES = 16 << 20  # a proposal's block is at most this (`consensus.MAX_BLOCK_BYTES`)


def is_block_of(block_hash: bytes, data: bytes, max_size: int = MAX_CHECKED_BYTES) -> bool:
    """Whether `data` are the bytes of the block whose header hashes to `block_hash`."""
    parts = split_block(data, max_size=max_size)
    if parts is None:
        return False
    header, raws = parts
    return (
        header.hash == block_hash
        and header.tx_count == len(raws)
        and header.tx_root == merkle_root(raws)
    )
