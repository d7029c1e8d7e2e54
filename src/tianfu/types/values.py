"""Contract values: the only data that may be passed as arguments, stored, returned or emitted.

Allowed: None, bool, int (signed 64-bit range... and beyond up to 256 bits), str, bytes,
list, and dict with str keys. Floats, sets and foreign objects are rejected so that every
node computes and stores the very same bytes.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32
MAX_INT_BITS = 256


class ValueTypeError(TypeError):
    """A value that cannot be stored, passed or emitted by a contract."""


def check_value(value: Any, *, _depth: int = 0) -> None:
    """Raise `ValueTypeError` unless `value` is a deterministic contract value."""
    if _depth > MAX_DEPTH:
        raise ValueTypeError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | str | bytes):
        return
    if isinstance(value, int):
        if value.bit_length() > MAX_INT_BITS:
            raise ValueTypeError(f"integer wider than {MAX_INT_BITS} bits")
        return
    if isinstance(value, list | tuple):
        for item in value:
            check_value(item, _depth=_depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueTypeError("dict keys must be str")
            check_value(v, _depth=_depth + 1)
        return
    if isinstance(value, float):
        raise ValueTypeError("floats are not allowed in contract values (use integers)")
    raise ValueTypeError(f"type {type(value).__name__} is not allowed in contract values")
