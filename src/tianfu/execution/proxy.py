"""What a sandboxed contract sees as `ctx`: the `Context` protocol, metered, values copied.

`ContextProxy` stands between contract code and the host's `Context` (a `CallContext` in a
block): only the names in `_tf_exposed` are reachable (`Runtime.getattr` enforces it),
every method charges `CTX_GAS` to the transaction's meter, and every value that crosses the
boundary is deep-copied, size-checked and charged by `walk.copy_value` (ADR 0005, point 5).
"""

from __future__ import annotations

from typing import Any

from tianfu.execution import errors
from tianfu.execution.context import CallContext
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.costs import CTX_GAS, bytes_gas, str_bytes
from tianfu.execution.limits import MAX_EVENT_NAME
from tianfu.execution.runtime import Runtime, hot_host
from tianfu.execution.walk import (
    TEXT_BYTES_PER_UNIT,
    copy_field,
    copy_stored,
    copy_value,
    units_gas,
)
from tianfu.types.values import MAX_INT, MIN_INT

_SCALARS = frozenset({type(None), bool, str, bytes})  # immutable: a copy is the value itself
_ROLE_CHARS = 64  # a role this short is covered by `CTX_GAS`
_REPR_CHARS = 10  # the most characters `repr` writes for one ('\U000e0001')


class SenderView:
    """`ctx.sender` as contracts see it: plain fields, roles as a sorted tuple (a set's
    iteration order would differ between nodes)."""

    __slots__ = ("address", "org", "name", "kind", "roles")
    _tf_exposed = frozenset({"address", "org", "name", "kind", "roles", "has_role"})

    def __init__(self, caller: Caller) -> None:
        self.address = caller.address
        self.org = caller.org
        self.name = caller.name
        self.kind = caller.kind
        self.roles = tuple(sorted(caller.roles))

    def has_role(self, role: str) -> bool:
        return role in self.roles or role == self.kind


def sender_view(caller: Caller) -> SenderView:
    """The `SenderView` of `caller`, built once per `Caller` object and kept on it (a
    `Caller` is frozen, and so is a view for contract code: it cannot assign attributes,
    and `roles` is a tuple), so every call of the same resolved caller shares it."""
    cache = getattr(caller, "__dict__", None)
    if cache is None:
        return SenderView(caller)
    view: SenderView | None = cache.get("_tf_view")
    if view is None:
        view = cache["_tf_view"] = SenderView(caller)
    return view


def _scalar_gas(v: Any) -> int:
    """What `copy_value` charges for an immutable scalar it would return as it is (an int
    in range, ASCII text, bytes, None, a bool), or -1: copy it."""
    t = type(v)
    if t is int:
        return 0 if MIN_INT <= v <= MAX_INT else -1
    if (t is str and v.isascii()) or t is bytes:
        return units_gas(1 + len(v) // TEXT_BYTES_PER_UNIT)
    return 0 if v is None or t is bool else -1


class ContextProxy:
    """The `ctx` a sandboxed contract receives: only the `Context` protocol, never the host
    object, with values crossing the boundary size-checked and charged. One per call.

    Immutable scalars need no copy: `get`/`put`/`emit` pass them on as they are (text is
    charged by its bytes where it is stored or emitted). When the host is a `CallContext`,
    `put`/`emit` hand it values already checked (`put_checked`, `emit_checked`)."""

    __slots__ = ("_ctx", "_rt", "_sender", "_host")
    _tf_exposed = frozenset(
        "contract sender height time_ms tx_hash get has put delete emit require require_role "
        "has_role sha256 read".split()
    )

    def __init__(self, ctx: Any, rt: Runtime) -> None:
        self._ctx = ctx
        self._rt = rt
        self._sender: SenderView | None = None
        self._host: CallContext | None = ctx if type(ctx) is CallContext else None

    @property
    def sender(self) -> SenderView:
        view = self._sender
        if view is None:
            view = self._sender = sender_view(self._ctx.sender)
        return view

    contract = property(lambda self: self._ctx.contract)
    height = property(lambda self: self._ctx.height)
    time_ms = property(lambda self: self._ctx.time_ms)
    tx_hash = property(lambda self: self._ctx.tx_hash)

    # Values are copied in (`walk.copy_value`); an immutable scalar is passed on as it is,
    # charged the walk units its copy would cost (`_scalar_gas`). Then, with a `CallContext`
    # host, the host adds `CTX_GAS` to its own charge for the access (`extra`); with any
    # other host, `CTX_GAS` is charged here.
    def _in(self, value: Any, what: str) -> Any:
        gas = _scalar_gas(value)
        m = self._rt.m
        if gas < 0:
            return copy_value(m, value, what)[0]
        if gas:
            m.charge(gas)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        t = type(default)
        if default is not None and t is not int and t is not bool:
            default = self._in(default, "default")
        elif t is int and not MIN_INT <= default <= MAX_INT:
            default = self._in(default, "default")  # refuses it
        host = self._host
        if host is not None:
            return host.get(key, default, CTX_GAS)
        self._rt.m.charge(CTX_GAS)
        return self._ctx.get(key, default)

    def has(self, key: str) -> bool:
        host = self._host
        if host is not None:
            return host.has(key, CTX_GAS)
        self._rt.m.charge(CTX_GAS)
        return bool(self._ctx.has(key))

    def put(self, key: str, value: Any) -> None:
        t = type(value)
        floor = 0  # a lower bound of the encoding's size, for a copied value
        if t is not int or not MIN_INT <= value <= MAX_INT:
            gas = _scalar_gas(value)  # as `_in`
            if gas < 0:
                value, floor = copy_stored(self._rt.m, value, "stored value")
            elif gas:
                self._rt.m.charge(gas)
        host = self._host
        if host is not None:  # the copy passes `check_value`
            host.put_checked(key, value, CTX_GAS, floor)
            return
        self._rt.m.charge(CTX_GAS)
        self._ctx.put(key, value)

    def delete(self, key: str) -> None:
        host = self._host
        if host is not None:
            host.delete(key, CTX_GAS)
            return
        self._rt.m.charge(CTX_GAS)
        self._ctx.delete(key)

    def emit(self, event: str, /, **data: Any) -> None:
        if type(event) is not str or not 0 < len(event) <= MAX_EVENT_NAME:
            raise ContractError(f"an event name is a str of 1 to {MAX_EVENT_NAME} characters")
        gas = CTX_GAS  # the call, and the walk units of the scalars: charged with the event
        floor = 0  # a lower bound of the encoding's size of the copied fields
        for k, v in data.items():
            t = type(v)
            if t is int and MIN_INT <= v <= MAX_INT or t is bool or v is None:
                continue  # one walk unit: no gas
            g = _scalar_gas(v)
            if g >= 0:
                gas += g
            else:  # copied and checked as one level down in the event's data
                data[k], size = copy_field(self._rt.m, v)
                floor += size
        host = self._host
        if host is not None:  # `data` is this call's own dict of checked values
            host.emit_checked(event, data, gas, floor)
            return
        self._rt.m.charge(gas)
        self._ctx.emit(event, **data)

    def require(self, condition: object, message: str = "requirement failed") -> None:
        """Constant work, covered by the call's static weight; the message is converted
        (and charged) only when it fails."""
        if not condition:
            rt = self._rt
            raise errors.own(ContractError, rt.text(message)[:1000])

    # A role is text: any other value is refused before the host sees it (the host hashes
    # the role, which for a deeply nested tuple is a C recursion, and prints its repr when it
    # is lacked). Text longer than an ordinary role is charged by its length (its hash and
    # that repr); an ordinary role's gas is `CTX_GAS`.
    def require_role(self, role: str) -> None:
        self._role(role, "require_role")
        self._ctx.require_role(role)

    def has_role(self, role: str) -> bool:
        self._role(role, "has_role")
        return bool(self._ctx.has_role(role))

    def _role(self, role: Any, what: str) -> None:
        m = self._rt.m
        if type(role) is not str:
            m.charge(CTX_GAS)
            raise ContractError(f"ctx.{what}() takes a role as a str, not {type(role).__name__}")
        n = len(role)
        if n > _ROLE_CHARS:  # a repr writes up to 10 characters per character
            m.charge_alloc(CTX_GAS + bytes_gas(n * _REPR_CHARS), str_bytes(n * _REPR_CHARS))
        else:
            m.charge(CTX_GAS)

    def sha256(self, data: bytes | str) -> str:
        self._rt.m.charge(CTX_GAS)
        return self._ctx.sha256(data)  # type: ignore[no-any-return]

    def read(self, contract: str, key: str, default: Any = None) -> Any:
        if default is not None:
            default = self._in(default, "default")
        host = self._host
        if host is not None:
            return host.read(contract, key, default, CTX_GAS)
        self._rt.m.charge(CTX_GAS)
        return self._ctx.read(contract, key, default)


hot_host(ContextProxy)  # `Runtime.getattr` answers `ctx.name` first (same answers, faster)
