"""Durable storage of the ledger: one SQLite file per node, one transaction per height."""

from tianfu.store.sqlite import (
    Store,
    StoreBusy,
    StoreClosed,
    StoreDamaged,
    StoreError,
    StoreNoMemory,
    StoreWriteError,
    TxRecord,
)

__all__ = [
    "Store",
    "StoreBusy",
    "StoreClosed",
    "StoreDamaged",
    "StoreError",
    "StoreNoMemory",
    "StoreWriteError",
    "TxRecord",
]
