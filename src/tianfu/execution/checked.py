"""The builtins a contract sees: each charged by its operands' sizes before it runs.

`CheckedBuiltins` is the part of the `Runtime` (`tianfu.execution.runtime`) that implements
`int str bytes list tuple dict range sorted sum min max any all abs divmod hex bin oct
enumerate zip reversed isinstance pow`; `len bool chr ord` are Python's own (constant work
on anything a contract holds). Sorting, `min` and `max` compare contract values only, and
are charged by the number of comparisons times the largest item they compare
(`walk.measure`); with `key=` the keys are computed first (each call metered as contract
code) and compared instead. Everything that builds an object counts its bytes
(`costs.MAX_TX_MEMORY`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tianfu import unicode14
from tianfu.execution import errors
from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import (
    BUILTIN_GAS,
    ITEMS_PER_GAS,
    ITER_BYTES,
    LOOP_GAS,
    MEM_BYTES_PER_GAS,
    SLOT_BYTES,
    SMALL_BYTES,
    bytes_bytes,
    bytes_gas,
    dict_bytes,
    int_parse_gas,
    items_gas,
    seq_bytes,
    sort_gas,
    str_bytes,
)
from tianfu.execution.iterables import DICT_ITEMS as _DICT_ITEMS
from tianfu.execution.iterables import (
    FRESH_ITEMS,
    FreshEnumerate,
    FreshReversed,
    FreshZip,
    enumerate_fresh,
    fresh_bytes,
    made_bytes,
    renamed,
)
from tianfu.execution.keys import store_key
from tianfu.execution.limits import (
    MAX_CALL_DEPTH,
    MAX_INT_STR,
    MAX_RANGE,
    MAX_SEQ_LEN,
    MAX_WALK_DEPTH,
    check_encoding,
    too_big,
    too_big_count,
)
from tianfu.execution.walk import CONTAINER_UNITS, WalkError, measure, units_gas

if TYPE_CHECKING:
    from tianfu.execution.meter import Meter

_MISSING = object()
_KEPT_GAS = (SLOT_BYTES + SMALL_BYTES) // MEM_BYTES_PER_GAS  # an item kept: its memory
_INT64 = 1 << 63
_FLAT_INTS = frozenset({int, bool})
_SIZED = frozenset({list, tuple, str, bytes, range, type({}.keys()), type({}.values())})
# Iterables whose iteration runs no contract code: `enumerate`/`zip` over anything else
# (an iterator, a generator) pull from it through `pulled`, one level of call depth.
_FLAT_ITERABLES = _SIZED | {dict, type({}.items())}


# Sized sequences a key function can change (or, a view, that have no index).
_LIVE = frozenset({list, type({}.keys()), type({}.values())})


def _fail(cls: type[BaseException], message: str) -> BaseException:
    return errors.own(cls, message)


def _int64(x: Any, what: str) -> int:
    if type(x) is not int and type(x) is not bool:
        raise _fail(TypeError, f"{what} takes integers")
    if not -_INT64 <= x < _INT64:
        raise ContractError(f"{what} takes integers of at most 64 bits")
    return int(x)


def compare_units(m: Meter, keys: list[Any] | tuple[Any, ...]) -> int:
    """The most work one comparison of two of `keys` can take, in walk units (and a check
    that every key is a contract value). Keys that are containers are walked one by one,
    each walk charged as it is made (its units and `CONTAINER_UNITS` for the call), so the
    meter stops a walk of more keys than the gas left pays for."""
    types = set(map(type, keys))
    if types <= _FLAT_INTS:
        big = max(map(int.bit_length, keys), default=0) if keys else 0
        return 1 + big // 512
    if types <= {str} or types <= {bytes}:
        return 1 + max(map(len, keys), default=0) // 32
    worst = 1
    for k in keys:
        u = measure(m, k, "compare")
        m.charge(units_gas(u + CONTAINER_UNITS))
        if u > worst:
            worst = u
    return worst


def _spec_units(m: Meter, spec: tuple[Any, ...]) -> int:
    """The items of the tuple `spec` of `isinstance` and of every tuple in it, with
    repetition. Raises `WalkError` past `MAX_WALK_DEPTH` levels, and out of gas as soon as
    the walk would take more than the gas left."""
    budget = max(m.left, 0) * _SPEC_ITEMS_PER_GAS + _SPEC_ITEMS_PER_GAS
    units = 0
    stack = [(spec, 0)]
    while stack:
        x, depth = stack.pop()
        if depth >= MAX_WALK_DEPTH:
            raise WalkError(
                f"isinstance() takes a tuple of types nested at most {MAX_WALK_DEPTH} levels"
            )
        units += len(x)
        if units > budget:
            m.charge(m.left + 1)  # more work than the gas left: out of gas
        stack.extend((item, depth + 1) for item in x if type(item) is tuple)
    return units


# Items of an `isinstance` tuple walked, mapped and tested per gas, past the first three
# (covered by `BUILTIN_GAS`, as when the source names them: `isinstance(x, (int, str))`).
# At 4 a gas, a tuple of 100,000 items took ~5.6-6.4x a plain loop's CPU per gas.
_SPEC_ITEMS_PER_GAS = 2
_SPEC_FREE_ITEMS = 3


class CheckedBuiltins:
    """Checked builtins (mixed into `Runtime`, whose `m` is the transaction's meter)."""

    m: Meter
    _types: dict[Any, type]

    def builtins(self) -> dict[str, Any]:
        """The only builtins a contract sees (one dict per runtime, never written to)."""
        from tianfu.execution.runtime import _VISIBLE, EXCEPTION_NAMES, sandbox_view

        table: dict[str, Any] = {
            "len": len,
            "bool": bool,
            "chr": chr,
            "ord": ord,
            "int": self.b_int,
            "str": self.b_str,
            "bytes": self.b_bytes,
            "list": self.b_list,
            "tuple": self.b_tuple,
            "dict": self.b_dict,
            "range": self.b_range,
            "sorted": self.b_sorted,
            "sum": self.b_sum,
            "min": self.b_min,
            "max": self.b_max,
            "any": self.b_any,
            "all": self.b_all,
            "abs": self.b_abs,
            "divmod": self.b_divmod,
            "hex": self.b_hex,
            "bin": self.b_bin,
            "oct": self.b_oct,
            "enumerate": self.b_enumerate,
            "zip": self.b_zip,
            "reversed": self.b_reversed,
            "pow": self.b_pow,
            "isinstance": self.b_isinstance,
            "view": sandbox_view,
        }
        for name in EXCEPTION_NAMES:
            table[name] = _VISIBLE[name]
        self._types = {
            table["int"]: int,
            table["str"]: str,
            table["bytes"]: bytes,
            table["list"]: list,
            table["tuple"]: tuple,
            table["dict"]: dict,
        }
        return table

    def b_str(self, value: Any = "", *encoding: Any) -> str:
        self.m.charge(BUILTIN_GAS)
        return self.text(value, *encoding)  # type: ignore[attr-defined, no-any-return]

    # -- consuming iterables --------------------------------------------------------------
    def items(self, obj: Any) -> Any:
        """The items of `obj` as a sized sequence: a list, tuple, str, bytes, range or view
        as it is (the caller charges by its length), a dict's keys, anything else iterated
        one charged item at a time into a new list (its slots counted here)."""
        t = type(obj)
        if t in _SIZED:
            return obj
        if t is dict:
            self.m.charge_alloc(items_gas(len(obj)), seq_bytes(len(obj)))
            return list(obj)
        if t is _DICT_ITEMS:
            self._pairs_charge(len(obj))
            return list(obj)
        mem = SLOT_BYTES + SMALL_BYTES  # (`iterate` adds a `FreshZip` item's fresh bytes)
        out = list(self.iterate(obj, LOOP_GAS + mem // MEM_BYTES_PER_GAS, mem))  # type: ignore[attr-defined]
        if len(out) > MAX_SEQ_LEN:  # (the memory cap stops it long before)
            raise too_big("a sequence", len(out), MAX_SEQ_LEN)
        return out

    def _pairs_charge(self, n: int) -> None:
        """A dict's `n` items made into pairs and kept: charged as the charged loop of
        `items` would (one item and its memory each), all before the C code makes them."""
        self.m.spend(n * (LOOP_GAS + _KEPT_GAS), n * (SLOT_BYTES + SMALL_BYTES))

    def materialize(self, obj: Any) -> Any:
        return self.items(obj)

    def _copy_charge(self, source: Any, seq: Any) -> None:
        """Charge copying the `len(seq)` items of `source` into a new list or tuple."""
        if seq is source or type(source) in _SIZED:
            n = len(seq)
            fresh = n * SMALL_BYTES if type(source) in FRESH_ITEMS else 0
            self.m.charge_alloc(items_gas(n), seq_bytes(n) + fresh)

    def b_list(self, x: Any = ()) -> list[Any]:
        self.m.charge(BUILTIN_GAS)
        seq = self.items(x)
        if type(seq) is list and seq is not x:
            return seq  # built by `items`, counted there
        self._copy_charge(x, seq)
        return list(seq)

    def b_tuple(self, x: Any = ()) -> tuple[Any, ...]:
        self.m.charge(BUILTIN_GAS)
        if type(x) is _DICT_ITEMS:  # the pairs straight into the tuple
            self._pairs_charge(len(x))
            return tuple(x)
        seq = self.items(x)
        if type(seq) is tuple:
            return seq
        self._copy_charge(x, seq)
        return tuple(seq)

    def b_dict(self, x: Any = (), **kwargs: Any) -> dict[Any, Any]:
        self.m.charge(BUILTIN_GAS)
        m = self.m
        if type(x) is dict:
            m.charge_alloc(items_gas(len(x)), dict_bytes(len(x) + len(kwargs)))
            out = dict(x)
        else:
            seq = self.items(x)
            m.charge_alloc(len(seq) * LOOP_GAS, dict_bytes(len(seq) + len(kwargs)))
            out = {}
            for pair in seq:
                if type(pair) not in (tuple, list) or len(pair) != 2:
                    raise _fail(TypeError, "dict() takes a dict or pairs of (key, value)")
                out[store_key(m, pair[0])] = pair[1]
        out.update(kwargs)
        return out

    def b_range(self, *args: Any) -> range:
        self.m.charge(BUILTIN_GAS)
        if not 1 <= len(args) <= 3:
            raise _fail(TypeError, "range() takes 1 to 3 integers")
        ints = [_int64(a, "range()") for a in args]
        r = range(*ints)
        if len(r) > MAX_RANGE:
            raise too_big("range()", len(r), MAX_RANGE)
        self.m.alloc(ITER_BYTES)
        return r

    # -- ordering ---------------------------------------------------------------------------
    def _keys(self, seq: Any, key: Any) -> list[Any] | Any:
        """The keys of `seq` by `key` (each call charged one `LOOP_GAS` here, beyond what
        the key function charges itself: a native one charges nothing)."""
        if key is None:
            return seq
        m = self.m
        m.charge_alloc(len(seq) * LOOP_GAS, seq_bytes(len(seq)) + len(seq) * SMALL_BYTES)
        return [key(item) for item in seq]

    def _keyed(self, seq: Any, key: Any) -> tuple[list[Any], list[Any]]:
        """The items of `seq` (a list or dict view) that `key` was called with, and their
        keys: the key function may change the list meanwhile, and CPython's `min`/`max`
        iterate the live list and answer with one of the items it yielded (one more list
        counted; a view has no index)."""
        n = len(seq)
        self.m.charge_alloc(n * LOOP_GAS, 2 * seq_bytes(n) + n * SMALL_BYTES)
        items: list[Any] = []
        keys: list[Any] = []
        for item in seq:
            keys.append(key(item))
            items.append(item)
        return items, keys

    def b_sorted(self, x: Any, *, key: Any = None, reverse: Any = False) -> list[Any]:
        self.m.charge(BUILTIN_GAS)
        seq = self.items(x)
        if type(seq) in FRESH_ITEMS:  # a str's characters or a range's integers, made and kept
            self.m.alloc(len(seq) * SMALL_BYTES)
        if key is not None and type(seq) in _LIVE and len(seq) <= MAX_SEQ_LEN:
            # CPython's sorted() sorts a copy: a key function changing `x` (or the dict of
            # a view) changes neither the items sorted nor the answer
            self.m.charge_alloc(items_gas(len(x)), seq_bytes(len(x)))
            seq = list(x)
        return self.sort_items(seq, key, reverse)

    def sort_items(self, seq: Any, key: Any, reverse: Any) -> list[Any]:
        """`seq` sorted (by `key`): a sequence no key function can change (`items`' own
        list, a copy, or an immutable one)."""
        n = len(seq)
        if n > MAX_SEQ_LEN:
            raise too_big("sorted()", n, MAX_SEQ_LEN)
        keys = self._keys(seq, key)
        m = self.m
        # the result, and timsort's merge buffer (up to half as many references)
        m.charge_alloc(sort_gas(n, compare_units(m, keys)), 2 * seq_bytes(n))
        try:
            if key is None:
                return sorted(seq, reverse=bool(reverse))
            order = sorted(range(n), key=keys.__getitem__, reverse=bool(reverse))
        except TypeError:
            raise _fail(TypeError, "sorted() compares values of different types") from None
        return list(map(seq.__getitem__, order))

    def _extreme(
        self, pick: Callable[..., Any], what: str, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        key = kw.pop("key", None)
        default = kw.pop("default", _MISSING)
        if kw:
            raise _fail(TypeError, f"{what}() takes only key= and default=")
        seq = self.items(args[0]) if len(args) == 1 else args
        n = len(seq)
        if not n:
            if default is not _MISSING:
                return default
            raise _fail(ValueError, f"{what}() of an empty sequence")
        if key is not None and type(seq) in _LIVE:
            seq, keys = self._keyed(seq, key)
            n = len(seq)
        else:
            keys = self._keys(seq, key)
        m = self.m
        # n comparisons of at most `compare_units` each, rounded once (a floor of n / 16
        # first made every call of fewer than 16 items free of its comparisons' work)
        m.charge(n * compare_units(m, keys) // ITEMS_PER_GAS + units_gas(n))
        try:
            if key is None and type(seq) is not range:
                return pick(seq)
            return seq[pick(range(n), key=keys.__getitem__)]
        except TypeError:
            raise _fail(TypeError, f"{what}() compares values of different types") from None

    def b_min(self, *args: Any, **kwargs: Any) -> Any:
        self.m.charge(BUILTIN_GAS)
        if not args:
            raise _fail(TypeError, "min() takes at least one argument")
        return self._extreme(min, "min", args, kwargs)

    def b_max(self, *args: Any, **kwargs: Any) -> Any:
        self.m.charge(BUILTIN_GAS)
        if not args:
            raise _fail(TypeError, "max() takes at least one argument")
        return self._extreme(max, "max", args, kwargs)

    # -- reductions -------------------------------------------------------------------------
    def b_sum(self, x: Any, start: Any = 0) -> Any:
        self.m.charge(BUILTIN_GAS)
        if type(start) in (str, bytes):
            raise _fail(TypeError, "sum() cannot add text: use join()")
        total = start
        add = self.add  # type: ignore[attr-defined]
        m = self.m
        for item in x if type(x) in _SIZED else self.items(x):
            m.charge(2 * LOOP_GAS)  # the item, and the addition (a call: more than a tick)
            total = add(total, item)
        return total

    def b_any(self, x: Any) -> bool:
        """`any`: stops at the first true item, as Python's does (a generator's later
        items are never computed)."""
        self.m.charge(BUILTIN_GAS)
        if type(x) in _SIZED or type(x) is dict:
            self.m.charge(items_gas(len(x)))
            return any(x)
        return any(self.iterate(x))  # type: ignore[attr-defined, no-any-return]

    def b_all(self, x: Any) -> bool:
        self.m.charge(BUILTIN_GAS)
        if type(x) in _SIZED or type(x) is dict:
            self.m.charge(items_gas(len(x)))
            return all(x)
        return all(self.iterate(x))  # type: ignore[attr-defined, no-any-return]

    def b_isinstance(self, obj: Any, spec: Any) -> bool:
        """`isinstance` with the wrappers of the top level of `spec` mapped to the types
        they stand for. A tuple `spec` is walked first, charged by every item with
        repetition and refused nested deeper than `MAX_WALK_DEPTH`: Python hashes and
        tests nested tuples by C recursion, and tests every item of every one."""
        self.m.charge(BUILTIN_GAS)
        types = self._types
        if type(spec) is tuple:
            units = _spec_units(self.m, spec)
            self.m.charge(max(units - _SPEC_FREE_ITEMS, 0) // _SPEC_ITEMS_PER_GAS)
            spec = tuple(s if type(s) is tuple else types.get(s, s) for s in spec)
        else:
            spec = types.get(spec, spec)
        return isinstance(obj, spec)

    # -- numbers ----------------------------------------------------------------------------
    def b_int(self, x: Any = 0, *base: Any) -> int:
        self.m.charge(BUILTIN_GAS)
        t = type(x)
        if t is str or t is bytes:
            if len(x) > MAX_INT_STR:
                raise ContractError(f"int() of a string longer than {MAX_INT_STR} characters")
            self.m.charge(int_parse_gas(len(x)))
            if t is str and not x.isascii():
                # a digit Unicode 14.0 leaves unassigned is none, as in 3.11 (`unicode14`)
                self.m.charge(unicode14.check_gas(x))
                if unicode14.has_new(x):
                    raise _fail(ValueError, "invalid literal for int()")
            try:
                r = int(x, *base)
            except ValueError:
                raise _fail(ValueError, "invalid literal for int()") from None
            except TypeError:
                raise _fail(TypeError, "int() base must be an integer") from None
            return self._big(r)  # type: ignore[attr-defined, no-any-return]
        if base:
            raise _fail(TypeError, "int() with a base takes a str or bytes")
        if t is int or t is bool:
            return int(x)
        raise _fail(TypeError, f"int() argument must be int, str or bytes, not {t.__name__}")

    def b_divmod(self, a: Any, b: Any) -> Any:
        self.m.charge(BUILTIN_GAS)
        return self.divmod_(a, b)  # type: ignore[attr-defined]

    def b_pow(self, a: Any, b: Any, mod: Any = None) -> Any:
        self.m.charge(BUILTIN_GAS)
        return self.pow(a, b, mod)  # type: ignore[attr-defined]

    def b_abs(self, x: Any) -> int:
        self.m.charge(BUILTIN_GAS)
        if type(x) is int or type(x) is bool:
            return self._big(abs(x))  # type: ignore[attr-defined, no-any-return]
        raise _fail(TypeError, "abs() takes an integer")

    def neg(self, x: Any) -> int:
        """`-x`"""
        if type(x) is int:
            r = -x
            return r if r.bit_length() <= 64 else self._big(r)  # type: ignore[attr-defined, no-any-return]
        if type(x) is bool:
            return -x
        raise _fail(TypeError, f"bad operand type for unary -: {type(x).__name__}")

    def inv(self, x: Any) -> int:
        """`~x`"""
        if type(x) is int or type(x) is bool:
            return self._big(~x)  # type: ignore[attr-defined, no-any-return]
        raise _fail(TypeError, f"bad operand type for unary ~: {type(x).__name__}")

    def _digits(self, fn: Callable[[int], str], x: Any) -> str:
        if type(x) is not int and type(x) is not bool:
            raise _fail(TypeError, f"{fn.__name__}() takes an integer")
        bits = x.bit_length()
        if bits > 64:
            self.m.charge_alloc(bits // 64, str_bytes(bits + 3, False))
        return fn(x)

    def b_hex(self, x: Any) -> str:
        self.m.charge(BUILTIN_GAS)
        return self._digits(hex, x)

    def b_bin(self, x: Any) -> str:
        self.m.charge(BUILTIN_GAS)
        return self._digits(bin, x)

    def b_oct(self, x: Any) -> str:
        self.m.charge(BUILTIN_GAS)
        return self._digits(oct, x)

    # -- lazy iterators -----------------------------------------------------------------------
    def b_enumerate(self, x: Any, start: Any = 0) -> Any:
        self.m.charge(BUILTIN_GAS)
        start = _int64(start, "enumerate()")
        self.m.alloc(ITER_BYTES)
        fresh = enumerate_fresh(x)
        if fresh:
            # a `FreshZip` pulls what is not flat through `pulled` itself; any other
            # iterator is pulled on its own (one more level of call depth, as before)
            if type(x) is not FreshZip:
                x = self._pulled_each(x)
            e: Any = FreshEnumerate(x, start)
            e.fresh = fresh
            return e
        if type(x) in _FLAT_ITERABLES:
            return enumerate(x, start)
        self.m.alloc(ITER_BYTES)
        return self.pulled_tuples(enumerate(x, start))

    def b_zip(self, *iterables: Any, strict: Any = False) -> Any:
        self.m.charge(BUILTIN_GAS)
        k = len(iterables)
        # Beyond four iterables the items are counted as pulled (`_counted`, a wrapper of
        # its own), and each iterable's iterator counts (a dict view's holds a result pair:
        # ~144 bytes): counted flat, zip(*L) over 1,000 views kept ~4.4x the bytes tracked.
        wide = 0 if k <= 4 else ITER_BYTES + k * (SMALL_BYTES + SLOT_BYTES)
        self.m.alloc(ITER_BYTES + seq_bytes(k) + wide)
        fresh = fresh_bytes(iterables) if 1 <= k <= 4 else 0
        flat = all(type(it) in _FLAT_ITERABLES for it in iterables)
        if fresh:  # each iterator that is not flat is pulled on its own: still a `FreshZip`
            if not flat:
                iterables = tuple(self._pulled_each(it) for it in iterables)
            z: Any = FreshZip(*iterables, strict=bool(strict))
            z.fresh = fresh
            return z
        z = zip(*iterables, strict=bool(strict))
        if not flat:
            self.m.alloc(ITER_BYTES)
            z = self.pulled_tuples(z)
        if k <= 4:  # each item fits `SMALL_BYTES` (and a `FreshZip`'s `fresh` bytes)
            return z
        return self._counted(z, seq_bytes(k) + made_bytes(iterables))

    def pulled(self, it: Iterator[Any]) -> Iterator[Any]:
        """The items of `it`, each pull one level of call depth: a generator expression
        (`Runtime.gen`), and `enumerate`/`zip` over an iterator, which pull from the
        iterator inside them through C code (it may be a generator, a Python frame, or
        another such chain), so a chain of them stays as shallow as nested calls."""
        m = self.m
        while True:
            if m.depth >= MAX_CALL_DEPTH:
                m.too_deep()
            m.depth += 1
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                m.depth -= 1
            yield item

    # `pulled` of a zip or enumerate: the same code under a name of its own, so that a zip
    # or enumerate over it knows each item is a fresh tuple (`iterables.makes_tuples`).
    pulled_tuples = renamed(pulled, "CheckedBuiltins.pulled_tuples")

    def _pulled_each(self, it: Any) -> Any:
        """`it` as a `FreshZip` zips it: itself if flat, else its iterator through `pulled`."""
        if type(it) in _FLAT_ITERABLES:
            return it
        self.m.alloc(ITER_BYTES)
        return self.pulled(iter(it))

    def _counted(self, it: Iterator[Any], nbytes: int) -> Iterator[Any]:
        m = self.m
        for item in it:
            m.alloc(nbytes)
            yield item

    def b_reversed(self, x: Any) -> Any:
        self.m.charge(BUILTIN_GAS)
        self.m.alloc(ITER_BYTES)
        if type(x) is str and not x.isascii():  # each item a fresh character
            return FreshReversed(x)
        try:
            return reversed(x)
        except TypeError:
            raise _fail(TypeError, f"reversed() cannot reverse {type(x).__name__}") from None

    # -- bytes ------------------------------------------------------------------------------
    def b_bytes(self, x: Any = b"", *enc: Any) -> bytes:
        self.m.charge(BUILTIN_GAS)
        t = type(x)
        m = self.m
        if t is int or t is bool:
            if x < 0:
                raise _fail(ValueError, "negative count")
            if x > MAX_SEQ_LEN:
                raise too_big_count(m, "bytes()", x, MAX_SEQ_LEN)
            m.charge_alloc(bytes_gas(x), bytes_bytes(x))
            return bytes(x)
        if t is str:
            encoding = enc[0] if enc else None
            if encoding is None:
                raise _fail(TypeError, "bytes() of a str needs an encoding")
            check_encoding(encoding)
            n = len(x) * (4 if not x.isascii() else 1)
            if n > MAX_SEQ_LEN:
                raise too_big("bytes()", n, MAX_SEQ_LEN)
            m.charge_alloc(bytes_gas(n), bytes_bytes(n))
            try:
                return bytes(x, encoding)
            except UnicodeEncodeError:
                raise _fail(ValueError, f"text cannot be encoded as {encoding}") from None
        if enc:
            raise _fail(TypeError, "bytes() with an encoding takes a str")
        if t is bytes:
            return x  # type: ignore[no-any-return]
        seq = self.items(x)
        if len(seq) > MAX_SEQ_LEN:
            raise too_big("bytes()", len(seq), MAX_SEQ_LEN)
        m.charge_alloc(items_gas(len(seq)), bytes_bytes(len(seq)))
        try:
            return bytes(seq)
        except (TypeError, ValueError):
            raise _fail(ValueError, "bytes() takes integers from 0 to 255") from None
