"""The check that a block's bytes are the block of its hash, shared by gossip, core and
ledger work, remembering the byte strings it passed.

A signature (a proposal's, a certificate's) covers a block's hash, not its bytes, so any
peer can relay a signed proposal with other bytes. `BlockBytesCheck` wraps the ledger's
check (`BlockBytesLedger.is_block_of`: the header hashes to the hash, the transactions
are the header's `tx_count` and `tx_root`) and remembers, by identity, the last few byte
objects it passed: gossip checks a proposal's bytes, the core gets the same object and
the execution too, and the hashing is done once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from tianfu.consensus.interfaces import BytesCheck
from tianfu.consensus.messages import MAX_BLOCK_BYTES

REMEMBERED = 4  # byte objects remembered (they are also held by the core while current)


class BlockBytesCheck:
    """`(block_hash, data) -> bool`: whether `data` are the block of `block_hash`."""

    def __init__(self, check: BytesCheck, remembered: int = REMEMBERED) -> None:
        self._check, self._size = check, remembered
        self._passed: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()  # (ledger work calls it from a worker thread)

    def __call__(self, block_hash: bytes, data: bytes) -> bool:
        if not data or len(data) > MAX_BLOCK_BYTES:
            return False
        with self._lock:
            if self._passed.get(block_hash) is data:
                return True
        if not self._check(block_hash, data):
            return False
        with self._lock:
            self._passed[block_hash] = data
            self._passed.move_to_end(block_hash)
            while len(self._passed) > self._size:
                self._passed.popitem(last=False)
        return True
