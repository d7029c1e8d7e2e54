"""The methods of contract values a contract may call, and the checks run before them.

`Runtime.getattr` (in `tianfu.execution.gas`) exposes, per exact type, only the methods
listed in `METHODS`; each call is metered by the object's size (except the `CHEAP` ones),
and the amplifying ones are checked by `METHOD_CHECKS` before they run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tianfu.execution.api import ContractError
from tianfu.execution.limits import (
    BYTES_PER_GAS,
    ITEMS_PER_GAS,
    MAX_INT_BITS,
    MAX_SEQ_LEN,
    check_encoding,
    too_big,
)

if TYPE_CHECKING:
    from tianfu.execution.gas import Runtime

_TEXT_COMMON = (
    "startswith endswith find rfind index rindex count split rsplit splitlines strip lstrip "
    "rstrip lower upper swapcase title capitalize isdigit isalpha isalnum isspace islower "
    "isupper isascii istitle replace join partition rpartition removeprefix removesuffix "
    "zfill ljust rjust center"
).split()
METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        _TEXT_COMMON + "encode casefold isdecimal isnumeric isidentifier isprintable".split()
    ),
    bytes: frozenset(_TEXT_COMMON + ["decode", "hex", "fromhex"]),
    list: frozenset("append extend insert pop remove index count reverse sort copy clear".split()),
    tuple: frozenset({"index", "count"}),
    dict: frozenset("get keys values items pop setdefault update copy clear popitem".split()),
    int: frozenset({"bit_length", "to_bytes", "from_bytes"}),
    bool: frozenset({"bit_length", "to_bytes"}),
}
CHEAP = frozenset("append pop get keys values items setdefault clear popitem bit_length".split())


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def _chk_replace(rt: Runtime, s: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple[Any, ...]:
    old, new = _arg(args, kw, 0, "old", None), _arg(args, kw, 1, "new", None)
    count = _arg(args, kw, 2, "count", -1)
    if isinstance(old, type(s)) and isinstance(new, type(s)) and isinstance(count, int):
        n = len(s) + 1 if not old else s.count(old)
        if count >= 0:
            n = min(n, count)
        size = len(s) + n * (len(new) - len(old))
        if size > MAX_SEQ_LEN:
            raise too_big("replace()", size, MAX_SEQ_LEN)
        rt.charge(size // BYTES_PER_GAS)
    return args


def _chk_join(rt: Runtime, s: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple[Any, ...]:
    items = rt.materialize(_arg(args, kw, 0, "iterable", ()))
    size = len(s) * max(len(items) - 1, 0) + sum(
        len(x) for x in items if isinstance(x, str | bytes)
    )
    if size > MAX_SEQ_LEN:
        raise too_big("join()", size, MAX_SEQ_LEN)
    rt.charge(size // BYTES_PER_GAS)
    return (items,)


def _chk_width(rt: Runtime, s: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple[Any, ...]:
    width = _arg(args, kw, 0, "width", 0)
    if isinstance(width, int) and width > MAX_SEQ_LEN:
        raise too_big("padding", width, MAX_SEQ_LEN)
    if isinstance(width, int):
        rt.charge(max(width, 0) // BYTES_PER_GAS)
    return args


def _chk_extend(
    rt: Runtime, lst: Any, args: tuple[Any, ...], kw: dict[str, Any]
) -> tuple[Any, ...]:
    items = rt.materialize(_arg(args, kw, 0, "iterable", ()))
    if len(lst) + len(items) > MAX_SEQ_LEN:
        raise too_big("extend()", len(lst) + len(items), MAX_SEQ_LEN)
    return (items,)


def _chk_update(rt: Runtime, d: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(rt.charged(a) for a in args)


def _chk_sort(rt: Runtime, lst: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple[Any, ...]:
    rt.charge(len(lst) * max(1, len(lst).bit_length()) // ITEMS_PER_GAS)
    return args


def _chk_to_bytes(
    rt: Runtime, n: Any, args: tuple[Any, ...], kw: dict[str, Any]
) -> tuple[Any, ...]:
    length = _arg(args, kw, 0, "length", 1)
    if isinstance(length, int) and length > MAX_INT_BITS // 8 + 1:
        raise ContractError(f"to_bytes() length above {MAX_INT_BITS // 8 + 1}")
    return args


def _chk_from_bytes(
    rt: Runtime, n: Any, args: tuple[Any, ...], kw: dict[str, Any]
) -> tuple[Any, ...]:
    data = _arg(args, kw, 0, "bytes", b"")
    if not isinstance(data, bytes) or len(data) > MAX_INT_BITS // 8:
        raise ContractError(f"from_bytes() takes bytes of at most {MAX_INT_BITS // 8} bytes")
    return args


def _chk_codec(rt: Runtime, s: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple[Any, ...]:
    check_encoding(_arg(args, kw, 0, "encoding", None))
    return args


METHOD_CHECKS: dict[
    str, Callable[[Runtime, Any, tuple[Any, ...], dict[str, Any]], tuple[Any, ...]]
] = {
    "replace": _chk_replace,
    "join": _chk_join,
    "zfill": _chk_width,
    "ljust": _chk_width,
    "rjust": _chk_width,
    "center": _chk_width,
    "extend": _chk_extend,
    "update": _chk_update,
    "sort": _chk_sort,
    "to_bytes": _chk_to_bytes,
    "from_bytes": _chk_from_bytes,
    "encode": _chk_codec,
    "decode": _chk_codec,
}
