"""What executing one block produces and keeps: receipts within their bounds, the block's
result, what its transactions run against (`BlockRun`) and the governance answers memoised
for the block (`BlockGov`).

`tianfu.execution.executor.Executor` runs the transactions; a failed transaction's receipt
records all the gas its meter consumed (`failed_receipt`), a successful one's must fit
`MAX_RECEIPT_BYTES` (`check_receipt`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tianfu.codec import encode
from tianfu.execution.context import CallContext, RawReader
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.limits import MAX_RECEIPT_BYTES, MAX_RESULT_BYTES, sanitize
from tianfu.execution.meter import Meter
from tianfu.types import FAILED, ConsensusParams, Receipt, Transaction
from tianfu.unicode14 import escape_unassigned

FLAT_RESULTS = frozenset({type(None), bool, str, bytes})  # always valid contract values


def failed_receipt(meter: Meter, exc: ContractError) -> Receipt:
    """The failed receipt of a transaction: all the gas its meter consumed, the message."""
    # A code point Unicode 14.0 leaves unassigned is escaped wherever it is: a message may
    # hold a `repr` of a value, which escapes it in CPython 3.11 only (`unicode14`).
    return Receipt(FAILED, meter.used, None, sanitize(escape_unassigned(sanitize(str(exc)))), [])


# Events of at most this many bytes leave room for any result (the sandbox caps a result
# at `MAX_RESULT_BYTES`, an error message at `MAX_MESSAGE` characters).
RECEIPT_ROOM = MAX_RECEIPT_BYTES - MAX_RESULT_BYTES - 64


def check_receipt(ctx: CallContext, result: Any) -> None:
    """The whole receipt of a successful call within `MAX_RECEIPT_BYTES` (the result was
    bounded by the sandbox, each event and their sum by the context)."""
    if ctx.receipt_bytes + _result_bytes(result) > MAX_RECEIPT_BYTES:
        raise ContractError(f"the receipt would be larger than {MAX_RECEIPT_BYTES} bytes")


def _result_bytes(result: Any) -> int:
    t = type(result)
    if t is str or t is bytes:
        return 5 + len(result) * (4 if t is str and not result.isascii() else 1)
    if t in FLAT_RESULTS or t is int:
        return 9
    return len(encode(result))


class BlockOverLimit(ValueError):
    """A block whose receipts use more gas or bytes than the block limits allow."""


class BlockGov:
    """Governance answers within one block: the resolved callers by (scheme, signer, cert)
    and the compiled contracts by name. `resolve_caller` and the contract lookup are pure
    functions of governance state, the block's time and their arguments, and governance
    state changes within a block only by writes under the governance prefix to the block's
    overlay (registrations, governance calls): `_execute_tx` empties both maps after any such
    write, so every answer is the one a fresh lookup would give at that point."""

    __slots__ = ("gov", "callers", "contracts")

    def __init__(self, gov: Callable[[str], Any]) -> None:
        self.gov = gov
        self.callers: dict[tuple[int, bytes, bytes], Caller] = {}
        self.contracts: dict[str, Any] = {}

    def changed(self) -> None:
        self.callers.clear()
        self.contracts.clear()


@dataclass(frozen=True, slots=True)
class BlockRun:
    """What each transaction of a block runs against: the block's height, time and
    parameters, its reads (committed state under the block's writes so far), the overlay a
    successful transaction writes into, and the block's governance memo."""

    height: int
    time_ms: int
    params: ConsensusParams
    read: RawReader
    overlay: dict[bytes, bytes | None]
    gov: BlockGov


@dataclass
class BlockResult:
    txs: list[Transaction]
    receipts: list[Receipt]
    updates: dict[bytes, bytes | None]  # key-sorted
    dropped: list[tuple[bytes, str]] = field(
        default_factory=list
    )  # (tx hash, why) in proposer mode
    # The canonical encoding of each receipt (the block's budget counts these bytes).
    encoded_receipts: list[bytes] | None = None
    gas_used: int = 0  # the receipts' gas_used, summed
    deferred: int = 0  # proposer mode: candidates left out for the next block (budgets full)
