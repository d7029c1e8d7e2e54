"""The sandbox's fixed limits and gas units, and the helpers that word its refusals.

Shared by the meter (`tianfu.execution.gas`) and the checked value methods
(`tianfu.execution.methods`); see docs/adr/0005-contract-sandbox.md for the figures.
"""

from __future__ import annotations

import re
from typing import Any

from tianfu.execution.api import ContractError

MAX_SEQ_LEN = 1_000_000  # elements or bytes of any str/bytes/list/tuple a checked op builds
MAX_INT_BITS = 4096  # working integers (stored ones are capped lower by check_value)
MAX_INT_STR = 1300  # digits accepted by int(str): ~MAX_INT_BITS bits
MAX_RANGE = 1_000_000
MAX_CALL_DEPTH = 64
MAX_VALUE_ITEMS = 100_000  # nodes walked when a value crosses the sandbox boundary
BYTES_PER_GAS = 64  # memcpy-like work: one step per 64 bytes
ITEMS_PER_GAS = 16  # C-level work per element: one step per 16 elements
CALL_GAS = 1  # every contract function entry
LOOP_GAS = 1  # every loop iteration / iterated item
CTX_GAS = 1  # every ctx method call (the Context charges state access itself)
TEXT_ENCODINGS = frozenset({"utf-8", "utf8", "ascii", "latin-1", "latin1"})

_ADDRESS_RE = re.compile(r" at 0x[0-9a-fA-F]+")
SEQ = (str, bytes, list, tuple)


def sanitize(message: str, limit: int = 1000) -> str:
    """Strip memory addresses (they differ between nodes) and bound the length."""
    message = _ADDRESS_RE.sub("", message)
    return message if len(message) <= limit else message[:limit] + "..."


def too_big(what: str, n: int, cap: int) -> ContractError:
    return ContractError(f"{what} would have {n} elements; the limit is {cap}")


def check_encoding(enc: Any) -> None:
    if enc is not None and (not isinstance(enc, str) or enc.lower() not in TEXT_ENCODINGS):
        raise ContractError(f"encoding {enc!r} is not allowed (use utf-8, ascii or latin-1)")
