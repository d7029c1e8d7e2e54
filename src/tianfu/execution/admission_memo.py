"""Admission answers kept between transactions: resolved callers and contract method tables,
each with the governance values it was computed from, checked again on every use.

Mempool admission (`Executor.check_tx`) runs outside any block, so the per-block memo of
`tianfu.execution.executor` does not help it, yet a batch of 50 transactions from 8 senders
asks the same few questions again and again: who is this signer (`resolve_caller`: six
governance reads, the address, a new `Caller`), and which methods has this contract (the
contract record, the compiled contract). Both answers are pure functions of the governance
values they read, except that a signer's answer also depends on the time: it holds only
within the certificate's validity period, which is kept with it and checked against the
admission time at every use (a caller that *registers* a first-use certificate also depends
on its CA's period: never kept). So an answer is kept with its *read set* — every state key it read and
the raw bytes it found — and is used again only while every one of those keys still holds
the same bytes (`lookup` reads them again; a commit gives a changed value new bytes). A
revoked certificate, a removed role or organisation, an upgraded contract: the next
admission reads the changed value and computes the answer afresh, from the very first
admission that sees the committed change, exactly as without the memo; an expired
certificate is refused from the first admission past its `not_after`. Besides, the whole
memo is dropped whenever the next height changes (a block was committed), which also
bounds it.

Thread safety: entries are immutable tuples and every operation is one dict operation, so
an admission racing a query (or a commit updating the values underneath) reads either a
valid entry or none, and an entry is only ever checked against the values read now.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tianfu.types import ConsensusParams

# A read set: (state key, the raw bytes read, None when absent), in the order read.
ReadSet = tuple[tuple[bytes, bytes | None], ...]
MAX_ENTRIES = 4096  # per table; emptied when full


class AdmissionMemo:
    """The admission answers for one next height (see the module docstring)."""

    __slots__ = ("height", "params", "callers", "contracts")

    def __init__(self, height: int = -1) -> None:
        self.height = height
        # The parameters of block `height`: a function of committed state at height - 2.
        self.params: ConsensusParams | None = None
        self.callers: dict[Any, tuple[ReadSet, Any]] = {}
        self.contracts: dict[str, tuple[ReadSet, Any]] = {}

    @staticmethod
    def lookup(
        table: dict[Any, tuple[ReadSet, Any]], key: Any, read: Callable[[bytes], bytes | None]
    ) -> Any:
        """The answer kept under `key` if every key it read still holds the same bytes;
        else None (and the entry is dropped)."""
        entry = table.get(key)
        if entry is None:
            return None
        reads, answer = entry
        for k, raw in reads:
            now = read(k)
            if now is not raw and now != raw:
                table.pop(key, None)
                return None
        return answer

    @staticmethod
    def keep(table: dict[Any, tuple[ReadSet, Any]], key: Any, reads: ReadSet, answer: Any) -> None:
        if len(table) >= MAX_ENTRIES:
            table.clear()
        table[key] = (reads, answer)
