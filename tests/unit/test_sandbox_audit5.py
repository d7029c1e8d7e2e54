"""Regression tests of the fifth hostile audit of the sandbox: work a contract could make
the host do that its gas did not pay for.

Each fails on the code before its fix.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.test_sandbox_findings import call

from tianfu.execution.context import CallContext
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.meter import Meter
from tianfu.execution.sandbox import compile_contract


def call_host(source: str, *args: Any, gas: int = 10**8) -> tuple[str, Any, int]:
    """`call` against the node's own `CallContext` (state encoded and decoded as on a node,
    events checked as on a node), over an empty state."""
    store: dict[bytes, bytes] = {}
    meter = Meter(gas)
    caller = Caller(address="a" * 40, org="org1", name="user", kind="member")
    ctx = CallContext(
        contract="probe",
        sender=caller,
        height=1,
        time_ms=1,
        tx_hash="00",
        reader=store.get,
        gas=meter,
    )
    try:
        result, used = compile_contract(source).call(ctx, "f", list(args), meter)
    except ContractError as exc:
        return ("failed", str(exc), exc.gas_used)  # type: ignore[attr-defined]
    return ("ok", result, used)


# -- str.join / bytes.join over many short items -------------------------------------------------

JOIN = """
def f(ctx, n, sep, kind):
    item = '' if kind == 'str' else b''
    L = [item] * n
    return len(sep.join(L))
"""


@pytest.mark.parametrize(("sep", "kind"), [("", "str"), (",", "str"), (b"", "bytes")])
def test_a_join_pays_for_every_item_it_checks(sep: str | bytes, kind: str) -> None:
    """Before joining, the host checks every item's type, adds up their lengths and (for
    text) whether each is ASCII: three passes over the items at about 150-300 ns per item
    on the reference machine, charged 1/16 gas per item, so `''.join([''] * 100_000)` took
    ~16-20x a plain loop's CPU per gas (6,261 gas). Every item now pays one gas before
    those passes."""
    n = 100_000
    status, result, gas = call(JOIN, n, sep, kind)
    assert status == "ok" and result == len(sep) * (n - 1), result
    _, _, base = call(JOIN, 0, sep, kind)
    assert gas - base >= n, gas - base
    # a join of a few long texts costs as before: by their bytes
    _, _, few = call(JOIN, 3, sep, kind)
    assert few - base < 20


def test_a_join_still_refuses_items_of_another_type() -> None:
    source = "def f(ctx, L):\n    return ','.join(L)\n"
    for bad in (["a", 1], ["a", b"b"], ["a", ["b"]], [None]):
        status, message, _ = call(source, bad)
        assert status == "failed" and "join() takes str items only" in message, message
    assert call(source, ["a", "b"])[1] == "a,b"


# -- containers walked by Python code: copies, state reads, text -------------------------------

CONTAINERS = """
def f(ctx, op, n, nested):
    L = [[] if nested else 0 for i in range(n)]
    if op == 'emit':
        ctx.emit('e', v=L)
    elif op == 'put':
        ctx.put('k', L)
    elif op == 'get':
        ctx.put('k', L)
        for i in range(10):
            x = ctx.get('k')
    elif op == 'str':
        for i in range(10):
            x = str(L)
    return 0
"""


@pytest.mark.parametrize(("op", "times"), [("emit", 1), ("put", 1), ("get", 10), ("str", 10)])
def test_a_nested_container_pays_more_than_a_scalar_in_every_walk(op: str, times: int) -> None:
    """The boundary copy (`ctx.emit`, `ctx.put`, a return value), the count of a value read
    from state and the bound of `str()` visit each container through Python code (a call,
    type tests, a new list for a copy), ~1 us each, but counted it as one walk unit (half a
    gas) like an int: 60,000 empty lists emitted, stored, read back or printed took ~8-20x
    a plain loop's CPU per gas. A container now counts `CONTAINER_UNITS` like `measure`,
    and an event's copy checks the event's depth itself (no second uncharged walk)."""
    n = 20_000
    _, _, nested = call_host(CONTAINERS, op, n, True)
    _, _, flat = call_host(CONTAINERS, op, n, False)
    assert nested - flat >= 2 * n * times, (nested, flat)


DEEP_EVENT = """
def f(ctx, depth):
    v = 1
    for i in range(depth):
        v = [v]
    ctx.emit('e', v=v)
    return 0
"""


def test_event_data_is_refused_past_the_same_depth_as_before() -> None:
    from tianfu.types.values import MAX_DEPTH

    assert call_host(DEEP_EVENT, MAX_DEPTH - 1)[0] == "ok"
    status, message, _ = call_host(DEEP_EVENT, MAX_DEPTH)
    assert status == "failed" and "nested deeper than 32 levels" in message, message


# -- the return value is walked once -----------------------------------------------------------

RETURNS = "def f(ctx, n):\n    return [[] for i in range(n)]\n"


def test_a_sandboxed_return_value_is_not_walked_again_by_the_executor(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox returns its checked, charged copy of the result (`copy_value`); the
    executor walked it a second time with `check_value`, uncharged (~2x a plain loop's CPU
    per gas on top of the copy's for a result of many small containers). A native
    contract's result is still checked by the executor."""
    from tianfu.execution import executor
    from tianfu.testing.appchain import AppChain

    walked: list[Any] = []
    real = executor.check_value

    def counted(value: Any) -> None:
        walked.append(value)
        real(value)

    chain = AppChain(tmp_path)
    try:
        chain.deploy("rets", RETURNS)
        user = chain.identity("org2", "returner")
        monkeypatch.setattr(executor, "check_value", counted)
        receipt = chain.call(user, "rets", "f", 1_000)
        assert receipt.ok and receipt.result == [[]] * 1_000
        assert [v for v in walked if v == [[]] * 1_000] == []
        walked.clear()
        receipt = chain.call(user, "governance", "get_identity", user.info.address)
        assert receipt.ok and walked == [receipt.result]
    finally:
        chain.close()


# -- an exception's message made from a container ---------------------------------------------

RAISES = """
def f(ctx, how, n):
    L = [[] for i in range(n)]
    k = tuple([(i,) for i in range(n)])
    other = tuple([(i + 1,) for i in range(n)])  # stored when k is not: the same store's gas
    d = {k: 1} if how == 'found' else {other: 1}
    total = 0
    for i in range(10):
        try:
            if how == 'value':
                raise ValueError(L)
            elif how == 'args':
                raise ValueError(1, L)
            elif how == 'key' or how == 'found':
                total += d[k] - 1
                raise ValueError('a plain message')
            else:
                raise ValueError('a plain message')
        except (ValueError, KeyError) as e:
            total += 1
    return total
"""


@pytest.mark.parametrize("how", ["value", "args", "key"])
def test_an_exception_message_made_by_a_walk_pays_for_its_characters(how: str) -> None:
    """`ValueError(L)` (or a missing tuple key, caught) makes its message with
    `bounded_repr`, Python code visiting the container a few characters at a time (~3-6
    plain-loop gas of CPU per character, up to 1,000 characters), but paid only its bytes'
    memory: 300 raises of `ValueError([[]] * 60_000)` cost 9,600 gas and took ~180x a plain
    loop's CPU per gas. Such a message now pays `REPR_CHAR_GAS` (2) per character."""
    from tianfu.execution.limits import MAX_MESSAGE

    status, result, gas = call(RAISES, how, 2_000, gas=10**8)
    assert status == "ok" and result == 10, result
    _, _, plain = call(RAISES, "found" if how == "key" else "plain", 2_000, gas=10**8)
    assert gas - plain >= 10 * MAX_MESSAGE, (gas, plain)  # (a plain raise costs too)
