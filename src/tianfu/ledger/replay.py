"""Rebuild a chain from its blocks: re-execute every block from genesis into a fresh store,
checking each commit certificate, and return the rebuilt ledger (crash and audit check)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tianfu.crypto import verify_commit
from tianfu.ledger.ledger import InvalidBlock, Ledger
from tianfu.store import Store
from tianfu.types import Genesis


def replay_chain(
    source: Store,
    genesis: Genesis,
    target: Path,
    progress: Callable[[int, int], None] | None = None,
) -> Ledger:
    """Re-execute blocks 1..source.height() into a new store at `target`."""
    ledger = Ledger(Store(target), genesis)
    top = source.height()
    for h in range(ledger.height + 1, top + 1):
        block = source.load_block(h)
        cert = source.load_cert(h)
        if block is None or cert is None:
            raise InvalidBlock(f"height {h} is missing from the source store")
        verify_commit(cert, block.hash, h, ledger.validator_set(h), ledger.vote_domain)
        ledger.commit(ledger.execute(block), cert)
        if progress is not None:
            progress(h, top)
    return ledger
