"""Reuse of a contract module's top level between calls, with nothing shared but immutables.

Every call of a contract used to execute the instrumented module afresh into new globals
(so no call can see what another did to a module-level value), then call the method. The
module's top level is a deterministic function of its code alone: it cannot reach `ctx`,
and the runtime it uses is the same for every call but for the meter. So after one call
has executed it, a `ModuleTemplate` records what it produced and the gas it used, *if*
everything it produced is safe to hand to the next call:

- values of the exact types None, bool, int, str, bytes, or tuples of those (immutable,
  so sharing them between calls cannot leak anything), and
- the module's own functions, stored under their own names, without closures, whose
  defaults are such values too: each call gets new function objects built from the same
  code over *its own* globals (its own runtime's helpers), as executing the module would.

Anything else at module level (a list or dict, a lambda, an alias of a function) makes
the module not reusable, and every call keeps executing it afresh. A reused call is
charged the recorded gas in one step, and only when its budget covers it; otherwise the
module is executed afresh and runs out of gas at exactly the same point as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import CodeType, FunctionType
from typing import Any

_SCALARS = frozenset({type(None), bool, int, str, bytes})
_MAX_NODES = 10_000  # larger constant tuples are simply not reused
_VIEW_ATTRS = {"__tianfu_view__": True}


def _immutable(value: Any) -> bool:
    """True if `value` is built only of None, bool, int, str, bytes and tuples."""
    stack = [value]
    seen = 0
    while stack:
        v = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            return False
        t = type(v)
        if t is tuple:
            stack.extend(v)
        elif t not in _SCALARS:
            return False
    return True


# name, code, defaults, keyword-only defaults, marked by @view
_Function = tuple[str, CodeType, "tuple[Any, ...] | None", "dict[str, Any] | None", bool]


@dataclass(frozen=True)
class ModuleTemplate:
    """What one execution of a contract module produced: immutable values, function code."""

    gas: int
    values: dict[str, Any]
    functions: tuple[_Function, ...]

    @classmethod
    def capture(cls, namespace: dict[str, Any], base: set[str], gas: int) -> ModuleTemplate | None:
        """The template of `namespace` just after the module ran in it (`base` are the
        names the runtime put there first), or None if it is not safe to reuse."""
        values: dict[str, Any] = {}
        functions: list[_Function] = []
        for name, value in namespace.items():
            if name in base:
                continue
            if type(value) is FunctionType:
                fn = _function(name, value, namespace)
                if fn is None:
                    return None
                functions.append(fn)
            elif _immutable(value):
                values[name] = value
            else:
                return None
        return cls(gas, values, tuple(functions))

    def instantiate(self, namespace: dict[str, Any]) -> dict[str, Any]:
        """Fill a call's fresh runtime globals as executing the module would have."""
        namespace.update(self.values)
        for name, code, defaults, kwdefaults, is_view in self.functions:
            fn = FunctionType(code, namespace, name, defaults)
            if kwdefaults is not None:
                fn.__kwdefaults__ = dict(kwdefaults)
            if is_view:
                fn.__tianfu_view__ = True  # type: ignore[attr-defined]
            namespace[name] = fn
        return namespace


def _function(name: str, fn: FunctionType, namespace: dict[str, Any]) -> _Function | None:
    """The recipe of a module-level function, or None if it cannot be rebuilt exactly."""
    if (
        fn.__name__ != name
        or fn.__globals__ is not namespace
        or fn.__closure__ is not None
        or fn.__dict__ not in ({}, _VIEW_ATTRS)
        or fn.__qualname__ != fn.__code__.co_qualname
        or not _immutable(fn.__defaults__)
        or (fn.__kwdefaults__ is not None and not _immutable(tuple(fn.__kwdefaults__.values())))
        or fn.__module__ != namespace.get("__name__")
    ):
        return None
    kw = None if fn.__kwdefaults__ is None else dict(fn.__kwdefaults__)
    return (name, fn.__code__, fn.__defaults__, kw, bool(fn.__dict__))
