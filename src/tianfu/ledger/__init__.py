"""The ledger: executes blocks against the Merkle state and commits them to the store."""

from tianfu.ledger.ledger import InvalidBlock, Ledger

__all__ = ["InvalidBlock", "Ledger"]
