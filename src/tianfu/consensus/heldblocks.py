"""Which bytes the consensus core holds for which block hash (a part of `ConsensusCore`).

A signature (a proposal's, a certificate's) covers a block's hash, not its bytes. The core
holds one byte string per hash (`blocks`), the one it executes and commits: with a
`bytes_check` (the driver's: the ledger's `is_block_of`) only bytes that are the block,
else any, judged by executing them (`BlockBytesWrong` forgets them). Held bytes are never
replaced. Through a stall of many rounds the blocks of old rounds are forgotten but for
those the algorithm may still need (`_lasting`).
"""

from __future__ import annotations

import msgspec

from tianfu.consensus.interfaces import BytesCheck
from tianfu.consensus.messages import BlockBytesWrong, Proposal
from tianfu.consensus.votes import HeightVoteSet
from tianfu.types import CommitCertificate

KEEP_ROUNDS = 2  # rounds before the current one whose proposals keep their blocks


class HeldBlocks:
    """The block bytes part of `ConsensusCore` (whose state it reads and writes)."""

    bytes_check: BytesCheck | None
    height: int
    round: int
    decided: bytes | None
    locked_value: bytes | None
    valid_value: bytes | None
    votes: HeightVoteSet
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

    def _lasting(self) -> set[bytes]:
        """Blocks whose bytes are kept whichever round proposed them: the locked and valid
        blocks (a proposal naming their POL round re-proposes them), the certified ones and
        those with 2f+1 precommits in some round (line 49 may still decide them)."""
        keep = {h for h in (self.locked_value, self.valid_value) if h is not None}
        keep.update(self._certs)
        for r in self.votes.precommit_rounds():
            h = self.votes.precommits(r).two_thirds_hash()
            if h:
                keep.add(h)
        return keep

    def _forget_old_blocks(self) -> None:
        """Bound the blocks held through a stall of many rounds (each may propose one):
        proposals of rounds before round - `KEEP_ROUNDS` are kept without their blocks, and
        the bytes of a block neither proposed since nor `_lasting` nor being executed are
        forgotten, with its answer if valid: it is executed again if a later proposal or
        commit brings its bytes (its signed proposals and votes are all kept)."""
        first = self.round - KEEP_ROUNDS
        keep = self._lasting()
        for r, proposals in self.proposals.items():
            if r >= first:
                keep.update(q.block_hash for q in proposals)
            elif any(q.block for q in proposals):
                self.proposals[r] = [msgspec.structs.replace(q, block=b"") for q in proposals]
        for h in [h for h, b in self.blocks.items() if b and h not in keep]:
            if h in self._exec_requested and h not in self.executed:
                continue  # being executed: its answer comes with these bytes
            del self.blocks[h]
            if self.executed.get(h):
                del self.executed[h]
                self._exec_requested.discard(h)
