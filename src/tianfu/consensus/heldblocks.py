"""Which bytes the consensus core holds for which block hash (a part of `ConsensusCore`).

A signature (a proposal's, a certificate's) covers a block's hash, not its bytes. The core
holds one byte string per hash (`blocks`), the one it executes and commits: with a
`bytes_check` (the driver's: the ledger's `is_block_of`) only bytes that are the block,
else any, judged by executing them (`BlockBytesWrong` forgets them). Held bytes are never
replaced.
"""

from __future__ import annotations

import msgspec

from tianfu.consensus.interfaces import BytesCheck
from tianfu.consensus.messages import BlockBytesWrong, Proposal
from tianfu.types import CommitCertificate


class HeldBlocks:
    """The block bytes part of `ConsensusCore` (whose state it reads and writes)."""

    bytes_check: BytesCheck | None
    height: int
    round: int
    decided: bytes | None
    proposals: dict[int, list[Proposal]]
    blocks: dict[bytes, bytes]
    executed: dict[bytes, bool]
    _exec_requested: set[bytes]
    _certs: dict[bytes, CommitCertificate]

    def _bytes_ok(self, block_hash: bytes, block: bytes) -> bool:
        """Whether `block` may be the bytes of `block_hash`: with a `bytes_check`, whether
        they are (the bytes held, if any, passed it: other bytes are not); without, any
        bytes may be, and executing them tells (`BlockBytesWrong`)."""
        if self.bytes_check is None:
            return True
        held = self.blocks.get(block_hash)
        return block == held if held else self.bytes_check(block_hash, block)

    def _take_bytes(self, block_hash: bytes, block: bytes) -> None:
        """Bytes for `block_hash`, unless some are held (they may be being executed) or
        they are not its block (`_bytes_ok`)."""
        if block and not self.blocks.get(block_hash) and self._bytes_ok(block_hash, block):
            self.blocks[block_hash] = block

    def _on_bytes_wrong(self, e: BlockBytesWrong) -> None:
        """The bytes held for a block are not it (a peer may attach any bytes to a signed
        proposal or certificate, which cover the hash only): forget them, and the copies of
        proposals carrying them, so that the next copy's bytes are executed."""
        h = e.block_hash
        if e.height != self.height or self.decided is not None or h in self.executed:
            return
        self.blocks[h] = b""
        self._exec_requested.discard(h)
        for proposals in self.proposals.values():
            for i, q in enumerate(proposals):
                if q.block_hash == h and q.block:
                    proposals[i] = msgspec.structs.replace(q, block=b"")
