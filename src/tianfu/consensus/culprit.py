"""Building a block around a transaction that makes building or storing fail: find it, drop it.

A proposer's block of candidate transactions may fail to build or store for a reason one
transaction carries (a receipt or a state value too large to store, a fault that execution
did not turn into a failed receipt). Retrying the same candidates would fail forever and
halt the chain, so the proposer bisects: the shortest failing prefix of the candidates
ends with the culprit. The block proposed is the longest prefix that builds; the
transactions after the culprit stay pending for a later block.

`attempt(txs)` builds a block of exactly `txs` (the solo driver also stores it, so an
attempt that succeeds is final: `stop_at_success=True` stops the search there). An empty
candidate list that fails is not a transaction's fault: the error is raised. Nor is a
failure of one of the types `not_a_tx_fault` names (the store cannot be written: a full
disk, an I/O error): it is raised from whichever attempt meets it, and nothing is
dropped. A nearly full disk takes a smaller block where it refuses a larger one, and the
search would otherwise drop the transaction after the prefix that fitted.

Some failures are never a transaction's: the host's (`host_fault`: an OSError, a
MemoryError, SQLite's OperationalError — "database is locked", "disk I/O error" — and
any exception whose class says `not_a_tx_fault = True`: the store's write, busy and
damage errors, a contract's state read that failed). They are raised like `not_a_tx_fault`
types, whatever the caller names: a read that fails once would otherwise make the
longer block fail and the shorter one build, and the search would drop an innocent
transaction the node had acknowledged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Failures of the host (memory, disk, the database file), never of a transaction.
HOST_FAULTS: tuple[type[BaseException], ...] = (OSError, MemoryError, sqlite3.OperationalError)


def host_fault(exc: BaseException, also: tuple[type[BaseException], ...] = ()) -> bool:
    """Whether `exc` is the host's failure, not a transaction's: one of `HOST_FAULTS` or
    `also`, or of a class that says `not_a_tx_fault = True`."""
    return isinstance(exc, HOST_FAULTS + also) or getattr(exc, "not_a_tx_fault", False) is True


@dataclass
class Built(Generic[T]):
    result: T  # the block built from `txs[:used]`
    used: int  # how many of the candidates it holds (a prefix)
    culprit: Any = None  # the transaction found to make the block fail, to drop
    error: str = ""  # what the failure was
    attempts: int = 1  # blocks tried


def build_dropping_culprit(
    attempt: Callable[[list[Any]], T],
    txs: list[Any],
    *,
    stop_at_success: bool = False,
    not_a_tx_fault: tuple[type[BaseException], ...] = (),
) -> Built[T]:
    """Build from `txs`, or from the longest prefix before the transaction that makes
    building fail (reported as `culprit`). Raises what the empty block raises, and a
    failure of a `not_a_tx_fault` type, or any other `host_fault`, at once."""
    try:
        return Built(attempt(txs), len(txs))
    except Exception as exc:  # unless the host's, the search below decides whose it is
        if not txs or host_fault(exc, not_a_tx_fault):
            raise
        error = f"{type(exc).__name__}: {exc}"
    # Invariant: the prefix of length `bad` fails; the prefix of length `good` built
    # (`good_result`), or good == 0 and the empty prefix has not been tried yet.
    good, bad = 0, len(txs)
    good_result: T | None = None
    tried = 1
    while bad - good > 1:
        mid = (good + bad) // 2
        tried += 1
        try:
            result = attempt(txs[:mid])
        except Exception as exc:
            if host_fault(exc, not_a_tx_fault):
                raise
            bad, error = mid, f"{type(exc).__name__}: {exc}"
            continue
        if stop_at_success:  # stored already: nothing more goes in this time
            if mid == bad - 1:  # the next one alone made the block fail
                return Built(result, mid, txs[mid], error, tried)
            return Built(result, mid, attempts=tried)
        good, good_result = mid, result
    if good_result is None:
        tried += 1
        good_result = attempt([])  # raises if even an empty block fails: not the tx's fault
    culprit = txs[bad - 1]
    return Built(good_result, good, culprit=culprit, error=error, attempts=tried)
