"""Tests that repeated calls of one compiled contract stay isolated and metered alike: no
module-level value (or mutable default) a call mutates is seen by the next, functions
charge the meter of the current call, module-level work is charged on every call, and
the asset contract's gas is the same on a shared and a fresh module, at the figures of
the cost table (docs/contracts.md)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.test_sandbox import ALICE, BOB, FakeContext, admin, member

from tianfu.contracts.examples import example_source
from tianfu.execution import costs, runtime, sandbox
from tianfu.execution.contract_api import Caller, ContractError, OutOfGas
from tianfu.execution.sandbox import compile_contract

GAS = 100_000

# (caller, method, args) -> (result, gas used) under the cost table of `costs` (a change
# of these figures is a change of every asset transaction's gas: docs/contracts.md).
ASSET_CALLS: list[tuple[Caller, str, list[Any], Any, int]] = [
    (admin(), "mint", [ALICE, 100], 100, 122),
    (admin(), "transfer", [BOB, 30], True, 127),
    (admin(), "approve", [BOB, 20], None, 96),
    (member(), "transfer_from", [ALICE, BOB, 15], True, 166),
    (member(), "burn", [5], None, 103),
    (admin(), "balance", [BOB], 40, 61),
    (admin(), "allowance", [ALICE, BOB], 5, 66),
    (admin(), "total_supply", [], 95, 59),
    (admin(), "info", [], {"name": "Tianfu Asset", "symbol": "TFA", "supply": 95}, 129),
]


def test_asset_gas_is_the_same_on_a_shared_and_a_fresh_module() -> None:
    asset = compile_contract(example_source("asset"))
    # a compilation of its own (compile_contract's is cached, shared with later tests)
    fresh = sandbox._build(example_source("asset"), sandbox.MAX_SOURCE_BYTES)
    assert fresh is not asset
    fresh.instances.shareable = False  # every call executes the module afresh
    for contract in (asset, fresh, asset):
        state: dict[str, Any] = {}
        for caller, method, args, result, used in ASSET_CALLS:
            assert contract.call(FakeContext(caller, state), method, args, GAS) == (result, used)
    kv = compile_contract(example_source("kv"))
    for _ in range(3):
        assert kv.call(FakeContext(admin(), {}), "put", ["a", 1], GAS) == (None, 34)


def test_asset_out_of_gas_with_a_tiny_budget_every_time() -> None:
    """A budget too small for the call fails the same way on every call."""
    asset = compile_contract(example_source("asset"))
    asset.call(FakeContext(admin(), {}), "balance", [BOB], GAS)
    for _ in range(2):
        with pytest.raises(OutOfGas) as info:
            asset.call(FakeContext(admin(), {}), "balance", [BOB], 1)
        assert info.value.gas_used == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("SEEN = []\ndef f(ctx):\n    SEEN.append(1)\n    return len(SEEN)\n", 1),
        (
            "D = {'a': 1}\ndef f(ctx):\n    D['a'] += 1\n    D['b'] = 2\n    return D\n",
            {"a": 2, "b": 2},
        ),
        ("T = ([],)\ndef f(ctx):\n    T[0].append(1)\n    return len(T[0])\n", 1),
        ("def f(ctx, acc=[]):\n    acc.append(1)\n    return len(acc)\n", 1),
        ("def f(ctx, *, acc={}):\n    acc[len(acc)] = 1\n    return len(acc)\n", 1),
        ("N = [1]\nM = N\ndef f(ctx):\n    M.append(2)\n    return N\n", [1, 2]),
        (
            "def _mk():\n    return [0]\nL = _mk()\ndef f(ctx):\n    L.append(1)\n    return L\n",
            [0, 1],
        ),
    ],
)
def test_mutations_of_module_values_never_reach_the_next_call(source: str, expected: Any) -> None:
    compiled = compile_contract(source)
    ctx = FakeContext(admin())
    results = [compiled.call(ctx, "f", [], GAS) for _ in range(4)]
    assert [r for r, _ in results] == [expected] * 4
    assert len({used for _, used in results}) == 1


@pytest.mark.parametrize(
    "source",
    [
        # the loop is in a module-level function the method calls
        "def _loop(n):\n    return [i for i in range(n)]\ndef f(ctx, n):\n"
        "    return len(_loop(n))\n",
        # the loop is in a module-level lambda (wrapped by the runtime that built it)
        "LOOP = lambda n: [i for i in range(n)]\ndef f(ctx, n):\n    return len(LOOP(n))\n",
        # a module-level alias of a function
        "def _loop(n):\n    return [i for i in range(n)]\nALIAS = _loop\ndef f(ctx, n):\n"
        "    return len(ALIAS(n))\n",
    ],
)
def test_functions_charge_the_runtime_of_the_current_call(source: str) -> None:
    compiled = compile_contract(source)
    first = compiled.call(FakeContext(admin()), "f", [10], GAS)
    assert first[0] == 10 and first[1] > 10
    with pytest.raises(OutOfGas) as info:
        compiled.call(FakeContext(admin()), "f", [100_000], 1_000)
    assert info.value.gas_used == 1_000  # type: ignore[attr-defined]
    assert compiled.call(FakeContext(admin()), "f", [10], GAS) == first


def test_module_level_work_is_charged_on_every_call() -> None:
    source = (
        "def _sum(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\n"
        "TOTAL = _sum(50)\nPAIR = (TOTAL, 'x' * 3, -TOTAL)\n"
        "def f(ctx):\n    return [TOTAL, PAIR[2], PAIR[1]]\n"
    )
    compiled = compile_contract(source)
    calls = [compiled.call(FakeContext(admin()), "f", [], GAS) for _ in range(3)]
    assert calls[0][0] == [1225, -1225, "xxx"]
    assert len(set(map(repr, calls))) == 1
    used = calls[0][1]
    assert used > 50  # the module's own loop is counted
    for budget in (1, 30, used - 1):  # running out during module setup, after reuse too
        with pytest.raises(OutOfGas) as info:
            compiled.call(FakeContext(admin()), "f", [], budget)
        assert info.value.gas_used == budget  # type: ignore[attr-defined]


def test_a_failing_module_setup_fails_every_call() -> None:
    compiled = compile_contract("X = 1 // 0\ndef f(ctx):\n    return X\n")
    for _ in range(3):
        with pytest.raises(ContractError, match="ZeroDivisionError"):
            compiled.call(FakeContext(admin()), "f", [], GAS)


def test_module_globals_name_every_helper_of_this_runtime() -> None:
    rt = runtime.Runtime(10)
    ns = rt.module_globals()
    for suffix, attr in runtime.HELPERS.items():
        assert ns[f"__tf_{suffix}"] == getattr(rt, attr)
    builtins = ns["__builtins__"]
    for name, native in runtime._CHECKED_TYPES.items():
        assert rt._types[builtins[name]] is native  # isinstance(x, int) inside contracts
    # One builtins dict per runtime (contract code cannot reach it: `__builtins__` and
    # every `__` name are refused); another runtime, another dict.
    assert builtins is rt.module_globals()["__builtins__"]
    assert builtins is not runtime.Runtime(10).module_globals()["__builtins__"]
    assert set(builtins) == runtime.SAFE_BUILTIN_NAMES
    assert ns["__tf_tick"].__self__ is rt and ns["__tf_m"] is rt.m


@settings(deadline=None, max_examples=60)
@given(st.text(max_size=300), st.text(max_size=300))
def test_str_addition_charges_by_the_cost_table(a: str, b: str) -> None:
    """`a + b` of two str: the bytes of the result and its memory (free when the result
    fits `SMALL_BYTES`: the node's static weight and memory cover it)."""
    rt = runtime.Runtime(1_000)
    assert rt.add(a, b) == a + b
    n = len(a) + len(b)
    wide = not (a.isascii() and b.isascii())
    mem = costs.str_bytes(n, wide)
    if n >= costs.BYTES_PER_GAS:
        expected = costs.bytes_gas(n) + mem // costs.MEM_BYTES_PER_GAS
        assert (rt.m.left, rt.m.mem) == (1_000 - expected, costs.MAX_TX_MEMORY - mem)
    elif mem > costs.SMALL_BYTES:
        assert (rt.m.left, rt.m.mem) == (
            1_000 - mem // costs.MEM_BYTES_PER_GAS,
            costs.MAX_TX_MEMORY - mem,
        )
    else:
        assert (rt.m.left, rt.m.mem) == (1_000, costs.MAX_TX_MEMORY)


@pytest.mark.parametrize(
    ("a", "b", "charged", "mem"),
    [
        # 200 ASCII characters: 200 // 64 = 3 gas of byte work; 64 + 200 = 264 bytes of
        # memory, 264 // 256 = 1 gas for it.
        ("a" * 100, "b" * 100, 4, 264),
        # 70 characters, one of them wide (4 bytes each): 70 // 64 = 1; 64 + 280 = 344
        # bytes, 344 // 256 = 1.
        ("é" * 10, "x" * 60, 2, 344),
        # 20 wide characters: no byte work under 64; 64 + 80 = 144 bytes (over the 128 a
        # small object gets free), 144 // 256 = 0 gas.
        ("é" * 20, "", 0, 144),
        # 4 ASCII characters: 68 bytes, a small object: nothing charged.
        ("ab", "cd", 0, 0),
    ],
)
def test_str_addition_known_charges(a: str, b: str, charged: int, mem: int) -> None:
    """Hand-computed charges of `a + b` (the cost table: 1 gas per 64 bytes of C-level
    work, 1 per 256 bytes allocated; a str is a 64-byte header and 1 or 4 bytes per
    character; a transaction may allocate 64 MiB)."""
    rt = runtime.Runtime(1_000)
    assert rt.add(a, b) == a + b
    assert (rt.m.left, rt.m.mem) == (1_000 - charged, (64 << 20) - mem)


def test_str_addition_refuses_oversize_before_building() -> None:
    half = "x" * (runtime.MAX_SEQ_LEN // 2 + 1)
    with pytest.raises(ContractError, match="concatenation would have"):
        runtime.Runtime(10**9).add(half, half)
