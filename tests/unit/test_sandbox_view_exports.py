"""Views exported as `name = view(function)` (docs/adr/0029): found from the source like a
`@view def`, called like one, refused in any other form; an export that is not a function
the contract made, or that closes over something mutable, cannot reach the host or carry
anything from one call into the next."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.test_sandbox import FakeContext, admin

from tianfu.execution.contract_api import ContractError, OutOfGas
from tianfu.execution.sandbox import ContractRejected, compile_contract

GAS = 100_000

MAKER = '''
def _reader(prefix):
    """A view reading the value under `prefix + key`."""

    def read(ctx, key):
        return ctx.get(prefix + key)

    return read


def put(ctx, key, value):
    ctx.put(key, value)
'''


def call(source: str, method: str, *args: Any, state: Any = None, gas: int = GAS) -> Any:
    contract = compile_contract(source)
    return contract.call(FakeContext(admin(), state or {}), method, list(args), gas)


def refused_call(source: str, method: str, *args: Any) -> str:
    with pytest.raises(ContractError) as info:
        call(source, method, *args)
    return str(info.value)


def test_an_export_is_a_view_and_a_method_called_like_a_def() -> None:
    source = MAKER + '\nitem = view(_reader("i:"))\nother = view(_reader("o:"))\n'
    contract = compile_contract(source)
    assert contract.views == {"item", "other"}
    assert contract.methods == {"item", "other", "put"}
    state = {"i:a": 1, "o:a": 2}
    for _ in range(3):  # a fresh module, then the shared instance
        assert contract.call(FakeContext(admin(), state), "item", ["a"], GAS)[0] == 1
        assert contract.call(FakeContext(admin(), state), "other", ["a"], GAS)[0] == 2
    assert contract.instances.shareable is True  # closures over a string stay shareable
    with pytest.raises(ContractError) as info:
        contract.call(FakeContext(admin(), state), "item", [], GAS)
    assert str(info.value) == "method item(key) takes 1 argument(s), got 0"


def test_an_export_costs_the_same_on_a_fresh_and_a_shared_module() -> None:
    source = MAKER + '\nitem = view(_reader("i:"))\n'
    shared, fresh = compile_contract(source), compile_contract(source + "\n")
    fresh.instances.shareable = False
    used = {
        c.call(FakeContext(admin(), {"i:a": 1}), "item", ["a"], GAS)
        for c in (shared, fresh, shared, fresh)
    }
    assert len(used) == 1


def test_a_private_name_bound_to_view_is_not_exported() -> None:
    contract = compile_contract(MAKER + '\n_item = view(_reader("i:"))\n')
    assert contract.views == frozenset() and contract.methods == {"put"}


@pytest.mark.parametrize(
    "line",
    [
        'a = b = view(_reader("i:"))',
        'a, b = view(_reader("i:"))',
        'a = view(_reader("i:"), _reader("o:"))',
        "a = view()",
        'a = view(*[_reader("i:")])',
        'a = view(fn=_reader("i:"))',
        'a: int = view(_reader("i:"))',
    ],
)
def test_any_other_form_of_export_is_refused(line: str) -> None:
    with pytest.raises(ContractRejected, match="exported as `name = view"):
        compile_contract(MAKER + "\n" + line + "\n")


def test_an_export_may_not_reuse_a_name() -> None:
    with pytest.raises(ContractRejected, match="'put' is defined twice"):
        compile_contract(MAKER + '\nput = view(_reader("i:"))\n')
    with pytest.raises(ContractRejected, match="'a' is defined twice"):
        compile_contract(MAKER + '\na = view(_reader("i:"))\na = view(_reader("o:"))\n')
    with pytest.raises(ContractRejected, match="cannot rebind the builtin name 'len'"):
        compile_contract(MAKER + '\nlen = view(_reader("i:"))\n')


@pytest.mark.parametrize(
    "value", ["1", '"text"', "len", "view", "isinstance", "lambda ctx, key: key", "(put,)"]
)
def test_an_export_of_anything_but_a_contract_function_fails_every_call(value: str) -> None:
    """Host functions, wrapped lambdas and values are never called as a view; the other
    methods of the contract still work."""
    source = MAKER + f"\nbad = view({value})\n"
    for _ in range(2):
        assert refused_call(source, "bad", "a") == "bad is not a function defined by the contract"
    contract = compile_contract(source)
    state: dict[str, Any] = {}
    for _ in range(2):
        contract.call(FakeContext(admin(), state), "put", ["k", 1], GAS)
    assert state == {"k": 1} and contract.instances.shareable is False


def test_an_exported_function_must_take_ctx() -> None:
    source = (
        MAKER
        + "\ndef _make():\n    def f():\n        return 1\n    return f\n\nf = view(_make())\n"
    )
    assert refused_call(source, "f") == "method f() must take ctx as its first parameter"


def test_an_export_closing_over_mutable_state_carries_nothing_between_calls() -> None:
    source = """
def _counter():
    seen = []

    def count(ctx):
        seen.append(1)
        return len(seen)

    return count


count = view(_counter())
"""
    contract = compile_contract(source)
    results = [contract.call(FakeContext(admin(), {}), "count", [], GAS)[0] for _ in range(4)]
    assert results == [1, 1, 1, 1]
    assert contract.instances.shareable is False


def test_a_bad_key_prefix_fails_in_the_view_itself() -> None:
    source = MAKER + "\nitem = view(_reader(7))\n"
    assert refused_call(source, "item", "a").startswith("TypeError")


def test_a_huge_table_is_charged_on_every_call() -> None:
    """Each export runs at the top level: its cost is charged to every call (shared module
    or not), and a budget too small for the table runs out, the same on every call."""

    def table(n: int) -> str:
        return MAKER + "".join(f'\nv{i} = view(_reader("p{i}:"))' for i in range(n)) + "\n"

    small, large = compile_contract(table(10)), compile_contract(table(2000))
    assert len(large.views) == 2000
    gas_small = {small.call(FakeContext(admin(), {}), "v0", ["a"], GAS)[1] for _ in range(2)}
    gas_large = {large.call(FakeContext(admin(), {}), "v0", ["a"], GAS)[1] for _ in range(2)}
    assert len(gas_small) == 1 and len(gas_large) == 1
    assert gas_large.pop() > 100 * gas_small.pop()
    for _ in range(2):
        with pytest.raises(OutOfGas) as info:
            large.call(FakeContext(admin(), {}), "v0", ["a"], 5_000)
        assert info.value.gas_used == 5_000  # type: ignore[attr-defined]
