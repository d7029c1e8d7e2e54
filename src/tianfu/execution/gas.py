"""Runtime of sandboxed contract code: the deterministic step meter and the checked helpers.

The sandbox (`tianfu.execution.sandbox`) rewrites a contract's AST so that loops,
function entries, operators, comparisons, slices and attribute reads call the methods of
one `Runtime` per call. Everything here counts steps ("gas") by what the code does, never
by wall time, so the same call uses the same gas, or runs out at the same point, on every
node. Operations that could allocate or compute a lot in one step check their result size
before doing the work.
"""

from __future__ import annotations

import builtins as _b
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tianfu.execution.api import ContractError, OutOfGas
from tianfu.execution.limits import (  # re-exported: the sandbox and tests read them here
    BYTES_PER_GAS,
    CALL_GAS,
    ITEMS_PER_GAS,
    LOOP_GAS,
    MAX_CALL_DEPTH,
    MAX_INT_BITS,
    MAX_INT_STR,
    MAX_RANGE,
    MAX_SEQ_LEN,
    MAX_VALUE_ITEMS,
    SEQ,
    check_encoding,
    sanitize,
    too_big,
)
from tianfu.execution.limits import (
    CTX_GAS as CTX_GAS,
)
from tianfu.execution.limits import (
    TEXT_ENCODINGS as TEXT_ENCODINGS,
)
from tianfu.execution.methods import CHEAP, METHOD_CHECKS, METHODS
from tianfu.types.values import MAX_DEPTH
from tianfu.types.values import MAX_INT as VALUE_MAX_INT
from tianfu.types.values import MIN_INT as VALUE_MIN_INT

# Comparison operators, indexed by the code the sandbox's rewriter emits.
CMP_OPS: tuple[Callable[[Any, Any], Any], ...] = (
    operator.eq,
    operator.ne,
    operator.lt,
    operator.le,
    operator.gt,
    operator.ge,
    operator.is_,
    operator.is_not,
    lambda a, b: a in b,
    lambda a, b: a not in b,
)
CMP_IN = 8


def _int_check(r: int) -> int:
    if r.bit_length() > MAX_INT_BITS:
        raise ContractError(f"integer result wider than {MAX_INT_BITS} bits")
    return r


class Runtime:
    """The meter and helpers of one contract call. `left` may go negative: once it does,
    every further step raises `OutOfGas` again, so catching it cannot buy more time."""

    def __init__(self, gas_limit: int) -> None:
        if not isinstance(gas_limit, int) or gas_limit < 0:
            raise ValueError("gas_limit must be a non-negative integer")
        self.limit = gas_limit
        self.left = gas_limit
        self.depth = 0

    def reset(self, gas_limit: int) -> None:
        """Arm the meter for a new call (a runtime is reused by the module instance it is
        bound to, one call at a time; see `tianfu.execution.sandbox`)."""
        if not isinstance(gas_limit, int) or gas_limit < 0:
            raise ValueError("gas_limit must be a non-negative integer")
        self.limit = gas_limit
        self.left = gas_limit
        self.depth = 0

    # -- metering -------------------------------------------------------------------------
    @property
    def used(self) -> int:
        return min(self.limit, self.limit - self.left)

    @property
    def exhausted(self) -> bool:
        return self.left < 0

    def out_of_gas(self) -> OutOfGas:
        return OutOfGas(f"out of gas: the call used more than its {self.limit} steps")

    def tick(self) -> None:
        self.left -= LOOP_GAS
        if self.left < 0:
            raise self.out_of_gas()

    def charge(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise self.out_of_gas()

    def enter(self) -> None:
        self.left -= CALL_GAS
        if self.left < 0:
            raise self.out_of_gas()
        if self.depth >= MAX_CALL_DEPTH:
            raise ContractError(
                f"maximum call depth of {MAX_CALL_DEPTH} exceeded (too deep recursion)"
            )
        self.depth += 1

    def too_deep(self) -> None:
        """The error `enter` raises past `MAX_CALL_DEPTH` (after its charge): the sandbox
        inlines `enter` into every function and calls this only to fail."""
        raise ContractError(f"maximum call depth of {MAX_CALL_DEPTH} exceeded (too deep recursion)")

    def leave(self) -> None:
        self.depth -= 1

    def wrap_lambda(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def lam(*args: Any, **kwargs: Any) -> Any:
            self.enter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.depth -= 1

        return lam

    def iterate(self, obj: Any) -> Iterator[Any]:
        """What every `for` loop and comprehension iterates through: one step per item."""
        for item in obj:
            self.left -= LOOP_GAS
            if self.left < 0:
                raise self.out_of_gas()
            yield item

    def charged(self, obj: Any) -> Iterable[Any]:
        """Charge for a C-level pass over `obj`: by length when it has one, else per item."""
        if isinstance(obj, (*SEQ, dict, range)):
            self.charge(1 + len(obj) // ITEMS_PER_GAS)
            return obj
        return self.iterate(obj)

    def materialize(self, obj: Any) -> list[Any] | tuple[Any, ...] | str | bytes:
        if isinstance(obj, SEQ):
            self.charge(1 + len(obj) // ITEMS_PER_GAS)
            return obj
        out = []
        for item in self.iterate(obj):
            out.append(item)
            if len(out) > MAX_SEQ_LEN:
                raise too_big("a sequence", len(out), MAX_SEQ_LEN)
        return out

    def sized(self, obj: Any) -> None:
        """Charge for a C-level pass over a str/bytes (per 64 bytes) or container (per 16)."""
        if isinstance(obj, str | bytes):
            self.charge(len(obj) // BYTES_PER_GAS)
        elif isinstance(obj, list | tuple | dict):
            self.charge(len(obj) // ITEMS_PER_GAS)

    # -- values crossing the boundary -----------------------------------------------------
    def copy_value(self, value: Any, what: str) -> Any:
        """A deep copy of a contract value, walked with a bounded budget (so shared
        references cannot make a huge logical value), one step per node."""
        t = type(value)
        if t in _IMMUTABLE_SCALARS or (t is int and VALUE_MIN_INT <= value <= VALUE_MAX_INT):
            # Fast path, same result and charge as the walk: an immutable scalar is one
            # node, and it needs no copy.
            self.charge(1)
            return value
        budget = [MAX_VALUE_ITEMS]

        def walk(v: Any, depth: int) -> Any:
            budget[0] -= 1
            if budget[0] < 0:
                raise ContractError(f"{what} has more than {MAX_VALUE_ITEMS} elements")
            if depth > MAX_DEPTH:
                raise ContractError(f"{what} is nested deeper than {MAX_DEPTH} levels")
            if v is None or isinstance(v, bool | str | bytes):
                return v
            if isinstance(v, int):
                if not VALUE_MIN_INT <= v <= VALUE_MAX_INT:
                    raise ContractError(f"{what}: integer out of range (-2**63 .. 2**64 - 1)")
                return v
            if isinstance(v, list | tuple):
                return type(v)([walk(x, depth + 1) for x in v])
            if isinstance(v, dict):
                out = {}
                for k, x in v.items():
                    if not isinstance(k, str):
                        raise ContractError(f"{what}: dict keys must be str")
                    out[k] = walk(x, depth + 1)
                return out
            if isinstance(v, float):
                raise ContractError(f"{what}: floats are not allowed (use integers)")
            raise ContractError(f"{what}: type {type(v).__name__} is not a contract value")

        result = walk(value, 0)
        self.charge(MAX_VALUE_ITEMS - budget[0])
        return result

    def text(self, value: Any = "", *encoding: Any) -> str:
        """`str(x)` and f-string fields: only for contract values and exceptions."""
        if encoding:
            if not isinstance(value, bytes):
                raise TypeError("str() with an encoding takes bytes")
            check_encoding(encoding[0])
            self.sized(value)
            return str(value, *encoding)
        if isinstance(value, str):
            return value
        if value is None or isinstance(value, int | bytes):
            return str(value)
        if isinstance(value, BaseException):
            s = sanitize(str(value))
        elif isinstance(value, list | tuple | dict):
            s = str(self.copy_value(value, "str() argument"))
        else:
            raise ContractError(f"cannot convert {type(value).__name__} to str")
        self.charge(len(s) // BYTES_PER_GAS)
        return s

    # -- operators ------------------------------------------------------------------------
    def _concat(self, a: Any, b: Any) -> None:
        if isinstance(a, SEQ) and isinstance(b, SEQ):
            n = len(a) + len(b)
            if n > MAX_SEQ_LEN:
                raise too_big("a concatenation", n, MAX_SEQ_LEN)
            self.charge(n // (BYTES_PER_GAS if isinstance(a, str | bytes) else ITEMS_PER_GAS))

    def add(self, a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            return _int_check(a + b)
        if type(a) is str and type(b) is str:  # the common key building: same as _concat
            n = len(a) + len(b)
            if n > MAX_SEQ_LEN:
                raise too_big("a concatenation", n, MAX_SEQ_LEN)
            self.left -= n // BYTES_PER_GAS  # `charge`, inlined (a zero charge still fails
            if self.left < 0:  # once the budget is spent)
                raise self.out_of_gas()
            return a + b
        self._concat(a, b)
        r = a + b
        return _int_check(r) if isinstance(r, int) else r

    def iadd(self, a: Any, b: Any) -> Any:
        if type(a) is list:
            b = self.materialize(b)
            self._concat(a, b)
            a += b
            return a
        return self.add(a, b)

    def sub(self, a: Any, b: Any) -> Any:
        if not (isinstance(a, int) and isinstance(b, int)):
            raise TypeError(
                f"'-' is only for integers, not {type(a).__name__} and {type(b).__name__}"
            )
        return _int_check(a - b)

    def mul(self, a: Any, b: Any) -> Any:
        if isinstance(a, int) and isinstance(b, int):
            if a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
                raise ContractError(f"integer result wider than {MAX_INT_BITS} bits")
            return _int_check(a * b)
        seq, n = (a, b) if isinstance(a, SEQ) else (b, a)
        if isinstance(seq, SEQ) and isinstance(n, int):
            size = len(seq) * max(n, 0)
            if size > MAX_SEQ_LEN:
                raise too_big("a repetition", size, MAX_SEQ_LEN)
            self.charge(size // (BYTES_PER_GAS if isinstance(seq, str | bytes) else ITEMS_PER_GAS))
        return a * b

    def imul(self, a: Any, b: Any) -> Any:
        r = self.mul(a, b)
        if type(a) is list:
            a[:] = r
            return a
        return r

    def floordiv(self, a: Any, b: Any) -> Any:
        if not (isinstance(a, int) and isinstance(b, int)):
            raise TypeError(
                f"'//' is only for integers, not {type(a).__name__} and {type(b).__name__}"
            )
        return a // b

    def mod(self, a: Any, b: Any) -> Any:
        if not (isinstance(a, int) and isinstance(b, int)):
            raise TypeError(
                "'%' is only for integers (%-formatting is not allowed: use + and str())"
            )
        return a % b

    def pow(self, a: Any, b: Any, m: Any = None) -> Any:
        if not (isinstance(a, int) and isinstance(b, int) and (m is None or isinstance(m, int))):
            raise TypeError("'**' is only for integers")
        if b < 0:
            raise ContractError("negative exponents are not allowed (they produce floats)")
        if m is not None:
            if m == 0:
                raise ZeroDivisionError("pow() 3rd argument cannot be 0")
            if m.bit_length() > MAX_INT_BITS:
                raise ContractError(f"integer wider than {MAX_INT_BITS} bits")
            self.charge(b.bit_length())
            return _int_check(_b.pow(a, b, m))
        if abs(a) > 1 and (a.bit_length() - 1) * b > MAX_INT_BITS:
            raise ContractError(f"integer result wider than {MAX_INT_BITS} bits")
        return _int_check(a**b) if abs(a) > 1 else a**b

    def lshift(self, a: Any, b: Any) -> Any:
        self._ints_only("<<", a, b)
        if a and b > 0 and a.bit_length() + b > MAX_INT_BITS:
            raise ContractError(f"integer result wider than {MAX_INT_BITS} bits")
        return 0 if not a and b >= 0 else a << b

    def _ints_only(self, sym: str, a: Any, b: Any) -> None:
        if not (isinstance(a, int) and isinstance(b, int)):
            raise TypeError(
                f"'{sym}' is only for integers, not {type(a).__name__} and {type(b).__name__}"
            )

    def rshift(self, a: Any, b: Any) -> Any:
        self._ints_only(">>", a, b)
        return a >> b

    def and_(self, a: Any, b: Any) -> Any:
        self._ints_only("&", a, b)
        return a & b

    def xor(self, a: Any, b: Any) -> Any:
        self._ints_only("^", a, b)
        return a ^ b

    def or_(self, a: Any, b: Any) -> Any:
        if type(a) is dict and type(b) is dict:
            self.charge(1 + (len(a) + len(b)) // ITEMS_PER_GAS)
            return a | b
        self._ints_only("|", a, b)
        return a | b

    def ior(self, a: Any, b: Any) -> Any:
        if type(a) is dict and type(b) is dict:
            self.charge(1 + len(b) // ITEMS_PER_GAS)
            a |= b
            return a
        return self.or_(a, b)

    def cmp(self, op: int, a: Any, b: Any) -> Any:
        if type(a) is not int or type(b) is not int:
            if op >= CMP_IN:
                if type(b) is not dict:
                    self.sized(b)
                self.sized(a)  # hashing or comparing the needle
            elif op < 6:
                self.sized(a)
                self.sized(b)
        return CMP_OPS[op](a, b)

    def slice(self, obj: Any, lo: Any, hi: Any, step: Any) -> Any:
        r = obj[lo:hi:step]
        self.sized(r)
        return r

    # -- attributes -----------------------------------------------------------------------
    def getattr(self, obj: Any, name: str) -> Any:
        """Every `obj.name` in a contract: host objects expose what their class lists in
        `_tf_exposed`; values expose an allow-list of methods, metered and size-checked."""
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
            return self._method(obj, name)
        raise AttributeError(
            f"'{t.__name__}' object has no attribute '{name}' available to contracts"
        )

    def _method(self, obj: Any, name: str) -> Callable[..., Any]:
        method = _b.getattr(obj, name)
        check = METHOD_CHECKS.get(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.charge(1)
            if name not in CHEAP:
                self.sized(obj)
            elif args and type(args[0]) is tuple:
                self.sized(args[0])  # hashing a tuple key is a pass over it
            if check is not None:
                args = check(self, obj, args, kwargs)
            return method(*args, **kwargs)

        return call

    # -- builtins -------------------------------------------------------------------------
    def b_int(self, x: Any = 0, *base: Any) -> int:
        if isinstance(x, str | bytes) and len(x) > MAX_INT_STR:
            raise ContractError(f"int() of a string longer than {MAX_INT_STR} characters")
        if not base and not isinstance(x, int | str | bytes):
            raise TypeError(f"int() argument must be int, str or bytes, not {type(x).__name__}")
        return int(x, *base)

    def b_bytes(self, x: Any = b"", *enc: Any) -> bytes:
        if isinstance(x, int):
            if x > MAX_SEQ_LEN:
                raise too_big("bytes()", x, MAX_SEQ_LEN)
            return bytes(x)
        if isinstance(x, str):
            check_encoding(enc[0] if enc else None)
            self.sized(x)
            return bytes(x, *enc)
        return bytes(self.materialize(x))  # type: ignore[arg-type]

    def b_list(self, x: Any = ()) -> list[Any]:
        return list(self.materialize(x) if not isinstance(x, dict) else self.charged(x))

    def b_tuple(self, x: Any = ()) -> tuple[Any, ...]:
        return tuple(self.materialize(x) if not isinstance(x, dict) else self.charged(x))

    def b_dict(self, x: Any = (), **kwargs: Any) -> dict[Any, Any]:
        self.charge(1 + len(kwargs) // ITEMS_PER_GAS)
        return dict(self.charged(x), **kwargs)

    def b_range(self, *args: Any) -> range:
        r = range(*args)
        if len(r) > MAX_RANGE:
            raise too_big("range()", len(r), MAX_RANGE)
        return r

    def b_sorted(self, x: Any, *, key: Any = None, reverse: Any = False) -> list[Any]:
        items = list(self.materialize(x))
        self.charge(len(items) * max(1, len(items).bit_length()) // ITEMS_PER_GAS)
        return sorted(items, key=key, reverse=reverse)

    def b_sum(self, x: Any, start: Any = 0) -> Any:
        total = start
        for item in self.iterate(x):
            total = self.add(total, item)
        return total

    def b_min(self, *args: Any, **kwargs: Any) -> Any:
        return min(self.charged(args[0]) if len(args) == 1 else args, **kwargs)

    def b_max(self, *args: Any, **kwargs: Any) -> Any:
        return max(self.charged(args[0]) if len(args) == 1 else args, **kwargs)

    def b_any(self, x: Any) -> bool:
        return any(self.charged(x))

    def b_all(self, x: Any) -> bool:
        return all(self.charged(x))

    def b_isinstance(self, obj: Any, spec: Any) -> bool:
        types = self._types
        if isinstance(spec, tuple):
            spec = tuple(types.get(s, s) for s in spec)
        else:
            spec = types.get(spec, spec)
        return isinstance(obj, spec)

    def builtins(self) -> dict[str, Any]:
        """The only builtins a contract sees."""
        b_int, text, b_bytes = self.b_int, self.text, self.b_bytes
        b_list, b_tuple, b_dict = self.b_list, self.b_tuple, self.b_dict
        self._types = {
            b_int: int,
            text: str,
            b_bytes: bytes,
            b_list: list,
            b_tuple: tuple,
            b_dict: dict,
        }
        return {
            "int": b_int,
            "str": text,
            "bytes": b_bytes,
            "list": b_list,
            "tuple": b_tuple,
            "dict": b_dict,
            **_NATIVE_BUILTINS,
            "range": self.b_range,
            "sorted": self.b_sorted,
            "sum": self.b_sum,
            "min": self.b_min,
            "max": self.b_max,
            "any": self.b_any,
            "all": self.b_all,
            "pow": self.pow,
            "isinstance": self.b_isinstance,
            "ContractError": ContractError,
            "view": sandbox_view,
        }

    def module_globals(self) -> dict[str, Any]:
        """Fresh globals for one execution of the instrumented module (one literal: this
        runs for every call; `BINOP_HELPERS` names the same methods)."""
        return {
            "__builtins__": self.builtins(),
            "__name__": "contract",
            "__tf_tick": self.tick,
            # `enter`/`leave`, inlined into every function by the sandbox's instrumenter
            # (`sandbox._ENTRY`): they read and write this runtime's meter directly.
            "__tf_rt": self,
            "__tf_too_deep": self.too_deep,
            "__tf_lambda": self.wrap_lambda,
            "__tf_iter": self.iterate,
            "__tf_str": self.text,
            "__tf_cmp": self.cmp,
            "__tf_slice": self.slice,
            "__tf_getattr": self.getattr,
            # `ctx.name` for a name the hot host class exposes (see `hot_host` and the
            # sandbox's `_Instrumenter.visit_Attribute`): the exact-type test, inline.
            "__tf_type": _b.type,
            "__tf_hot": _hot_type,
            "__tf_add": self.add,
            "__tf_sub": self.sub,
            "__tf_mul": self.mul,
            "__tf_floordiv": self.floordiv,
            "__tf_mod": self.mod,
            "__tf_pow": self.pow,
            "__tf_lshift": self.lshift,
            "__tf_rshift": self.rshift,
            "__tf_bitand": self.and_,
            "__tf_bitor": self.or_,
            "__tf_bitxor": self.xor,
            "__tf_iadd": self.iadd,
            "__tf_imul": self.imul,
            "__tf_ibitor": self.ior,
            # `isinstance(x, str)` and the like, rewritten at compile time (the sandbox's
            # `_Instrumenter.visit_Call`): the real builtin and the wrapped types.
            "__tf_isinstance": isinstance,
            "__tf_type_int": int,
            "__tf_type_str": str,
            "__tf_type_bytes": bytes,
            "__tf_type_list": list,
            "__tf_type_tuple": tuple,
            "__tf_type_dict": dict,
        }


def all_scalars(values: Iterable[Any]) -> bool:
    """Whether every one of `values` is an immutable scalar contract value (None, bool, str,
    bytes, an int in range): each one's copy by `Runtime.copy_value` is itself, for one
    step, and it can never fail. The callers charge one step per value at once."""
    for v in values:
        t = type(v)
        if t is int:
            if not VALUE_MIN_INT <= v <= VALUE_MAX_INT:
                return False
        elif t not in _IMMUTABLE_SCALARS:
            return False
    return True


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
    checks first, and the sandbox compiles `name.attr` for (once per process). The answer is the same as the general path's: a name in the class's own
    `_tf_exposed` is read with `getattr`, any other name takes the general path (and its
    error). Only faster: no memo lookup, one `is` and one `in`."""
    global _hot_type, _hot_names
    exposed = _b.getattr(cls, "_tf_exposed", None)
    if type(exposed) is not frozenset:
        raise TypeError(f"{cls.__name__}._tf_exposed must be a frozenset")
    if _hot_type is not None and (_hot_type is not cls or _hot_names is not exposed):
        # contracts compiled already test for the first class inline (the sandbox's
        # `_Instrumenter.visit_Attribute`): it cannot change in a running process
        raise RuntimeError(f"the hot host class is {_hot_type.__name__} already")
    _hot_type, _hot_names = cls, exposed


def sandbox_view(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`@view` as contracts see it: the validator already knows the views from the source, so
    the decorator returns the function unchanged (it must not mark a function object that
    later calls share; `tianfu.execution.api.view` is for native contracts)."""
    return fn


# Builtins handed to contracts as they are: O(1), or lazy (their items are charged by
# whoever consumes them), or exception classes contracts may raise and catch.
SAFE_NATIVE_BUILTINS = (
    "len abs bool divmod chr ord hex bin oct enumerate zip reversed ValueError KeyError "
    "IndexError TypeError ZeroDivisionError ArithmeticError LookupError AssertionError "
    "OverflowError"
).split()
# Built once: the builtin objects are the same for every call (each call still gets its
# own fresh dict of them).
_NATIVE_BUILTINS = {name: _b.getattr(_b, name) for name in SAFE_NATIVE_BUILTINS}
# The builtin types contracts see as checked wrappers (`Runtime.builtins`, `_types`).
CHECKED_TYPE_NAMES = ("int", "str", "bytes", "list", "tuple", "dict")
_CHECKED_TYPES = {name: _b.getattr(_b, name) for name in CHECKED_TYPE_NAMES}
_IMMUTABLE_SCALARS = frozenset({type(None), bool, str, bytes})
CATCHABLE = frozenset(
    "ContractError ValueError KeyError IndexError TypeError ZeroDivisionError ArithmeticError "
    "LookupError AssertionError OverflowError".split()
)

# Helper suffix -> Runtime method; the sandbox emits `__tf_<suffix>(a, b)`.
BINOP_HELPERS = {
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
}
