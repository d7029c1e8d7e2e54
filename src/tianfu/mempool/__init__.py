"""Pending transactions waiting for a block."""

from tianfu.mempool.pool import Mempool, MempoolFull, OutsidersFull, SenderFull

__all__ = ["Mempool", "MempoolFull", "OutsidersFull", "SenderFull"]
