"""What a sandboxed contract sees as `ctx`: the `Context` protocol, metered, values copied.

`ContextProxy` stands between contract code and the host's `Context` (a `CallContext` in a
block): only the names in `_tf_exposed` are reachable (`Runtime.getattr` enforces it),
every method charges `CTX_GAS` to the call's `Runtime`, and every value that crosses the
boundary is deep-copied and size-checked by `Runtime.copy_value` (ADR 0005, point 5).
"""

from __future__ import annotations

from typing import Any

from tianfu.execution.api import Caller, ContractError
from tianfu.execution.context import CallContext
from tianfu.execution.gas import Runtime, hot_host
from tianfu.execution.limits import BYTES_PER_GAS, CTX_GAS
from tianfu.types.values import MAX_INT, MIN_INT

_SCALARS = frozenset({type(None), bool, str, bytes})  # immutable: `copy_value` returns them


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


class ContextProxy:
    """The `ctx` a sandboxed contract receives: only the `Context` protocol, never the host
    object, with values crossing the boundary size-checked and counted. One per call.

    Each method charges `CTX_GAS` exactly as `Runtime.charge` does (inlined: these are the
    hottest calls of a typical contract). An immutable scalar needs no copy (`copy_value`
    returns it for one step), so `get`/`put`/`emit` charge its step together with
    `CTX_GAS` and pass it on as it is; when the host is a `CallContext`, `put`/`emit` hand
    it values already checked (`put_checked`, `emit_checked`) instead of checking again.
    Same results, gas and failures as copying every value one by one."""

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
        if view is None:  # `sender_view(self._ctx.sender)`, inlined
            caller = self._ctx.sender
            cache = getattr(caller, "__dict__", None)
            if cache is None:
                view = SenderView(caller)
            else:
                view = cache.get("_tf_view")
                if view is None:
                    view = cache["_tf_view"] = SenderView(caller)
            self._sender = view
        return view

    contract = property(lambda self: self._ctx.contract)
    height = property(lambda self: self._ctx.height)
    time_ms = property(lambda self: self._ctx.time_ms)
    tx_hash = property(lambda self: self._ctx.tx_hash)

    def get(self, key: str, default: Any = None) -> Any:
        rt = self._rt
        t = type(default)
        if t in _SCALARS or (t is int and MIN_INT <= default <= MAX_INT):
            rt.left -= CTX_GAS + 1  # the call, and the default's copy: itself
            if rt.left < 0:
                raise rt.out_of_gas()
            return self._ctx.get(key, default)
        rt.left -= CTX_GAS
        if rt.left < 0:
            raise rt.out_of_gas()
        return self._ctx.get(key, rt.copy_value(default, "default"))

    def has(self, key: str) -> bool:
        self._rt.charge(CTX_GAS)
        return bool(self._ctx.has(key))

    def put(self, key: str, value: Any) -> None:
        rt = self._rt
        t = type(value)
        if t in _SCALARS or (t is int and MIN_INT <= value <= MAX_INT):
            rt.left -= CTX_GAS + 1  # the call, and the value's copy: itself
            if rt.left < 0:
                raise rt.out_of_gas()
        else:
            rt.left -= CTX_GAS
            if rt.left < 0:
                raise rt.out_of_gas()
            value = rt.copy_value(value, "stored value")
        host = self._host
        if host is not None:  # `copy_value` checked the value as `check_value` does
            host.put_checked(key, value)
        else:
            self._ctx.put(key, value)

    def delete(self, key: str) -> None:
        self._rt.charge(CTX_GAS)
        self._ctx.delete(key)

    def emit(self, event: str, /, **data: Any) -> None:
        rt = self._rt
        for v in data.values():
            t = type(v)
            if t is int:
                if not MIN_INT <= v <= MAX_INT:
                    break
            elif t not in _SCALARS:
                break
        else:  # only immutable scalars: `data` (this call's own dict) is its copy
            rt.left -= CTX_GAS + len(data)
            if rt.left < 0:
                raise rt.out_of_gas()
            host = self._host
            if host is not None:
                host.emit_checked(event, data)
            else:
                self._ctx.emit(event, **data)
            return
        rt.left -= CTX_GAS
        if rt.left < 0:
            raise rt.out_of_gas()
        copy = rt.copy_value
        self._ctx.emit(event, **{k: copy(v, "event data") for k, v in data.items()})

    def require(self, condition: object, message: str = "requirement failed") -> None:
        rt = self._rt
        rt.left -= CTX_GAS
        if rt.left < 0:
            raise rt.out_of_gas()
        if not condition:
            raise ContractError(rt.text(message))

    def require_role(self, role: str) -> None:
        self._rt.charge(CTX_GAS)
        self._ctx.require_role(role)

    def has_role(self, role: str) -> bool:
        self._rt.charge(CTX_GAS)
        return bool(self._ctx.has_role(role))

    def sha256(self, data: bytes | str) -> str:
        self._rt.charge(
            CTX_GAS + (len(data) // BYTES_PER_GAS if isinstance(data, str | bytes) else 0)
        )
        return self._ctx.sha256(data)

    def read(self, contract: str, key: str, default: Any = None) -> Any:
        self._rt.charge(CTX_GAS)
        return self._ctx.read(contract, key, self._rt.copy_value(default, "default"))


hot_host(ContextProxy)  # `Runtime.getattr` answers `ctx.name` first (same answers, faster)
