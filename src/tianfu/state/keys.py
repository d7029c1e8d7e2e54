"""Reserved state keys: the chain's own entries in the state tree beside contract state.

Contract state lives under `<contract>/<key>` with contract names `[a-z][a-z0-9_]*`, so a
key that starts with a byte outside that set can never be written by a contract. The
ledger keeps one such family:

- `0x01 ‖ tx hash` (33 bytes) → `encode(index)`: every committed transaction, written by
  the ledger in the block that commits it (the leaf's height is that block's height).
  Entries are never changed or deleted, so an exclusion proof of a transaction's key at a
  certified height proves it was not committed up to that height.
"""

from __future__ import annotations

from tianfu.codec import encode

COMMITTED_TX_PREFIX = b"\x01"
_INDEX_BYTES = [encode(i) for i in range(256)]  # encode(i) of the common small indexes


def committed_tx_key(tx_hash: bytes) -> bytes:
    """The state key recording that transaction `tx_hash` was committed."""
    return COMMITTED_TX_PREFIX + tx_hash


def tree_updates(
    updates: dict[bytes, bytes | None], tx_hashes: list[bytes]
) -> dict[bytes, bytes | None]:
    """A block's state-tree batch: the contracts' `updates` plus, for the transaction at
    each index, `0x01 ‖ tx hash` → `encode(index)` (the tree sorts the batch itself)."""
    out = dict(updates)
    prefix, small = COMMITTED_TX_PREFIX, _INDEX_BYTES
    for i, h in enumerate(tx_hashes):
        out[prefix + h] = small[i] if i < 256 else encode(i)
    return out
