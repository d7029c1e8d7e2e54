"""The sandbox's value fast paths answer exactly as copying every value one by one: the
scalar shortcuts of `ctx.get/put/emit` and of the arguments (`proxy._scalar_gas`,
`walk.copy_args`), `CallContext.put_checked` / `emit_checked` (no second `check_value`),
the shared `SenderView`, the memoised `Runtime.getattr` class lookup. Every call is
compared with the reference path at every gas budget: result or error, gas used, state
writes, events and the meter's gas."""

from __future__ import annotations

from typing import Any

import pytest

from tianfu.execution import proxy, sandbox, walk
from tianfu.execution import runtime as g
from tianfu.execution.context import CallContext, GasMeter
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.proxy import ContextProxy, SenderView, sender_view
from tianfu.execution.sandbox import compile_contract
from tianfu.types.values import ValueTypeError, check_value

PROBE = """
def get(ctx, key, default):
    return ctx.get(key, default)

def put(ctx, key, value):
    ctx.put(key, value)
    return ctx.get(key)

def emit(ctx, a, b):
    ctx.emit("E", a=a, b=b)
    ctx.emit("Empty")
    return a

def nest(ctx, depth, where):
    v = 1
    for i in range(depth):
        v = [v]
    if where == "put":
        ctx.put("n", v)
    elif where == "emit":
        ctx.emit("N", v=v)
    elif where == "get":
        return ctx.get("nothing", v)
    return v

def who(ctx):
    s = ctx.sender
    return [s.address, s.org, s.name, s.kind, list(s.roles), s.has_role("x"), s.has_role("member")]

def echo(ctx, *xs):
    return list(xs)
"""

CALLS: list[tuple[str, list[Any]]] = [
    ("get", ["k", 0]),
    ("get", ["present", 0]),
    ("get", ["k", None]),
    ("get", ["k", [1, {"a": b"x"}]]),
    ("get", ["k", 2**64]),
    ("get", ["k", -(2**63) - 1]),
    ("put", ["k", 5]),
    ("put", ["k", "text"]),
    ("put", ["k", {"a": [1, 2, None]}]),
    ("put", ["k", 2**64]),
    ("put", ["", 1]),
    ("put", ["k", "x" * 300_000]),
    ("put", ["k" * 300, 1]),
    ("get", ["k" * 300, 0]),
    ("emit", [1, "b"]),
    ("emit", [True, None]),
    ("emit", [2**64 - 1, b"\x00"]),
    ("emit", [[1], {"k": 2}]),
    ("emit", [2**64, 1]),
    ("who", []),
    ("echo", []),
    ("echo", [1, "a", None, b"b", True]),
    ("echo", [[1, 2], {"a": 1}]),
    ("echo", [2**64]),
    *[("nest", [d, w]) for d in (31, 32, 33) for w in ("put", "emit", "get", "ret")],
]


class _ReferenceProxy(ContextProxy):
    """`ctx.get/put/emit` with every value copied by `walk.copy_value` (no scalar
    shortcut), and the host checking it again (`put`, `emit`)."""

    __slots__ = ()

    def _in(self, value: Any, what: str) -> Any:
        return walk.copy_value(self._rt.m, value, what)[0]

    def get(self, key: str, default: Any = None) -> Any:
        return self._ctx.get(key, self._in(default, "default"), g.CTX_GAS)

    def put(self, key: str, value: Any) -> None:
        value = self._in(value, "stored value")
        try:  # the host's own check, which the copy makes needless
            check_value(value)
        except ValueTypeError as exc:
            raise ContractError(f"cannot store value: {exc}") from None
        self._ctx.put_checked(key, value, g.CTX_GAS)

    def emit(self, event: str, /, **data: Any) -> None:
        if type(event) is not str or not 0 < len(event) <= 64:
            raise ContractError("an event name is a str of 1 to 64 characters")
        copied = {k: self._in(v, "event data") for k, v in data.items()}
        try:
            check_value(copied)
        except ValueTypeError as exc:
            raise ContractError(f"bad event data: {exc}") from None
        self._ctx.emit_checked(event, copied, g.CTX_GAS)

    @property
    def sender(self) -> SenderView:
        return SenderView(self._ctx.sender)


def _copy_every_argument(meter: Any, args: list[Any]) -> list[Any]:
    c = walk._Copy(meter, "argument")
    out = []
    for i, a in enumerate(args):
        c.what = f"argument {i + 1}"
        out.append(c.walk(a, 0))
    meter.charge_alloc(walk.units_gas(c.units), c.nbytes)
    return out


CALLER = Caller("a" * 40, "org1", "alice", "member", frozenset({"x", "member"}))


def _outcome(method: str, args: list[Any], budget: int) -> tuple[Any, ...]:
    compiled = compile_contract(PROBE)
    meter = GasMeter(budget)
    ctx = CallContext(
        contract="probe",
        sender=CALLER,
        height=3,
        time_ms=1,
        tx_hash="00",
        reader={b"probe/present": b"\x07"}.get,
        gas=meter,
    )
    try:
        result, used = compiled.call(ctx, method, list(args), meter)
        verdict: tuple[Any, ...] = ("ok", result, used)
    except ContractError as exc:
        verdict = ("failed", type(exc).__name__, str(exc), exc.gas_used)  # type: ignore[attr-defined]
    return (*verdict, ctx.writes, ctx.events, meter.used, meter.mem)


@pytest.mark.parametrize(("method", "args"), CALLS)
def test_specialised_paths_give_the_reference_outcome_at_every_budget(
    method: str, args: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    full = _outcome(method, args, 10**6)
    top = full[2] + 2 if full[0] == "ok" else 60
    fast = [_outcome(method, args, b) for b in range(top)] + [full]
    with monkeypatch.context() as m:
        m.setattr(sandbox, "ContextProxy", _ReferenceProxy)
        m.setattr(sandbox, "copy_args", _copy_every_argument)
        reference = [_outcome(method, args, b) for b in range(top)]
        reference.append(_outcome(method, args, 10**6))
    assert fast == reference


def test_the_sender_view_is_built_once_per_caller_and_changes_nothing() -> None:
    caller = Caller("b" * 40, "org2", "bob", "admin", frozenset({"z", "a", "admin"}))
    view = sender_view(caller)
    assert sender_view(caller) is view
    assert view.roles == ("a", "admin", "z") and view.has_role("z") and view.has_role("admin")
    same = Caller("b" * 40, "org2", "bob", "admin", frozenset({"z", "a", "admin"}))
    assert caller == same and hash(caller) == hash(same) and repr(caller) == repr(same)
    assert sender_view(same) is not view  # kept per object, never shared by equality
    with pytest.raises(AttributeError):
        view.name = "mallory"  # type: ignore[misc]  # (contracts cannot even write this)
        view.nickname = "x"  # type: ignore[attr-defined]
    assert proxy.SenderView is SenderView


def test_getattr_class_lookup_is_memoised_with_the_same_answers() -> None:
    rt = g.Runtime(1000)
    allowed: list[tuple[Any, str]] = [("ab", "upper"), ({"a": 1}, "get"), ([1], "index")]
    for obj, name in allowed:
        assert callable(rt.getattr(obj, name))
        assert callable(rt.getattr(obj, name))
    refused: list[tuple[Any, str]] = [("ab", "format"), (1, "real"), (CALLER, "roles")]
    for obj, name in [*refused, (rt, "left")]:
        for _ in range(2):
            with pytest.raises(AttributeError, match="available to contracts"):
                rt.getattr(obj, name)
    view = sender_view(CALLER)
    assert rt.getattr(view, "org") == "org1"
    assert g._EXPOSED[SenderView] == SenderView._tf_exposed
    assert g._EXPOSED[str] is False
