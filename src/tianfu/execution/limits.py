"""The sandbox's fixed limits (sizes, depths, bytes per transaction) and how refusals are worded.

Gas figures live in `tianfu.execution.costs`; this module holds the caps that no amount of
gas lifts. See docs/adr/0005-contract-sandbox.md for the figures.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import (  # noqa: F401 - re-exported for the sandbox's modules
    BYTES_PER_GAS,
    CALL_GAS,
    CTX_GAS,
    ITEMS_PER_GAS,
    LOOP_GAS,
    int_str_gas,
)
from tianfu.types.genesis import MAX_TX_RECEIPT_BYTES
from tianfu.types.values import MAX_DEPTH

MAX_SEQ_LEN = 1_000_000  # elements or bytes of any str/bytes/list/tuple/dict a checked op builds
MAX_INT_BITS = 4096  # working integers (stored ones are capped lower by check_value)
MAX_INT_STR = 1300  # digits accepted by int(str): ~MAX_INT_BITS bits
MAX_RANGE = 1_000_000
MAX_CALL_DEPTH = 64  # nested contract function and lambda calls
MAX_SCOPE_NESTING = 4  # lambdas, functions and comprehensions nested inside one another
MAX_WALK_DEPTH = MAX_DEPTH  # nesting any deep walk accepts: compare, hash, copy, str, sort
MAX_VALUE_ITEMS = 100_000  # nodes walked when a value crosses the sandbox boundary
MAX_MESSAGE = 1000  # characters of a failure message (receipts, str() of an exception)

# Bytes of what a transaction leaves behind, as the receipt and the state encode them.
MAX_RESULT_BYTES = 256 * 1024  # the return value
MAX_EVENT_NAME = 64  # characters of an event name
MAX_EVENT_BYTES = 64 * 1024  # one event's encoded fields
MAX_EVENTS = 256  # events per transaction
# A whole receipt (result, error and every event): the per-transaction cap that the
# per-block receipt budget (`ConsensusParams.max_block_receipt_bytes`) is never below.
MAX_RECEIPT_BYTES = MAX_TX_RECEIPT_BYTES
MAX_TX_WRITE_BYTES = 4 << 20  # keys and values written by one transaction
SEQ = (str, bytes, list, tuple)
TEXT_ENCODINGS = frozenset({"utf-8", "utf8", "ascii", "latin-1", "latin1"})

# Python refuses decimal conversions (`str(int)`, `int(str)`, reprs) past a per-process
# number of digits that the host sets (PYTHONINTMAXSTRDIGITS, `-X int_max_str_digits`):
# a node started with a lower one would fail a contract's conversion that the others do.
# The sandbox's integers take at most ~1,240 digits (`MAX_INT_BITS`, `MAX_INT_STR`), so the
# process keeps at least CPython's default limit, above all of them.
INT_STR_DIGITS = 4300


def require_int_digits() -> None:
    """Raise the process's limit on decimal conversions to `INT_STR_DIGITS` if the host set
    it lower (0, no limit, stays)."""
    limit = sys.get_int_max_str_digits()
    if 0 < limit < INT_STR_DIGITS:
        sys.set_int_max_str_digits(INT_STR_DIGITS)


require_int_digits()

_ADDRESS_RE = re.compile(r" at 0x[0-9a-fA-F]+")


def sanitize(message: str, limit: int = MAX_MESSAGE) -> str:
    """Bound the length, then strip memory addresses (they differ between nodes)."""
    if len(message) > limit:
        message = message[:limit] + "..."
    return _ADDRESS_RE.sub("", message)


def too_big(what: str, n: int, cap: int) -> ContractError:
    return ContractError(f"{what} would have {n} elements; the limit is {cap}")


def too_big_count(meter: Any, what: str, n: int, cap: int) -> ContractError:
    """`too_big` for a count made from any integer a contract holds (a repetition, a
    width, `bytes(n)`): the decimal conversion of a count beyond 64 bits for its message
    is charged as `str(n)` is (made for no gas, a 4,096-bit count caught in a loop took
    ~13-15x a plain loop's CPU per gas)."""
    bits = n.bit_length()
    if bits > 64:
        meter.charge(int_str_gas(bits))
    return too_big(what, n, cap)


def check_encoding(enc: Any) -> None:
    if enc is not None and (not isinstance(enc, str) or enc.lower() not in TEXT_ENCODINGS):
        raise ContractError("encoding is not allowed (use utf-8, ascii or latin-1)")
