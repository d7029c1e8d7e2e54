"""The methods of contract values a contract may call, each charged before it runs.

`Runtime.getattr` (in `tianfu.execution.runtime`) exposes, per exact type, only the methods
listed in `METHODS`. Every one has a cost function in `_COSTS` that charges, from the
sizes of the object and the arguments, an upper bound of the work the method does and of
the bytes its result takes — searches by `costs.search_gas`, case mappings by the three
characters one character may become, splits by an exact count of the separator — and
refuses results past `MAX_SEQ_LEN` before any of it is built. A method without a cost
function cannot be listed (`test_every_method_is_costed`). Errors come out with the
sandbox's own wording (`tianfu.execution.errors`).

Removed from the allow-list on purpose: `expandtabs` (output grows with the tab size),
`translate`/`maketrans`/`format`/`format_map` (unbounded or reach attributes), `bytes.hex`
with a separator argument is accepted but charged for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tianfu.execution import errors
from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import (
    DICT_ENTRY_BYTES,
    ITER_BYTES,
    LOOP_GAS,
    OBJ_BYTES,
    SLOT_BYTES,
    SMALL_BYTES,
    added_bytes,
    bytes_bytes,
    bytes_gas,
    dict_bytes,
    int_bytes,
    items_gas,
    rsearch_gas,
    search_gas,
    seq_bytes,
    str_bytes,
    strip_gas,
)
from tianfu.execution.keys import store_key
from tianfu.execution.limits import (
    MAX_INT_BITS,
    MAX_SEQ_LEN,
    check_encoding,
    too_big,
    too_big_count,
)
from tianfu.execution.method_objects import method_object
from tianfu.execution.walk import hashable_key

if TYPE_CHECKING:
    from tianfu.execution.runtime import Runtime

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

Args = tuple[Any, ...]
Kw = dict[str, Any]
Cost = Callable[["Runtime", Any, Args, Kw], Args]


def _fail(cls: type[BaseException], message: str) -> BaseException:
    return errors.own(cls, message)


def _arg(args: Args, kw: Kw, i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kw.get(name, default)


def _wide(s: Any) -> bool:
    return type(s) is str and not s.isascii()


def _text_mem(s: Any, n: int, wide: bool | None = None) -> int:
    if type(s) is bytes:
        return bytes_bytes(n)
    return str_bytes(n, _wide(s) if wide is None else wide)


def _same(s: Any, x: Any, what: str) -> Any:
    if type(x) is not type(s):
        raise _fail(TypeError, f"{what} takes a {type(s).__name__}")
    return x


def _cap(what: str, n: int) -> None:
    if n > MAX_SEQ_LEN:
        raise too_big(what, n, MAX_SEQ_LEN)


# -- text: searching ---------------------------------------------------------------------


def _needle(s: Any, sub: Any) -> int:
    if type(s) is bytes and (type(sub) is int or type(sub) is bool):
        return 1
    return len(_same(s, sub, "a search"))


def _c_search(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    rt.m.charge(search_gas(len(s), _needle(s, _arg(args, kw, 0, "sub", None))))
    return args


def _c_rsearch(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    rt.m.charge(rsearch_gas(len(s), _needle(s, _arg(args, kw, 0, "sub", None))))
    return args


def _c_affix(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    """`startswith` / `endswith`: each affix tested (a tuple's items checked at C speed,
    each test a call into C: half a gas), and their bytes."""
    affix = _arg(args, kw, 0, "prefix", None)
    if type(affix) is not tuple:
        rt.m.charge(bytes_gas(len(_same(s, affix, "startswith()/endswith()"))))
        return args
    n = len(affix)
    rt.m.charge(n // _AFFIXES_PER_GAS)
    if n and set(map(type, affix)) != {type(s)}:
        raise _fail(TypeError, f"startswith()/endswith() takes a {type(s).__name__}")
    rt.m.charge(bytes_gas(sum(map(len, affix))))
    return args


# Affixes of a tuple tested per gas: each is a type check, a length and a call of C's
# match (~0.05 us; a plain loop's gas is ~0.04 us): at 16 a gas, `s.startswith(T)` of
# 100,000 one-character affixes took ~12-16x a plain loop's CPU per gas.
_AFFIXES_PER_GAS = 2


def _pieces(rt: Runtime, s: Any, n_pieces: int) -> None:
    """Charge a split into at most `n_pieces` pieces of `s`."""
    n = len(s)
    rt.m.charge_alloc(
        bytes_gas(n) + items_gas(n_pieces),
        seq_bytes(n_pieces) + n_pieces * OBJ_BYTES + _text_mem(s, n) - OBJ_BYTES,
    )


def _split_count(rt: Runtime, s: Any, args: Args, kw: Kw, reverse: bool) -> Args:
    sep = _arg(args, kw, 0, "sep", None)
    maxsplit = _arg(args, kw, 1, "maxsplit", -1)
    if type(maxsplit) is not int:
        raise _fail(TypeError, "maxsplit must be an integer")
    if sep is None:
        pieces = len(s) // 2 + 1
    else:
        m = len(_same(s, sep, "split()"))
        if not m:
            raise _fail(ValueError, "empty separator")
        rt.m.charge((rsearch_gas if reverse else search_gas)(len(s), m))
        pieces = s.count(sep) + 1
    if maxsplit >= 0:
        pieces = min(pieces, maxsplit + 1)
    if reverse and sep is not None:
        rt.m.charge(rsearch_gas(len(s), len(sep)))
    _pieces(rt, s, pieces)
    return args


def _c_split(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    return _split_count(rt, s, args, kw, False)


def _c_rsplit(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    return _split_count(rt, s, args, kw, True)


_LINE_BREAKS = ("\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _c_splitlines(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    breaks = (b"\n", b"\r") if type(s) is bytes else _LINE_BREAKS
    rt.m.charge(len(breaks) * bytes_gas(len(s)))
    _pieces(rt, s, 1 + sum(s.count(b) for b in breaks))
    return args


def _partition(
    rt: Runtime, s: Any, args: Args, kw: Kw, name: str, gas: Callable[[int, int], int]
) -> Args:
    """`partition` / `rpartition`: the search for the separator (`gas`), three pieces."""
    m = len(_same(s, _arg(args, kw, 0, "sep", None), name))
    if not m:
        raise _fail(ValueError, "empty separator")
    rt.m.charge(gas(len(s), m))
    _pieces(rt, s, 3)
    return args


def _c_partition(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    return _partition(rt, s, args, kw, "partition()", search_gas)


def _c_rpartition(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    return _partition(rt, s, args, kw, "rpartition()", rsearch_gas)


# -- text: building ---------------------------------------------------------------------------


def _scan(lookups: int) -> Cost:
    """A predicate (`isdigit`, ...): one pass, no result to build. On a str each character
    is looked up in the Unicode tables, `lookups` times at most (`isalnum` tests alpha,
    decimal, digit and numeric in turn: over numeric characters it took ~12x a plain
    loop's CPU per gas at one `bytes_gas` a pass; `islower`, `isupper` and `istitle` two
    tests, ~5x); bytes are tested by a table of their own, one pass."""

    def cost(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
        gas = bytes_gas(len(s))
        rt.m.charge(gas * lookups if type(s) is str else gas)
        return args

    return cost


_c_scan = _scan(1)
_SCAN_LOOKUPS = {"isalnum": 4, "islower": 2, "isupper": 2, "istitle": 2}


def _c_copy_text(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    """A result at most as long as `s` (`removeprefix`, ...)."""
    n = len(s)
    rt.m.charge_alloc(bytes_gas(n), _text_mem(s, n))
    return args


def _c_strip(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    chars = _arg(args, kw, 0, "chars", None)
    m = 0 if chars is None else len(_same(s, chars, "strip()"))
    rt.m.charge_alloc(strip_gas(len(s), m), _text_mem(s, len(s)))
    return args


def _case(ascii_fast: bool) -> Cost:
    """Case mappings: a character may become up to three (`'ß'.upper() == 'SS'`,
    `'ﬃ'.upper() == 'FFI'`), so the result is bounded by 3x unless the text is ASCII.
    CPython maps a str through a work buffer of three 4-byte characters per character
    (`_CASE_BUFFER` bytes), each looked up in the Unicode tables, except ASCII text by
    `lower`, `upper` and `casefold` (`ascii_fast`), copied through a table; bytes through
    a table. ASCII `swapcase`/`title`/`capitalize` were charged as the fast path: ~5-6.5x a
    plain loop's CPU per gas, and 13 bytes held a character for one tracked."""

    def cost(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
        n = len(s)
        if type(s) is not str or (ascii_fast and s.isascii()):
            rt.m.charge_alloc(bytes_gas(n), _text_mem(s, n))
            return args
        ascii_text = s.isascii()  # then mapped one character to one
        out = n if ascii_text else 3 * n
        if out > MAX_SEQ_LEN:
            raise ContractError(
                f"case mapping of non-ASCII text longer than {MAX_SEQ_LEN // 3} characters"
            )
        rt.m.charge_alloc(
            bytes_gas(out) * 4, OBJ_BYTES + _CASE_BUFFER * n + str_bytes(out, not ascii_text)
        )
        return args

    return cost


_CASE_BUFFER = 12  # bytes of CPython's work buffer per character mapped
_c_case = _case(True)
_c_case_slow = _case(False)  # no ASCII fast path in CPython


def _c_replace(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    old = _same(s, _arg(args, kw, 0, "old", None), "replace()")
    new = _same(s, _arg(args, kw, 1, "new", None), "replace()")
    count = _arg(args, kw, 2, "count", -1)
    if type(count) is not int:
        raise _fail(TypeError, "replace() count must be an integer")
    rt.m.charge(search_gas(len(s), len(old)))
    k = len(s) + 1 if not old else s.count(old)
    if count >= 0:
        k = min(k, count)
    size = len(s) + k * (len(new) - len(old))
    _cap("replace()", size)
    rt.m.charge_alloc(
        search_gas(len(s), len(old)) + bytes_gas(size), _text_mem(s, size, _wide(s) or _wide(new))
    )
    return args


def _c_join(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    """Every item pays `LOOP_GAS` first: the checks below visit each item two or three
    times through C calls (its type, its length, whether it is ASCII), ~2-3x a plain
    loop's CPU per item; then the result pays by its bytes."""
    items = rt.items(_arg(args, kw, 0, "iterable", ()))
    n = len(items)
    rt.m.charge(n * LOOP_GAS)
    t = type(s)
    if list(map(type, items)).count(t) != n:
        raise _fail(TypeError, f"join() takes {t.__name__} items only")
    total = sum(map(len, items)) + len(s) * max(n - 1, 0)
    _cap("join()", total)
    wide = t is str and (_wide(s) or not all(map(t.isascii, items)))
    rt.m.charge_alloc(bytes_gas(total), _text_mem(s, total, wide))
    return (items,)


def _c_width(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    width = _arg(args, kw, 0, "width", 0)
    if type(width) is not int:
        raise _fail(TypeError, "width must be an integer")
    fill = _arg(args, kw, 1, "fillchar", None)
    if fill is not None and (type(fill) is not type(s) or len(fill) != 1):
        raise _fail(TypeError, "the fill character must be one character")
    n = max(width, len(s))
    if n > MAX_SEQ_LEN:
        raise too_big_count(rt.m, "padding", n, MAX_SEQ_LEN)
    rt.m.charge_alloc(bytes_gas(n), _text_mem(s, n, _wide(s) or _wide(fill)))
    return args


def _c_encode(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    check_encoding(_arg(args, kw, 0, "encoding", None))
    if _arg(args, kw, 1, "errors", "strict") != "strict":
        raise ContractError("only errors='strict' is allowed")
    n = len(s) * (1 if s.isascii() else 4)
    _cap("encode()", n)
    rt.m.charge_alloc(bytes_gas(n), bytes_bytes(n))
    return args


def _c_decode(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    encoding = _arg(args, kw, 0, "encoding", None)
    check_encoding(encoding)
    if _arg(args, kw, 1, "errors", "strict") != "strict":
        raise ContractError("only errors='strict' is allowed")
    n = len(s)
    rt.m.charge_alloc(bytes_gas(n) * 2, str_bytes(n))
    return args


def _c_hex(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    n = 3 * len(s) if (args or kw) else 2 * len(s)
    _cap("hex()", n)
    rt.m.charge_alloc(bytes_gas(n), str_bytes(n, False))
    return args


def _c_fromhex(rt: Runtime, s: Any, args: Args, kw: Kw) -> Args:
    text = _arg(args, kw, 0, "string", None)
    if type(text) is not str:
        raise _fail(TypeError, "fromhex() takes a str")
    rt.m.charge_alloc(bytes_gas(len(text)) * 2, bytes_bytes(len(text) // 2))
    return args


# -- lists, tuples, dicts -------------------------------------------------------------------


def _each(rt: Runtime, n: int, needle: Any) -> int:
    from tianfu.execution.runtime import _each_gas

    return _each_gas(rt.m, n, needle)


def _c_find_item(rt: Runtime, seq: Any, args: Args, kw: Kw) -> Args:
    """`index`, `count`, `remove`: compare the needle with every item."""
    rt.m.charge(_each(rt, len(seq), _arg(args, kw, 0, "value", None)))
    return args


def _c_append(rt: Runtime, lst: Any, args: Args, kw: Kw) -> Args:
    rt.m.alloc(SLOT_BYTES + SMALL_BYTES)
    return args


def _c_insert(rt: Runtime, lst: Any, args: Args, kw: Kw) -> Args:
    rt.m.charge_alloc(items_gas(len(lst)), SLOT_BYTES + SMALL_BYTES)
    return args


def _c_pop_list(rt: Runtime, lst: Any, args: Args, kw: Kw) -> Args:
    if args or kw:
        rt.m.charge(items_gas(len(lst)))
    return args


def _c_extend(rt: Runtime, lst: Any, args: Args, kw: Kw) -> Args:
    source = _arg(args, kw, 0, "iterable", ())
    items = rt.items(source)
    n = len(lst) + len(items)
    _cap("extend()", n)
    rt.m.charge_alloc(items_gas(len(items)), added_bytes(source, len(items)))
    return (items,)


def _c_linear(rt: Runtime, obj: Any, args: Args, kw: Kw) -> Args:
    """`reverse`, `clear`: one pass over the items."""
    rt.m.charge(items_gas(len(obj)))
    return args


def _c_copy(rt: Runtime, obj: Any, args: Args, kw: Kw) -> Args:
    n = len(obj)
    rt.m.charge_alloc(items_gas(n), dict_bytes(n) if type(obj) is dict else seq_bytes(n))
    return args


def _c_free(rt: Runtime, obj: Any, args: Args, kw: Kw) -> Args:
    """Constant work and no new object (static weights cover it)."""
    return args


def _c_view(rt: Runtime, obj: Any, args: Args, kw: Kw) -> Args:
    rt.m.alloc(ITER_BYTES)
    return args


def _c_key(rt: Runtime, d: Any, args: Args, kw: Kw) -> Args:
    """`get`, `pop`: one hash lookup (a tuple key is walked first)."""
    if args:
        hashable_key(rt.m, args[0])
    return args


def _c_setdefault(rt: Runtime, d: Any, args: Args, kw: Kw) -> Args:
    if args:
        store_key(rt.m, args[0])
    rt.m.alloc(DICT_ENTRY_BYTES + SMALL_BYTES)
    return args


def _c_update(rt: Runtime, d: Any, args: Args, kw: Kw) -> Args:
    if len(args) > 1:
        raise _fail(TypeError, "update() takes one dict or iterable of pairs")
    new = rt.b_dict(args[0], **kw) if args else rt.b_dict(**kw)
    kw.clear()  # consumed into `new` (this call's own dict)
    rt.m.charge_alloc(items_gas(len(new)), len(new) * DICT_ENTRY_BYTES)
    return (new,)


def _c_sort(rt: Runtime, lst: Any, args: Args, kw: Kw) -> Args:
    if args:
        raise _fail(TypeError, "sort() takes only key= and reverse=")
    return args  # the method object does the work, charged as `sorted()`


def _c_to_bytes(rt: Runtime, n: Any, args: Args, kw: Kw) -> Args:
    length = _arg(args, kw, 0, "length", 1)
    if type(length) is not int or not 0 <= length <= MAX_INT_BITS // 8 + 1:
        raise ContractError(f"to_bytes() length above {MAX_INT_BITS // 8 + 1}")
    rt.m.charge_alloc(bytes_gas(length), bytes_bytes(length))
    return args


def _c_from_bytes(rt: Runtime, n: Any, args: Args, kw: Kw) -> Args:
    data = _arg(args, kw, 0, "bytes", b"")
    if type(data) is not bytes or len(data) > MAX_INT_BITS // 8:
        raise ContractError(f"from_bytes() takes bytes of at most {MAX_INT_BITS // 8} bytes")
    rt.m.charge_alloc(bytes_gas(len(data)), int_bytes(8 * len(data)))
    return args


_TEXT_COSTS: dict[str, Cost] = {
    "startswith": _c_affix,
    "endswith": _c_affix,
    "find": _c_search,
    "index": _c_search,
    "count": _c_search,
    "rfind": _c_rsearch,
    "rindex": _c_rsearch,
    "split": _c_split,
    "rsplit": _c_rsplit,
    "splitlines": _c_splitlines,
    "partition": _c_partition,
    "rpartition": _c_rpartition,
    "strip": _c_strip,
    "lstrip": _c_strip,
    "rstrip": _c_strip,
    "lower": _c_case,
    "upper": _c_case,
    "swapcase": _c_case_slow,
    "title": _c_case_slow,
    "capitalize": _c_case_slow,
    "casefold": _c_case,
    "replace": _c_replace,
    "join": _c_join,
    "removeprefix": _c_copy_text,
    "removesuffix": _c_copy_text,
    "zfill": _c_width,
    "ljust": _c_width,
    "rjust": _c_width,
    "center": _c_width,
    "encode": _c_encode,
    "decode": _c_decode,
    "hex": _c_hex,
    "fromhex": _c_fromhex,
    **{
        name: _scan(_SCAN_LOOKUPS.get(name, 1))
        for name in (
            "isdigit isalpha isalnum isspace islower isupper isascii istitle isdecimal "
            "isnumeric isidentifier isprintable"
        ).split()
    },
}
_COSTS: dict[type, dict[str, Cost]] = {
    str: _TEXT_COSTS,
    bytes: _TEXT_COSTS,
    list: {
        "append": _c_append,
        "extend": _c_extend,
        "insert": _c_insert,
        "pop": _c_pop_list,
        "remove": _c_find_item,
        "index": _c_find_item,
        "count": _c_find_item,
        "reverse": _c_linear,
        "sort": _c_sort,
        "copy": _c_copy,
        "clear": _c_linear,
    },
    tuple: {"index": _c_find_item, "count": _c_find_item},
    dict: {
        "get": _c_key,
        "keys": _c_view,
        "values": _c_view,
        "items": _c_view,
        "pop": _c_key,
        "setdefault": _c_setdefault,
        "update": _c_update,
        "copy": _c_copy,
        "clear": _c_linear,
        "popitem": _c_free,
    },
    int: {"bit_length": _c_free, "to_bytes": _c_to_bytes, "from_bytes": _c_from_bytes},
    bool: {"bit_length": _c_free, "to_bytes": _c_to_bytes},
}


def bound_method(rt: Runtime, obj: Any, name: str) -> Callable[..., Any]:
    """`obj.name` for an allowed method: a callable that charges, checks, then calls
    (`tianfu.execution.method_objects`)."""
    cost = _COSTS[type(obj)][name]
    rt.m.alloc(ITER_BYTES)
    return method_object(rt, obj, name, cost)
