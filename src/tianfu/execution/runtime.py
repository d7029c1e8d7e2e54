"""Runtime of sandboxed contract code: the checked operators, comparisons and attribute reads.

The sandbox (`tianfu.execution.sandbox`, `tianfu.execution.instrument`) rewrites a
contract's AST so that operators, comparisons, slices, subscripts, attribute reads, loops
and calls go through the helpers of one `Runtime` per module instance. The runtime is bound
to the transaction's `Meter` for each call (`bind`). Every helper charges what its
operation costs as a function of its operands' sizes (`tianfu.execution.costs`) *before*
doing the work, and refuses results past the fixed caps (`tianfu.execution.limits`), so the
same call uses the same gas — or fails at the same point — on every node. The checked
builtins are in `tianfu.execution.checked`, the value methods in `tianfu.execution.methods`.
"""

from __future__ import annotations

import builtins as _b
import operator
from collections.abc import Callable
from typing import Any

from tianfu import unicode14
from tianfu.execution import errors
from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import (
    BYTES_PER_GAS,
    COMPARES_PER_GAS,
    EXC_BYTES,
    FUNC_BYTES,
    LOOP_GAS,
    MEM_BYTES_PER_GAS,
    REPR_CHAR_GAS,
    SMALL_BYTES,
    bytes_bytes,
    bytes_gas,
    dict_bytes,
    int_str_gas,
    items_gas,
    search_gas,
    seq_bytes,
    str_bytes,
)
from tianfu.execution.iterables import FRESH_KEPT, ITEMS_VIEW, ITERATORS, KEY_VIEWS, VALUES_VIEW
from tianfu.execution.keys import deleted, store_key
from tianfu.execution.limits import (  # noqa: F401 - re-exported: tests and tools read them here
    CALL_GAS,
    CTX_GAS,
    ITEMS_PER_GAS,
    MAX_CALL_DEPTH,
    MAX_INT_BITS,
    MAX_INT_STR,
    MAX_RANGE,
    MAX_SEQ_LEN,
    MAX_VALUE_ITEMS,
    TEXT_ENCODINGS,
    check_encoding,
    sanitize,
    too_big,
)
from tianfu.execution.meter import Meter, charge_source
from tianfu.execution.methods import METHODS, bound_method
from tianfu.execution.operators import (
    _SHORT_WIDE,
    CheckedOperators,
    _fail,
    _isint,
)
from tianfu.execution.walk import (
    SCALARS,
    VALUE_TYPES,
    copy_value,
    hashable_key,
    measure,
    repr_bound,
    units_gas,
)

# `a in b` for text: a haystack this short is covered by the comparison's static weight.
_SHORT_SEARCH = 64


def _gen(name: str, params: str, body: str, **names: Any) -> Any:
    """A helper made from `meter.charge_source` (the single definition of a charge), its
    body seeing `names`."""
    src = f"def {name}({params}):\n" + "".join(f"    {ln}\n" for ln in body.splitlines())
    ns: dict[str, Any] = dict(names)
    exec(compile(src, f"<gas.{name}>", "exec"), ns)  # noqa: S102 - our own template
    return ns[name]


def _indent(text: str, n: int) -> str:
    return "".join(" " * n + ln + "\n" for ln in text.splitlines())


class Runtime(CheckedOperators):
    """The helpers of one module instance, bound to one transaction's meter per call."""

    def __init__(self, meter: Meter | int | None = None) -> None:
        if meter is None or type(meter) is int:
            meter = Meter(meter or 0)
        self.m: Meter = meter  # type: ignore[assignment]
        self.builtins_dict: dict[str, Any] = self.builtins()

    def bind(self, meter: Meter) -> None:
        self.m = meter

    # Views of the meter (tests, tools).
    @property
    def left(self) -> int:
        return self.m.left

    @property
    def used(self) -> int:
        return self.m.used

    @property
    def exhausted(self) -> bool:
        return self.m.exhausted

    # -- loops, lambdas: generated from the meter's one charge definition ------------------
    tick = _gen("tick", "self", "m = self.m\n" + charge_source("m", str(LOOP_GAS), None, False))
    tickn = _gen(
        "tickn", "self, gas, mem", "m = self.m\n" + charge_source("m", "gas", "mem", False)
    )
    iterate = _gen(
        "iterate",
        f"self, obj, gas={LOOP_GAS}, mem=0",
        "m = self.m\n"
        # The items of a `FreshZip`/`FreshEnumerate` hold `fresh` bytes more than a small
        # object: counted as each is made, whatever keeps it (a loop's `d[i] = t`,
        # `L += t`, a comprehension, `list()` of it).
        "if type(obj) in FRESH_KEPT:\n"
        f"    gas += obj.fresh // {MEM_BYTES_PER_GAS}\n"
        "    mem += obj.fresh\n"
        # A generator a contract holds counts each pull from it as a level of call depth
        # itself (`gen`, `pulled`): a loop over it charges its items only.
        "if mem:\n"
        "    for item in obj:\n"
        + _indent(charge_source("m", "gas", "mem", False), 8)
        + "        yield item\n"
        "else:\n"
        "    for item in obj:\n"
        + _indent(charge_source("m", "gas", None, False), 8)
        + "        yield item\n",
        FRESH_KEPT=FRESH_KEPT,
    )
    iterate.__doc__ = (
        "What every `for` loop and comprehension iterates through, charging each item "
        "(and the fresh objects each item of a `FreshZip`/`FreshEnumerate` holds)."
    )
    # What the innermost generator of a list or dict comprehension iterates through: the
    # same charge as any loop's.
    keep = iterate

    def gen(self, g: Any) -> Any:
        """A generator expression as contract code holds it: a generator's next item runs
        its frame, which may pull from another generator, and so on, through Python code
        (a loop) or C code (`in`, a comprehension target unpacking it, `enumerate`), so
        each pull from it is one level of call depth (`pulled`) and a chain of generator
        expressions stays as shallow as nested calls."""
        return self.pulled(g)

    def wrap_lambda(
        self, fn: Callable[..., Any], gas: int = CALL_GAS, mem: int = 0, size: int = FUNC_BYTES
    ) -> Any:
        """A lambda as contract code holds it, its `size` counted (`scopes.scope_sizes`)."""
        self.m.alloc(size)
        return _lambda_wrapper(self, fn, gas, mem)

    def too_deep(self) -> None:
        self.m.too_deep()

    # -- values crossing the boundary -----------------------------------------------------
    def copy_value(self, value: Any, what: str) -> Any:
        """A deep copy of a contract value, charged and bounded (`walk.copy_value`)."""
        return copy_value(self.m, value, what)[0]

    # -- text -----------------------------------------------------------------------------
    def text(self, value: Any = "", *encoding: Any) -> str:
        """`str(x)`: only for contract values and exceptions, charged before it is built."""
        t = type(value)
        m = self.m
        if encoding:
            if t is not bytes:
                raise _fail(TypeError, "str() with an encoding takes bytes")
            check_encoding(encoding[0])
            n = len(value)
            m.charge_alloc(bytes_gas(n), str_bytes(n))
            try:
                return str(value, encoding[0])
            except UnicodeDecodeError:
                raise _fail(ValueError, f"bytes are not valid {encoding[0]}") from None
        if t is str:
            return value
        if t is int or t is bool or value is None:
            bits = value.bit_length() if value is not None else 0
            m.charge_alloc(int_str_gas(bits), str_bytes(bits // 3 + 2, False))
            return str(value)
        if isinstance(value, BaseException):
            s = errors.message_of(value)
            m.alloc(str_bytes(len(s)))
            return s
        if t in VALUE_TYPES:  # bytes, list, tuple, dict: their repr
            n, wide = repr_bound(m, value)
            if n > MAX_SEQ_LEN:
                raise too_big("str()", n, MAX_SEQ_LEN)
            m.charge_alloc(bytes_gas(n), str_bytes(n, wide))
            # a character Unicode 14.0 leaves unassigned is escaped, as 3.11 does
            return unicode14.fix_repr(repr(value)) if wide else repr(value)
        raise ContractError(f"cannot convert {t.__name__} to str")

    def fpart(self, value: Any) -> str:
        """An f-string field: `str(value)`, and its share of the string being built."""
        s = value if type(value) is str else self.text(value)
        n = len(s)
        if n >= BYTES_PER_GAS or (n > _SHORT_WIDE and not s.isascii()):
            self.m.charge_alloc(bytes_gas(n), str_bytes(n, not s.isascii()))
        return s

    # -- comparisons ----------------------------------------------------------------------
    def eq(self, a: Any, b: Any) -> bool:
        ta = type(a)
        if ta is type(b):
            if ta is int:
                return a == b  # type: ignore[no-any-return]
            if ta is str or ta is bytes:
                n = len(a)
                if n >= BYTES_PER_GAS and n == len(b):
                    self.m.charge(bytes_gas(n))
                return a == b  # type: ignore[no-any-return]
        return self._compare(0, a, b)  # type: ignore[no-any-return]

    def ne(self, a: Any, b: Any) -> bool:
        return not self.eq(a, b)

    def lt(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            return a < b  # type: ignore[no-any-return]
        return self._compare(2, a, b)  # type: ignore[no-any-return]

    def le(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            return a <= b  # type: ignore[no-any-return]
        return self._compare(3, a, b)  # type: ignore[no-any-return]

    def gt(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            return a > b  # type: ignore[no-any-return]
        return self._compare(4, a, b)  # type: ignore[no-any-return]

    def ge(self, a: Any, b: Any) -> bool:
        if type(a) is int and type(b) is int:
            return a >= b  # type: ignore[no-any-return]
        return self._compare(5, a, b)  # type: ignore[no-any-return]

    def _compare(self, op: int, a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if ta not in VALUE_TYPES or tb not in VALUE_TYPES:
            raise _fail(
                TypeError,
                f"cannot compare {ta.__name__} and {tb.__name__}: only contract values compare",
            )
        if op < 2 and ta is tb and ta is not int and ta is not bool and a is not None:
            if len(a) != len(b):  # equality of containers or text of different lengths
                return op == 1
        if ta in SCALARS and tb in SCALARS:
            if ta is str or ta is bytes:
                self.m.charge(bytes_gas(min(len(a), len(b)) if tb is ta else 0))
        else:
            m = self.m
            m.charge(units_gas(measure(m, a, "compare") + measure(m, b, "compare")))
        try:
            return _CMP[op](a, b)
        except TypeError:
            raise _fail(
                TypeError,
                f"'{_CMP_SYMBOLS[op]}' is not supported between {ta.__name__} and {tb.__name__}",
            ) from None

    def in_(self, a: Any, b: Any) -> bool:
        """`a in b`, charged by what the search visits."""
        tb = type(b)
        m = self.m
        if tb is dict or tb in KEY_VIEWS:
            hashable_key(m, a)
            return a in b
        if tb is str or tb is bytes:
            if tb is bytes and _isint(a):
                m.charge(bytes_gas(len(b)))
                return a in b
            if type(a) is not tb:
                raise _fail(TypeError, f"'in <{tb.__name__}>' needs a {tb.__name__} on the left")
            n = len(b)
            if n > _SHORT_SEARCH and len(a) <= n:  # a shorter scan: the node's weight
                m.charge(search_gas(n, len(a)))
            return a in b
        if tb is range:
            if type(a) is not int:  # not the O(1) test: a scan making an int per item
                m.charge(len(b) // 4)
            return a in b
        if tb is list or tb is tuple or tb is VALUES_VIEW:
            m.charge(_each_gas(m, len(b), a))
            return a in b
        if tb is ITEMS_VIEW:
            if type(a) is not tuple or len(a) != 2:
                return False
            hashable_key(m, a[0])
            m.charge(units_gas(measure(m, a[1], "compare")))
            return a in b
        if tb in ITERATORS:
            per = 1 + _each_gas(m, 1, a)
            for item in b:
                m.charge(per)
                if self.eq(item, a):
                    return True
            return False
        raise _fail(TypeError, f"'in' is not supported for {tb.__name__} objects")

    def not_in(self, a: Any, b: Any) -> bool:
        return not self.in_(a, b)

    # -- subscripts, slices, unpacking --------------------------------------------------------
    def key(self, k: Any) -> Any:
        """A subscript index or dict key that is not a str or int (see `instrument`)."""
        return hashable_key(self.m, k)

    def skey(self, k: Any) -> Any:
        """A key stored into a dict that is not a str or a small int (`keys.store_key`)."""
        return store_key(self.m, k)

    def delitem(self, obj: Any, key: Any) -> None:
        """`del obj[key]` (the key already checked as a subscript index)."""
        t = type(obj)
        if t is list:
            self.m.charge(items_gas(len(obj)))
        del obj[key]
        if t is dict:
            deleted(self.m, obj)

    def slice(self, obj: Any, lo: Any, hi: Any, step: Any) -> Any:
        t = type(obj)
        for v in (lo, hi, step):
            if v is not None and not _isint(v):
                raise _fail(TypeError, "slice indices must be integers or None")
        if step == 0:
            raise _fail(ValueError, "slice step cannot be zero")
        if t is range:
            return obj[lo:hi:step]
        if t not in (str, bytes, list, tuple):
            raise _fail(TypeError, f"{t.__name__} objects cannot be sliced")
        n = len(range(*_b.slice(lo, hi, step).indices(len(obj))))
        if n:
            m = self.m
            if t is str:
                m.charge_alloc(bytes_gas(n), str_bytes(n, not obj.isascii()))
            elif t is bytes:
                m.charge_alloc(bytes_gas(n), bytes_bytes(n))
            else:
                m.charge_alloc(items_gas(n), seq_bytes(n))
        return obj[lo:hi:step]

    def star(self, x: Any) -> Any:
        """`*x` in a call, a display or an assignment: the items, charged and counted."""
        t = type(x)
        m = self.m
        if t is list or t is tuple:
            m.charge_alloc(items_gas(len(x)), seq_bytes(len(x)))
            return x
        if t is str or t is bytes or t is range or t is dict or t in KEY_VIEWS:
            n = len(x)
            if n > MAX_SEQ_LEN:
                raise too_big("an unpacking", n, MAX_SEQ_LEN)
            m.charge_alloc(items_gas(n), seq_bytes(n) + n * SMALL_BYTES)
            return x
        items = self.materialize(x)
        m.alloc(seq_bytes(len(items)))
        return items

    def dstar(self, x: Any) -> Any:
        """`**x` in a call or a dict display."""
        if type(x) is not dict:
            raise _fail(TypeError, "'**' takes a dict")
        self.m.charge_alloc(items_gas(len(x)), dict_bytes(len(x)))
        return x

    # -- exceptions -------------------------------------------------------------------------
    def exc(self, cls: Any, *args: Any) -> BaseException:
        """`E(...)` for an exception class a contract names: its message made now, bounded."""
        gas = errors.int_message_gas(args)
        if gas:
            self.m.charge(gas)
        exc = errors.constructed(cls, args)
        n = len(str(_b.getattr(exc, errors.ATTR)))
        self.m.alloc(EXC_BYTES + n)
        if errors.walked(args):  # the message was made by a walk, a character at a time
            self.m.charge(REPR_CHAR_GAS * n)
        return exc

    def caught(self, exc: BaseException) -> BaseException:
        """What `except E as name` binds (see `errors.caught`)."""
        if isinstance(exc, KeyError) and _b.getattr(exc, errors.ATTR, None) is None:
            # the interpreter's: its message is its key's bounded repr, made now
            gas = errors.int_message_gas(exc.args)
            if gas:
                self.m.charge(gas)
        copy = errors.caught(exc, _VISIBLE)
        n = len(str(_b.getattr(copy, errors.ATTR)))
        self.m.alloc(EXC_BYTES + n)
        if isinstance(exc, KeyError) and errors.walked(exc.args):  # a key's bounded repr
            self.m.charge(REPR_CHAR_GAS * n)
        return copy

    # -- attributes -----------------------------------------------------------------------
    def getattr(self, obj: Any, name: str) -> Any:
        """Every `obj.name` in a contract: host objects expose what their class lists in
        `_tf_exposed`; values expose an allow-list of methods, charged and size-checked."""
        t = type(obj)
        if t is _hot_type and name in _hot_names:  # `ctx.get`, `ctx.put`, ...: see `hot_host`
            return _getattr(obj, name)
        exposed: Any = _exposed_of(t)
        if exposed is None:
            exposed = _exposed(t)
        if exposed is not False:
            if name in exposed:
                return _getattr(obj, name)
        elif name in METHODS.get(t, ()):
            return bound_method(self, obj, name)
        raise _fail(
            AttributeError,
            f"'{t.__name__}' object has no attribute '{name}' available to contracts",
        )

    def module_globals(self, meter: Meter | None = None) -> dict[str, Any]:
        """Fresh globals for one execution of the instrumented module."""
        if meter is not None:
            self.m = meter
        return {
            "__builtins__": self.builtins_dict,
            "__name__": "contract",
            "__tf_m": self.m,
            "__tf_rt": self,
            "__tf_tick": self.tick,
            "__tf_tickn": self.tickn,
            "__tf_lambda": self.wrap_lambda,
            "__tf_iter": self.iterate,
            "__tf_keep": self.keep,
            "__tf_gen": self.gen,
            "__tf_str": self.text,
            "__tf_fpart": self.fpart,
            "__tf_slice": self.slice,
            "__tf_delitem": self.delitem,
            "__tf_getattr": self.getattr,
            "__tf_key": self.key,
            "__tf_skey": self.skey,
            "__tf_strtype": str,
            "__tf_inttype": int,
            "__tf_star": self.star,
            "__tf_dstar": self.dstar,
            "__tf_kwstar": self.kwstar,
            "__tf_exc": self.exc,
            "__tf_caught": self.caught,
            # `ctx.name` for a name the hot host class exposes (see `hot_host` and
            # `instrument.Instrumenter.visit_Attribute`) and a subscript index or dict key
            # (`instrument._plain_key_test`): the exact-type tests, inline.
            "__tf_type": _b.type,
            "__tf_hot": _hot_type,
            **{f"__tf_{suffix}": _b.getattr(self, attr) for suffix, attr in HELPERS.items()},
            # `isinstance(x, str)` and the like, rewritten at compile time: the real
            # builtin and the wrapped types.
            "__tf_isinstance": isinstance,
            **{f"__tf_type_{name}": typ for name, typ in _CHECKED_TYPES.items()},
        }


def _lambda_wrapper(rt: Runtime, fn: Callable[..., Any], gas: int, mem: int) -> Any:
    def lam(*args: Any, **kwargs: Any) -> Any:
        m = rt.m
        m.enter(gas, mem)
        try:
            return fn(*args, **kwargs)
        finally:
            m.depth -= 1

    return lam


def _each_gas(m: Meter, n: int, needle: Any) -> int:
    """Comparing `needle` with each of `n` items: a comparison (`COMPARES_PER_GAS`), which
    visits at most the needle (an item of another size or type answers at once); an
    integer's limbs, one element per 64 bits."""
    t = type(needle)
    base = n // COMPARES_PER_GAS
    if t is int:
        return base + items_gas(n * (needle.bit_length() // 64))
    if t is bool or needle is None:
        return base
    if t is str or t is bytes:
        return base + bytes_gas(n * len(needle))  # rounded once, not per item
    return base + n * units_gas(measure(m, needle, "compare"))


_CMP: tuple[Callable[[Any, Any], Any], ...] = (
    operator.eq,
    operator.ne,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
)
_CMP_SYMBOLS = ("==", "!=", "<", "<=", ">", ">=")


def _exposed(t: type) -> Any:
    """What `Runtime.getattr` reads from the class of an object: its `_tf_exposed` names
    (a host object), or False (a value). Memoised by exact type: class attributes of the
    host classes never change, and the types contract code can reach are few."""
    exposed = _b.getattr(t, "_tf_exposed", None)
    if exposed is None:
        exposed = False
    if len(_EXPOSED) < _EXPOSED_MAX:
        _EXPOSED[t] = exposed
    return exposed


_EXPOSED: dict[type, Any] = {}
_EXPOSED_MAX = 512
_exposed_of = _EXPOSED.get  # bound once: `Runtime.getattr` runs for every `obj.name`
_getattr = _b.getattr
# The host class contracts reach most (`ContextProxy`: every `ctx.name`) and its exposed
# names, tested first by `Runtime.getattr` with one identity check and one set lookup
# (`hot_host`). Exactly what the general path answers for that type: its `_tf_exposed`.
_hot_type: type | None = None
_hot_names: frozenset[str] = frozenset()


def hot_host(cls: type) -> None:
    """Make `cls` (a host class with a frozenset `_tf_exposed`) the one `Runtime.getattr`
    checks first, and the instrumenter compiles `name.attr` for (once per process). The
    answer is the same as the general path's: a name in the class's own `_tf_exposed` is
    read with `getattr`, any other name takes the general path (and its error)."""
    global _hot_type, _hot_names
    exposed = _b.getattr(cls, "_tf_exposed", None)
    if type(exposed) is not frozenset:
        raise TypeError(f"{cls.__name__}._tf_exposed must be a frozenset")
    if _hot_type is not None and (_hot_type is not cls or _hot_names is not exposed):
        # contracts compiled already test for the first class inline: it cannot change
        raise RuntimeError(f"the hot host class is {_hot_type.__name__} already")
    _hot_type, _hot_names = cls, exposed


def hot_names() -> frozenset[str]:
    return _hot_names


def sandbox_view(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`@view` as contracts see it: the validator already knows the views from the source, so
    the decorator returns the function unchanged (it must not mark a function object that
    later calls share; `tianfu.execution.contract_api.view` is for native contracts)."""
    return fn


CATCHABLE = frozenset(
    "ContractError ValueError KeyError IndexError TypeError ZeroDivisionError ArithmeticError "
    "LookupError AssertionError OverflowError".split()
)
# Exception classes a contract names (to raise, catch, or test with isinstance).
EXCEPTION_NAMES = CATCHABLE
_VISIBLE: dict[str, type[BaseException]] = {
    name: (ContractError if name == "ContractError" else _b.getattr(_b, name)) for name in CATCHABLE
}
# The builtin types contracts see as checked wrappers (`CheckedBuiltins.builtins`).
CHECKED_TYPE_NAMES = ("int", "str", "bytes", "list", "tuple", "dict")
_CHECKED_TYPES = {name: _b.getattr(_b, name) for name in CHECKED_TYPE_NAMES}

# Helper suffix -> Runtime method; the instrumenter emits `__tf_<suffix>(...)`.
HELPERS = {
    "add": "add",
    "sub": "sub",
    "mul": "mul",
    "floordiv": "floordiv",
    "mod": "mod",
    "pow": "pow",
    "lshift": "lshift",
    "rshift": "rshift",
    "bitand": "and_",
    "bitor": "or_",
    "bitxor": "xor",
    "iadd": "iadd",
    "imul": "imul",
    "ibitor": "ior",
    "eq": "eq",
    "ne": "ne",
    "lt": "lt",
    "le": "le",
    "gt": "gt",
    "ge": "ge",
    "in": "in_",
    "notin": "not_in",
    "neg": "neg",
    "inv": "inv",
}
# Every name a contract may read as a builtin (and may not rebind).
SAFE_BUILTIN_NAMES = frozenset(Runtime().builtins_dict)
