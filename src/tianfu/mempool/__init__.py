"""Pending transactions waiting for a block."""

from tianfu.mempool.pool import Mempool, MempoolFull, SenderFull

__all__ = ["Mempool", "MempoolFull", "SenderFull"]
