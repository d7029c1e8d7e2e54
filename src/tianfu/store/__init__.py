"""Durable storage of the ledger: one SQLite file per node, one transaction per height."""

from tianfu.store.sqlite import Store, StoreError, TxRecord

__all__ = ["Store", "StoreError", "TxRecord"]
