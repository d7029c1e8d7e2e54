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

Unless the same transactions meet a host fault build after build while the store itself
answers (`HostFaultStreak`, `store_answers`): a transaction whose execution raises a
host-fault type every time would otherwise halt the chain, every proposer re-proposing it
forever. After `HOST_FAULT_REPEATS` failures in a row whose candidates share a transaction,
and only if the store answers a trivial read and write (`Store.probe`), the caller searches
with `blame_host=True`: host faults then count as the failing prefix's, and the culprit is
dropped. A real outage fails the probe too, and nothing is dropped; nor for a write the
file system refused (`write_fault`: a nearly full disk takes the probe's small write).
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Failures of the host (memory, disk, the database file), never of a transaction.
HOST_FAULTS: tuple[type[BaseException], ...] = (OSError, MemoryError, sqlite3.OperationalError)


# Host faults in a row, on candidates sharing a transaction, before the store is probed and
# the search may blame a transaction for them (ADR 0017).
HOST_FAULT_REPEATS = 3


def host_fault(exc: BaseException, also: tuple[type[BaseException], ...] = ()) -> bool:
    """Whether `exc` is the host's failure, not a transaction's: one of `HOST_FAULTS` or
    `also`, or of a class that says `not_a_tx_fault = True`."""
    return isinstance(exc, HOST_FAULTS + also) or getattr(exc, "not_a_tx_fault", False) is True


class HostFaultStreak:
    """Host faults met building in a row, on candidates that share a transaction (those in
    every failed build so far: a transaction that makes every build fail stays pending, so
    it is in all of them, whatever else arrives meanwhile)."""

    def __init__(self, repeats: int = HOST_FAULT_REPEATS) -> None:
        self.repeats = repeats
        self.count = 0
        self._common: set[bytes] = set()

    def failed(self, hashes: list[bytes]) -> bool:
        """A build of the candidates `hashes` met a host fault: whether it is the
        `repeats`-th (or later) in a row on the same transactions."""
        common = self._common & set(hashes)
        if self.count and common:
            self.count, self._common = self.count + 1, common
        else:
            self.count, self._common = 1, set(hashes)
        return bool(hashes) and self.count >= self.repeats

    def reset(self) -> None:
        """A block built (or the search ran): the next host fault starts a new streak."""
        self.count, self._common = 0, set()


def store_answers(store: object) -> bool:
    """Whether `store` answers a trivial read and write (its `probe()` returns): then a
    host fault that repeats on the same transactions is theirs. A store without `probe`,
    or whose probe raises anything, does not answer."""
    probe = getattr(store, "probe", None)
    if probe is None:
        return False
    try:
        probe()
    except Exception:  # noqa: BLE001 - any failure of the probe means: not answering
        return False
    return True


# The errors of a write the file system refused: never a transaction's, even repeated while
# the store answers (a nearly full disk takes the probe's small write and refuses a block).
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG})


def write_fault(exc: BaseException) -> bool:
    """Whether `exc` is a write the file system refused (a full disk, a read-only or failing
    one): an `OSError` of such an errno, or a class that says `write_fault = True` (the
    store's `StoreWriteError`). The culprit search never blames a transaction for it."""
    if isinstance(exc, OSError):
        return exc.errno in _WRITE_ERRNOS
    return getattr(exc, "write_fault", False) is True


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
    blame_host: bool = False,
) -> Built[T]:
    """Build from `txs`, or from the longest prefix before the transaction that makes
    building fail (reported as `culprit`). Raises what the empty block raises, and a
    failure of a `not_a_tx_fault` type, or any other `host_fault`, at once — unless
    `blame_host` (the store answered its probe after repeated host faults on these
    candidates): then those are searched like any other failure, except a `write_fault`."""

    def hosts(exc: BaseException) -> bool:
        return host_fault(exc, not_a_tx_fault) and (not blame_host or write_fault(exc))

    try:
        return Built(attempt(txs), len(txs))
    except Exception as exc:  # unless the host's, the search below decides whose it is
        if not txs or hosts(exc):
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
            if hosts(exc):
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
