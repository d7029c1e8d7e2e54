"""The sandbox runtime's arithmetic and bitwise operators: checked, and charged before the work.

`CheckedOperators` adds to the checked builtins (`tianfu.execution.checked`) the helpers
the instrumenter emits for `+ - * // % ** << >> & | ^` and their augmented forms; the
sandbox's `Runtime` (`tianfu.execution.runtime`) is built on it. Each charges what its
operation costs as a function of its operands' sizes (`tianfu.execution.costs`) and refuses
results past the fixed caps (`tianfu.execution.limits`): the same call uses the same gas on
every node.
"""

from __future__ import annotations

import builtins as _b
from typing import Any

from tianfu.execution import errors
from tianfu.execution.checked import CheckedBuiltins
from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import (
    BYTES_PER_GAS,
    OBJ_BYTES,
    SMALL_BYTES,
    added_bytes,
    bytes_bytes,
    bytes_gas,
    dict_bytes,
    div_gas,
    int_bytes,
    items_gas,
    mul_gas,
    pow_gas,
    powmod_gas,
    seq_bytes,
    str_bytes,
)
from tianfu.execution.limits import (
    MAX_INT_BITS,
    MAX_SEQ_LEN,
    too_big,
    too_big_count,
)

_TEXT = (str, bytes)
_SEQS = (list, tuple)
# A str made without being counted fits `SMALL_BYTES`: up to `BYTES_PER_GAS` characters of
# ASCII, or this many of anything (four bytes each).
_SHORT_WIDE = (SMALL_BYTES - OBJ_BYTES) // 4


def _fail(cls: type[BaseException], message: str) -> BaseException:
    return errors.own(cls, message)


def _int_result(r: int) -> int:
    if r.bit_length() > MAX_INT_BITS:
        raise ContractError(f"integer result wider than {MAX_INT_BITS} bits")
    return r


def _op_types(sym: str, a: Any, b: Any) -> BaseException:
    return _fail(
        TypeError,
        f"unsupported operand types for {sym}: {type(a).__name__} and {type(b).__name__}",
    )


def _isint(x: Any) -> bool:
    return type(x) is int or type(x) is bool


class CheckedOperators(CheckedBuiltins):
    """The operators of a `Runtime`, bound to its meter `self.m`."""

    def add(self, a: Any, b: Any) -> Any:
        ta = type(a)
        if ta is type(b):
            if ta is int:
                r = a + b
                if r.bit_length() > 64:
                    return self._big(r)
                return r
            if ta is str:  # the common key building
                n = len(a) + len(b)
                if n > MAX_SEQ_LEN:
                    raise too_big("a concatenation", n, MAX_SEQ_LEN)
                if n >= BYTES_PER_GAS:
                    self.m.charge_alloc(
                        bytes_gas(n), str_bytes(n, not (a.isascii() and b.isascii()))
                    )
                elif n > _SHORT_WIDE and not (a.isascii() and b.isascii()):
                    self.m.alloc(str_bytes(n))  # a short but wide str: more than SMALL_BYTES
                return a + b
            if ta is list or ta is tuple or ta is bytes:
                self._concat(a, b)
                return a + b
        if _isint(a) and _isint(b):
            return self._big(a + b)
        raise _op_types("+", a, b)

    def _big(self, r: int) -> int:
        """An integer result: refused past `MAX_INT_BITS`; a big one charged and counted."""
        bits = r.bit_length()
        if bits > MAX_INT_BITS:
            raise ContractError(f"integer result wider than {MAX_INT_BITS} bits")
        if bits > 64:
            self.m.charge_alloc(bits // 512, int_bytes(bits))
        return r

    def _concat(self, a: Any, b: Any) -> None:
        n = len(a) + len(b)
        if n > MAX_SEQ_LEN:
            raise too_big("a concatenation", n, MAX_SEQ_LEN)
        if type(a) is bytes:
            self.m.charge_alloc(bytes_gas(n), bytes_bytes(n))
        else:
            self.m.charge_alloc(items_gas(n), seq_bytes(n))

    def iadd(self, a: Any, b: Any) -> Any:
        if type(a) is list:
            items = self.materialize(b)
            n = len(a) + len(items)
            if n > MAX_SEQ_LEN:
                raise too_big("a concatenation", n, MAX_SEQ_LEN)
            self.m.charge_alloc(items_gas(len(items)), added_bytes(b, len(items)))
            a += items
            return a
        return self.add(a, b)

    def sub(self, a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int:
            r = a - b
            return r if r.bit_length() <= 64 else self._big(r)
        if _isint(a) and _isint(b):
            return self._big(a - b)
        raise _fail(
            TypeError, f"'-' is only for integers, not {type(a).__name__} and {type(b).__name__}"
        )

    def mul(self, a: Any, b: Any) -> Any:
        if _isint(a) and _isint(b):
            ba, bb = a.bit_length(), b.bit_length()
            if ba + bb > MAX_INT_BITS + 1:
                raise ContractError(f"integer result wider than {MAX_INT_BITS} bits")
            if ba + bb > 64:
                self.m.charge(mul_gas(ba, bb))
                return self._big(a * b)
            return a * b
        seq, n = (a, b) if isinstance(a, (*_TEXT, *_SEQS)) else (b, a)
        if type(seq) in (str, bytes, list, tuple) and _isint(n):
            size = len(seq) * max(n, 0)
            if size > MAX_SEQ_LEN:
                raise too_big_count(self.m, "a repetition", size, MAX_SEQ_LEN)
            m = self.m
            if type(seq) is str:
                m.charge_alloc(bytes_gas(size), str_bytes(size, not seq.isascii()))
            elif type(seq) is bytes:
                m.charge_alloc(bytes_gas(size), bytes_bytes(size))
            else:
                m.charge_alloc(items_gas(size), seq_bytes(size))
            return seq * n
        raise _op_types("*", a, b)

    def imul(self, a: Any, b: Any) -> Any:
        r = self.mul(a, b)
        if type(a) is list:
            a[:] = r
            return a
        return r

    def _division(self, sym: str, a: Any, b: Any) -> None:
        if not (_isint(a) and _isint(b)):
            if sym == "%":
                raise _fail(
                    TypeError,
                    "'%' is only for integers (%-formatting is not allowed: use + and str())",
                )
            raise _fail(
                TypeError,
                f"'{sym}' is only for integers, not {type(a).__name__} and {type(b).__name__}",
            )
        if not b:
            raise _fail(ZeroDivisionError, "division by zero")
        ba = a.bit_length()
        if ba > 64:
            self.m.charge_alloc(div_gas(ba, b.bit_length()), int_bytes(ba))

    def floordiv(self, a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int and b and a.bit_length() <= 64:
            return a // b
        self._division("//", a, b)
        return a // b

    def mod(self, a: Any, b: Any) -> Any:
        if type(a) is int and type(b) is int and b and a.bit_length() <= 64:
            r = a % b
            return r if r.bit_length() <= 64 else self._big(r)
        self._division("%", a, b)
        return self._remainder(a, a % b)

    def divmod_(self, a: Any, b: Any) -> Any:
        self._division("divmod", a, b)
        q, r = divmod(a, b)
        return q, self._remainder(a, r)

    def _remainder(self, a: Any, r: int) -> int:
        """A remainder, counted if `_division` did not: it is as wide as the divisor when
        the signs differ (`-1 % big` is `big - 1`), and `_division` counts a result by the
        dividend's size (a 4,096-bit remainder of a small dividend was never counted: kept,
        ~4x the bytes tracked)."""
        bits = r.bit_length()
        if bits > 64 and bits > a.bit_length():
            return self._big(r)
        return r

    def pow(self, a: Any, b: Any, mod: Any = None) -> Any:
        if not (_isint(a) and _isint(b) and (mod is None or _isint(mod))):
            raise _fail(TypeError, "'**' and pow() are only for integers")
        if b < 0:
            raise ContractError("negative exponents are not allowed (they produce floats)")
        if mod is not None:
            if mod == 0:
                raise _fail(ValueError, "pow() 3rd argument cannot be 0")
            bm = mod.bit_length()
            if bm > MAX_INT_BITS or a.bit_length() > MAX_INT_BITS:
                raise ContractError(f"integer wider than {MAX_INT_BITS} bits")
            self.m.charge_alloc(
                powmod_gas(b.bit_length(), bm) + div_gas(a.bit_length(), bm), int_bytes(bm)
            )
            return _b.pow(a, b, mod)
        if abs(a) <= 1 or b <= 1:
            r = a**b  # `big ** 1` is a new object, a copy of `big`: counted as one
            return r if r.bit_length() <= 64 else self._big(r)
        bits = (a.bit_length() - 1) * b + 1
        if bits > MAX_INT_BITS:
            raise ContractError(f"integer result wider than {MAX_INT_BITS} bits")
        self.m.charge_alloc(pow_gas(a.bit_length() * b), int_bytes(a.bit_length() * b))
        return _int_result(a**b)

    def _ints(self, sym: str, a: Any, b: Any) -> None:
        if not (_isint(a) and _isint(b)):
            raise _fail(
                TypeError,
                f"'{sym}' is only for integers, not {type(a).__name__} and {type(b).__name__}",
            )

    def lshift(self, a: Any, b: Any) -> Any:
        self._ints("<<", a, b)
        if b < 0:
            raise _fail(ValueError, "negative shift count")
        if not a:
            return 0
        if a.bit_length() + b > MAX_INT_BITS:
            raise ContractError(f"integer result wider than {MAX_INT_BITS} bits")
        return self._big(a << b)

    def rshift(self, a: Any, b: Any) -> Any:
        self._ints(">>", a, b)
        if b < 0:
            raise _fail(ValueError, "negative shift count")
        return self._big(a >> b)

    def and_(self, a: Any, b: Any) -> Any:
        self._ints("&", a, b)
        return self._big(a & b)

    def xor(self, a: Any, b: Any) -> Any:
        self._ints("^", a, b)
        return self._big(a ^ b)

    def or_(self, a: Any, b: Any) -> Any:
        if type(a) is dict and type(b) is dict:
            n = len(a) + len(b)
            self.m.charge_alloc(items_gas(n), dict_bytes(n))
            return a | b
        self._ints("|", a, b)
        return self._big(a | b)

    def ior(self, a: Any, b: Any) -> Any:
        if type(a) is dict and type(b) is dict:
            self.m.charge_alloc(items_gas(len(b)), dict_bytes(len(b)))
            a |= b
            return a
        return self.or_(a, b)

    def kwstar(self, x: Any) -> Any:
        """`**x` in a call: `dstar`'s charge, and the text of its keys (4 bytes a character
        beyond ASCII): CPython copies a keyword the callee does not take into its error
        message, so a 1 MB key took ~0.3-1 ms a failing call, ~240-980x a plain loop's CPU
        per gas. Keys that are not text the call refuses at once."""
        x = self.dstar(x)  # type: ignore[attr-defined]
        keys = x.keys()
        if keys and set(map(type, keys)) == {str}:
            n = sum(map(len, keys))
            self.m.charge(bytes_gas(n if all(map(str.isascii, keys)) else 4 * n))
        return x
