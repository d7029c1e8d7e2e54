"""Pending transactions waiting for a block."""

from tianfu.mempool.pool import Mempool, MempoolFull

__all__ = ["Mempool", "MempoolFull"]
