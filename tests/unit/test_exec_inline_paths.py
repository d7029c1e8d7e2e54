"""The paths written out in place answer exactly as the general code they shortcut:

- `Runtime.getattr`'s first test for the hot host class (`ContextProxy`, `runtime.hot_host`):
  the same attribute for every exposed name, the same `AttributeError` for anything else;
- the function entry and exit the instrumenter now writes as statements on `__tf_rt`
  (`meter.charge_source`) instead of a call of `Meter.enter`: the same
  result or error and gas at every budget, the depth limit at the same depth, the depth
  restored when a contract catches the error;
- the codec's own encoder/decoder methods used directly by `CallContext` and the ledger.
"""

from __future__ import annotations

import ast
from typing import Any

import msgspec
import pytest

from tianfu.codec import decode_value, encode
from tianfu.execution import instrument, sandbox
from tianfu.execution import runtime as g
from tianfu.execution.context import CallContext, GasMeter
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.proxy import ContextProxy
from tianfu.types.tx import Receipt

CALLER = Caller("a" * 40, "org1", "alice", "member", frozenset({"x", "member"}))


def _ctx(meter: GasMeter | None = None) -> CallContext:
    return CallContext(
        contract="probe",
        sender=CALLER,
        height=3,
        time_ms=1,
        tx_hash="00",
        reader={b"probe/present": b"\x07"}.get,
        gas=meter or GasMeter(10**9),
    )


# -- Runtime.getattr: the hot host class ---------------------------------------------------


class _SubProxy(ContextProxy):  # not the exact type: always the general path
    __slots__ = ()


NOT_EXPOSED = [
    "_ctx",
    "_rt",
    "_host",
    "_sender",
    "__class__",
    "__init__",
    "__slots__",
    "__dict__",
    "_tf_exposed",
    "writes",
    "events",
    "nothing",
    "",
    "get ",
    "GET",
]


def _answer(rt: g.Runtime, obj: Any, name: str) -> tuple[str, Any]:
    try:
        value = rt.getattr(obj, name)
    except AttributeError as exc:
        return ("error", str(exc))
    if callable(value) and hasattr(value, "__func__"):  # a bound method: compare what it is
        return ("method", value.__func__, value.__self__ is obj)
    return ("value", value)


def test_hot_host_is_the_context_proxy_with_its_own_exposed_names() -> None:
    assert g._hot_type is ContextProxy
    assert g._hot_names is ContextProxy._tf_exposed


def test_getattr_hot_path_gives_the_general_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    rt = g.Runtime(1000)
    proxy = ContextProxy(_ctx(), rt)
    sub = _SubProxy(_ctx(), rt)
    names = sorted(ContextProxy._tf_exposed) + NOT_EXPOSED
    fast = [_answer(rt, proxy, n) for n in names]
    fast_sub = [_answer(rt, sub, n) for n in names]
    with monkeypatch.context() as m:
        m.setattr(g, "_hot_type", None)
        m.setattr(g, "_hot_names", frozenset())
        general = [_answer(rt, proxy, n) for n in names]
    assert fast == general
    assert [a[0] for a in fast_sub] == [a[0] for a in general]
    exposed = len(ContextProxy._tf_exposed)
    assert all(a[0] != "error" for a in fast[:exposed])
    for (kind, message), name in zip(fast[exposed:], NOT_EXPOSED, strict=True):
        assert kind == "error"
        assert message == (
            f"'ContextProxy' object has no attribute '{name}' available to contracts"
        )


def test_hot_host_refuses_a_class_without_a_frozenset() -> None:
    class Loose:
        _tf_exposed = {"a"}

    with pytest.raises(TypeError):
        g.hot_host(Loose)
    with pytest.raises(TypeError):
        g.hot_host(int)
    assert g._hot_type is ContextProxy


def test_contract_code_reaches_no_private_proxy_attribute() -> None:
    compiled = sandbox.compile_contract(
        "def peek(ctx, n):\n    return ctx.sender.address if n == 0 else len(ctx.get('k', 'abc'))\n"
    )
    assert compiled.call(_ctx(), "peek", [0], 1000)[0] == "a" * 40
    assert compiled.call(_ctx(), "peek", [1], 1000)[0] == 3
    with pytest.raises(sandbox.ContractRejected):
        sandbox.compile_contract("def peek(ctx):\n    return ctx._ctx\n")


# -- the inlined function entry and exit ---------------------------------------------------

PROBE = """
def deep(ctx, n):
    if n == 0:
        return 0
    return 1 + deep(ctx, n - 1)

def catch_deep(ctx, n):
    try:
        deep(ctx, n)
    except ContractError as exc:
        return [str(exc), deep(ctx, 5), deep(ctx, 5)]
    return "no error"

def looped(ctx, n):
    total = 0
    for i in range(n):
        total = total + helper(ctx, i)
    ctx.put("t", total)
    return total

def helper(ctx, i):
    f = lambda x: x + 1
    return f(i)

def nested(ctx, n):
    def inner(m):
        return m * 2
    ctx.emit("N", v=inner(n))
    return inner(inner(n))

def fails(ctx):
    helper(ctx, 1)
    raise ContractError("no")
"""

PROBE_CALLS: list[tuple[str, list[Any]]] = [
    ("deep", [0]),
    ("deep", [10]),
    ("deep", [g.MAX_CALL_DEPTH - 2]),
    ("deep", [g.MAX_CALL_DEPTH - 1]),
    ("deep", [g.MAX_CALL_DEPTH]),
    ("catch_deep", [g.MAX_CALL_DEPTH + 3]),
    ("catch_deep", [3]),
    ("looped", [7]),
    ("nested", [4]),
    ("fails", []),
]


def _outcome(source: str, method: str, args: list[Any], budget: int) -> tuple[Any, ...]:
    compiled = sandbox.compile_contract(source)
    meter = GasMeter(budget)  # the one meter of the call and its context
    ctx = _ctx(meter)
    try:
        result, used = compiled.call(ctx, method, list(args), meter)
        verdict: tuple[Any, ...] = ("ok", result, used)
    except ContractError as exc:
        verdict = ("failed", type(exc).__name__, str(exc), exc.gas_used)  # type: ignore[attr-defined]
    return (*verdict, ctx.writes, ctx.events, meter.used)


def _outcomes(source: str, method: str, args: list[Any]) -> list[tuple[Any, ...]]:
    full = _outcome(source, method, args, 10**6)
    top = full[2] + 2 if full[0] == "ok" else 400
    # twice per budget: the second call reuses the shared module instance
    return [_outcome(source, method, args, b) for b in range(top) for _ in (0, 1)] + [full]


@pytest.fixture
def reference_entry(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Compile with the function entry as a call of the meter's own `enter` instead of its
    statements inlined (both are made from `meter.charge_source`)."""

    def use() -> None:
        original = instrument.charge_source

        def entry_call(meter: str, gas: str, mem: str | None, enter: bool) -> str:
            if not enter:
                return original(meter, gas, mem, enter)
            return f"{meter}.enter({gas}, {mem or 0})\n"

        monkeypatch.setattr(instrument, "charge_source", entry_call)
        sandbox._compile.cache_clear()

    yield use
    sandbox._compile.cache_clear()


@pytest.mark.parametrize(("method", "args"), PROBE_CALLS)
def test_inlined_entry_gives_the_reference_outcome_at_every_budget(
    method: str, args: list[Any], reference_entry: Any
) -> None:
    source = PROBE + f"\n# {method}\n"  # a source of its own: fresh compile and instances
    sandbox._compile.cache_clear()
    fast = _outcomes(source, method, args)
    reference_entry()
    reference = _outcomes(source, method, args)
    assert fast == reference


def test_the_depth_limit_and_its_recovery() -> None:
    source = PROBE + "\n# depth\n"
    ok = _outcome(source, "deep", [g.MAX_CALL_DEPTH - 1], 10**6)
    assert ok[:2] == ("ok", g.MAX_CALL_DEPTH - 1)
    too_deep = _outcome(source, "deep", [g.MAX_CALL_DEPTH], 10**6)
    assert too_deep[:3] == (
        "failed",
        "CallTooDeep",
        f"maximum call depth of {g.MAX_CALL_DEPTH} exceeded (too deep recursion)",
    )
    caught = _outcome(source, "catch_deep", [g.MAX_CALL_DEPTH + 3], 10**6)
    assert caught[0] == "ok" and caught[1][1:] == [5, 5]
    # the instance the failed calls used is reused: its depth is back to 0
    assert _outcome(source, "deep", [g.MAX_CALL_DEPTH - 1], 10**6) == ok


def test_the_entry_is_not_reachable_from_contract_code() -> None:
    for bad in ("__tf_rt", "__tf_m", "__tf_too_deep"):
        with pytest.raises(sandbox.ContractRejected):
            sandbox.compile_contract(f"def f(ctx):\n    return {bad}\n")


# -- the codec's own methods ---------------------------------------------------------------

VALUES: list[Any] = [None, True, 0, -1, 2**64 - 1, -(2**63), "", "x" * 70, b"\x00", [1, "a"]]


def test_codec_encode_is_the_canonical_encoder_itself() -> None:
    """`encode` / `decode_value` are the codec's encoder and decoder methods (no wrapper):
    key-sorted canonical bytes, values round-tripping, receipts as a sorted encoder gives."""
    sorted_encoder = msgspec.msgpack.Encoder(order="sorted")
    for v in [*VALUES, {"b": 1, "a": [None, {"z": b"", "y": 2}]}]:
        assert encode(v) == sorted_encoder.encode(v)
        assert decode_value(encode(v)) == v
    assert encode({"b": 1, "a": 2}) == b"\x82\xa1a\x02\xa1b\x01"  # keys sorted
    receipts = [
        Receipt(0, 0),
        Receipt(1, 123, {"k": [1, 2]}, "", []),
        Receipt(0, 5, None, "insufficient balance: 1 < 2", []),
    ]
    ctx = _ctx()
    ctx.emit_checked("E", {"a": 1, "b": "x"})
    receipts.append(Receipt(1, 9, True, "", ctx.events))
    assert [encode(r) for r in receipts] == [sorted_encoder.encode(r) for r in receipts]


def test_put_checked_and_emit_checked_charge_as_before() -> None:
    for limit in range(0, 400, 7):
        a, b = GasMeter(limit), GasMeter(limit)
        ca, cb = _ctx(a), _ctx(b)
        fa = fb = None
        try:
            ca.put_checked("key", "v" * 50)
            ca.emit_checked("E", {"a": 1})
        except ContractError as exc:
            fa = str(exc)
        try:
            cb.put("key", "v" * 50)
            cb.emit("E", a=1)
        except ContractError as exc:
            fb = str(exc)
        assert (fa, a.used, ca.writes, ca.events) == (fb, b.used, cb.writes, cb.events)


# -- `name.attr` of the hot host class, compiled inline ------------------------------------

CTX_PROBE = """
def uses(ctx, key, value):
    ctx.require(ctx.height == 3 and ctx.contract == "probe", "context")
    before = ctx.get(key, 0)
    ctx.put(key, value)
    ctx.emit("Put", key=key, before=before)
    s = ctx.sender
    return [before, ctx.get(key), ctx.has(key), s.address, ctx.sender.kind, ctx.tx_hash,
            ctx.time_ms, ctx.has_role("x"), ctx.sha256("ab")]

def as_dict(ctx, key):
    return lookalike({"get": 1, key: 2}, key)

def lookalike(ctx, key):
    return [ctx.get(key), ctx.get("get"), len(ctx.items())]

def missing(ctx):
    return ctx.put2

def private(ctx, n):
    x = ctx
    return x.require(n > 0, "positive") if n else x.nothing

def unbound(ctx, n):
    if n:
        c = ctx
    return c.get("k")
"""

CTX_CALLS: list[tuple[str, list[Any]]] = [
    ("uses", ["k", 5]),
    ("uses", ["present", "text"]),
    ("uses", ["k" * 300, 1]),
    ("as_dict", ["k"]),
    ("missing", []),
    ("private", [1]),
    ("private", [0]),
    ("private", [-1]),
    ("unbound", [1]),
    ("unbound", [0]),
]


def test_hot_names_compile_inline_only_for_plain_names() -> None:
    code = sandbox._Instrumenter().visit(ast.parse(CTX_PROBE))
    text = ast.unparse(code)
    assert "(ctx.get if __tf_type(ctx) is __tf_hot else __tf_getattr(ctx, 'get'))" in text
    assert "__tf_getattr(ctx, 'put2')" in text and "ctx.put2 " not in text
    assert "__tf_getattr(x, 'nothing')" in text
    # the outer read is on an expression, not a name: always the checked helper
    assert "__tf_getattr(ctx.sender if __tf_type(ctx) is __tf_hot else" in text


def _plain_attribute(self: Any, node: ast.Attribute) -> ast.expr:
    """The instrumenter's `obj.name` as it was: always `Runtime.getattr(obj, "name")`."""
    self.generic_visit(node)
    return instrument._call("getattr", node.value, ast.Constant(node.attr))


@pytest.mark.parametrize(("method", "args"), CTX_CALLS)
def test_inline_hot_names_give_the_reference_outcome_at_every_budget(
    method: str, args: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = CTX_PROBE + f"\n# {method} {args!r}\n"
    sandbox._compile.cache_clear()
    try:
        fast = _outcomes(source, method, args)
        with monkeypatch.context() as m:
            m.setattr(sandbox._Instrumenter, "visit_Attribute", _plain_attribute)
            sandbox._compile.cache_clear()
            reference = _outcomes(source, method, args)
    finally:
        sandbox._compile.cache_clear()
    assert fast == reference


def test_inline_hot_names_fail_as_before() -> None:
    source = CTX_PROBE + "\n# errors\n"
    missing = _outcome(source, "missing", [], 10**6)
    assert missing[1:3] == (
        "ContractError",
        "AttributeError: 'ContextProxy' object has no attribute 'put2' available to contracts",
    )
    assert _outcome(source, "private", [0], 10**6)[2] == (
        "AttributeError: 'ContextProxy' object has no attribute 'nothing' available to contracts"
    )
    # Python's own wording of this error changed between versions: contracts and receipts
    # get the sandbox's (`errors.message_of`), the same on every node.
    assert _outcome(source, "unbound", [0], 10**6)[1:3] == (
        "ContractError",
        "UnboundLocalError: local variable referenced before assignment",
    )
    assert _outcome(source, "as_dict", ["k"], 10**6)[:2] == ("ok", [2, 1, 2])


def test_the_hot_host_cannot_change_once_set() -> None:
    class Other:
        __slots__ = ()
        _tf_exposed = frozenset({"get"})

    with pytest.raises(RuntimeError):
        g.hot_host(Other)
    g.hot_host(ContextProxy)  # the same class again: nothing changes
    assert g._hot_type is ContextProxy
