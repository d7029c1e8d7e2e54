"""Contract values: the only data that may be passed as arguments, stored, returned or emitted.

Allowed: None, bool, int (from -2**63 to 2**64 - 1, what msgpack encodes), str, bytes,
list, and dict with str keys. Floats, sets and foreign objects are rejected so that every
node computes and stores the very same bytes.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32
MIN_INT = -(1 << 63)
MAX_INT = (1 << 64) - 1


class ValueTypeError(TypeError):
    """A value that cannot be stored, passed or emitted by a contract."""


_FLAT = frozenset({type(None), bool, str, bytes})


def check_value(value: Any, *, _depth: int = 0) -> None:
    """Raise `ValueTypeError` unless `value` is a deterministic contract value."""
    # Fast path for the common small values, by exact type (subclasses take the full
    # checks below): the same answers, without the isinstance chain or a call per item.
    if _depth > MAX_DEPTH:
        raise ValueTypeError(f"value nested deeper than {MAX_DEPTH} levels")
    t = type(value)
    if t is int:
        if not MIN_INT <= value <= MAX_INT:
            raise ValueTypeError("integer out of range (from -2**63 to 2**64 - 1)")
        return
    if t in _FLAT:
        return
    if t is dict and _depth < MAX_DEPTH:
        for k, v in value.items():
            if type(k) is not str and not isinstance(k, str):
                raise ValueTypeError("dict keys must be str")
            tv = type(v)
            if tv is int:
                if not MIN_INT <= v <= MAX_INT:
                    raise ValueTypeError("integer out of range (from -2**63 to 2**64 - 1)")
            elif tv not in _FLAT:
                check_value(v, _depth=_depth + 1)
        return
    if value is None or isinstance(value, bool | str | bytes):
        return
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise ValueTypeError("integer out of range (from -2**63 to 2**64 - 1)")
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
