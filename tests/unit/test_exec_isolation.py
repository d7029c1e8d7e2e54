"""Tests of module instances shared between contract calls (docs/adr/0015): nothing a call
does reaches the next one, and sharing changes no result, error or gas figure."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_sandbox import ALICE, BOB, FakeContext, admin, member

from tianfu.contracts.examples import example_source
from tianfu.execution.contract_api import ContractError, OutOfGas
from tianfu.execution.sandbox import CompiledContract, ContractRejected, compile_contract
from tianfu.testing.appchain import AppChain

GAS = 100_000


def fresh(source: str) -> CompiledContract:
    """A compiled contract that never shares its module (the behaviour before ADR 0015)."""
    compiled = compile_contract(source)
    copy = CompiledContract(compiled.source_hash, compiled.methods, compiled.views, compiled.code)
    copy.instances.shareable = False
    return copy


def outcome(compiled: CompiledContract, ctx: Any, method: str, args: list[Any], gas: int) -> Any:
    try:
        return ("ok", *compiled.call(ctx, method, args, gas))
    except ContractError as exc:
        return (type(exc).__name__, str(exc), exc.gas_used)  # type: ignore[attr-defined]


# -- what a call cannot do to the next one -------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "def _h(ctx):\n    return 1\ndef f(ctx):\n    _h.x = 1\n",  # function attribute
        "def _h(ctx):\n    return 1\ndef f(ctx):\n    _h.__defaults__ = ([],)\n",
        "def f(ctx):\n    f.__dict__['x'] = 1\n",
        "X = 1\ndef f(ctx):\n    global X\n    X = 2\n",
        "def f(ctx):\n    return globals()\n",
        "def f(ctx):\n    return vars(f)\n",
        "def f(ctx):\n    return __builtins__\n",
        "def f(ctx):\n    return f.__globals__\n",
        "def f(ctx):\n    return setattr(f, 'x', 1)\n",
    ],
)
def test_changing_module_state_is_refused_at_deployment(source: str) -> None:
    with pytest.raises(ContractRejected):
        compile_contract(source)


@pytest.mark.parametrize(
    "source, expected, shareable",
    [
        ("SEEN = []\ndef f(ctx):\n    SEEN.append(1)\n    return len(SEEN)\n", 1, False),
        ("D = {}\ndef f(ctx):\n    D[str(len(D))] = 1\n    return len(D)\n", 1, False),
        ("T = ([],)\ndef f(ctx):\n    T[0].append(1)\n    return len(T[0])\n", 1, False),
        ("def f(ctx, acc=[]):\n    acc.append(1)\n    return len(acc)\n", 1, False),
        ("def f(ctx, *, acc={}):\n    acc[str(len(acc))] = 1\n    return len(acc)\n", 1, False),
        ("IT = reversed((1, 2, 3))\ndef f(ctx):\n    return [x for x in IT]\n", [3, 2, 1], False),
        (  # a lambda's default, captured list
            "L = lambda acc=[]: acc.append(1) or len(acc)\ndef f(ctx):\n    return L()\n",
            1,
            False,
        ),
        # shareable: immutable values only; local mutation, view() used as a function
        (
            "T = (1, (2, 'x'))\ndef _h(a=(1,)):\n    return a\n"
            "def f(ctx, acc=None):\n    acc = acc or []\n    acc.append(T)\n"
            "    view(_h)\n    view(f)\n    return [len(acc), _h()[0]]\n",
            [1, 1],
            True,
        ),
    ],
)
def test_module_values_mutated_by_a_call_never_reach_the_next(
    source: str, expected: Any, shareable: bool
) -> None:
    compiled = compile_contract(source)
    results = [compiled.call(FakeContext(admin()), "f", [], GAS) for _ in range(4)]
    assert [r for r, _ in results] == [expected] * 4
    assert len({used for _, used in results}) == 1
    assert compiled.instances.shareable is shareable
    if shareable:  # the calls ran on one kept instance, whose functions nobody marked
        [instance] = compiled.instances._free
        assert not instance.functions["f"].__dict__


def test_leaks_across_two_transactions_on_a_chain_have_no_effect(tmp_path: Path) -> None:
    chain = AppChain(tmp_path)
    try:
        chain.deploy(
            "leaky",
            "SEEN = []\nCOUNTS = {}\nLIMITS = (1, 2)\n"
            "def _note(x, acc=[]):\n    acc.append(x)\n    return len(acc)\n"
            "def poke(ctx):\n    SEEN.append(ctx.height)\n    COUNTS[ctx.tx_hash] = 1\n"
            "    return [len(SEEN), len(COUNTS), _note(1), LIMITS[0]]\n",
        )
        chain.deploy(
            "tidy",
            "LIMITS = (1, 2)\ndef _note(x, acc=()):\n    return len(acc + (x,))\n"
            "def poke(ctx):\n    mine = [ctx.height]\n    mine.append(LIMITS[1])\n"
            "    view(_note)\n    return [len(mine), _note(1)]\n",
        )
        who = chain.admin(chain.orgs[0])
        for contract, expected in (("leaky", [1, 1, 1, 1]), ("tidy", [2, 1])):
            single = [chain.call(who, contract, "poke") for _ in range(2)]
            same_block = chain.call_many([(who, contract, "poke", ())] * 3)
            for r in single + same_block:
                assert r.ok, r.error
                assert r.result == expected
            assert len({r.gas_used for r in single + same_block}) == 1
    finally:
        chain.close()


# -- sharing changes nothing ----------------------------------------------------------------

SOURCES = [
    example_source("asset"),
    example_source("kv"),
    # module-level work and a lambda: charged on every call, shared
    "def _sum(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\n"
    "TOTAL = _sum(40)\nSQ = lambda x: x * x\nPAIR = (TOTAL, 'ab' * 3)\n"
    "def f(ctx, n=3):\n    return [SQ(n), TOTAL, PAIR[1], sum(range(n))]\n",
    # not shareable (a module-level list): unchanged path
    "L = [1, 2]\ndef f(ctx, n=3):\n    L.append(n)\n    return L\n",
]
CALLS: dict[int, list[tuple[Any, str, list[Any]]]] = {
    0: [
        (admin(), "mint", [ALICE, 100]),
        (admin(), "transfer", [BOB, 30]),
        (member(), "transfer", [ALICE, 500]),
        (admin(), "approve", [BOB, 20]),
        (member(), "transfer_from", [ALICE, BOB, 15]),
        (admin(), "info", []),
        (admin(), "transfer", [BOB]),  # wrong arity
    ],
    1: [(admin(), "put", ["k", 5]), (admin(), "get", ["k"])],
    2: [(admin(), "f", []), (admin(), "f", [7]), (admin(), "f", [1, 2])],
    3: [(admin(), "f", []), (admin(), "f", [4])],
}


@pytest.mark.parametrize("index", range(len(SOURCES)))
def test_shared_instances_give_the_fresh_modules_results_and_gas(index: int) -> None:
    source = SOURCES[index]
    shared, reference = compile_contract(source), fresh(source)
    budgets = [GAS, *range(0, 60)]  # every budget up to past the cost of these calls
    for gas in budgets:
        state_a: dict[str, Any] = {}
        state_b: dict[str, Any] = {}
        for caller, method, args in CALLS[index]:
            ctx_a, ctx_b = FakeContext(caller, state_a), FakeContext(caller, state_b)
            a = outcome(shared, ctx_a, method, list(args), gas)
            b = outcome(reference, ctx_b, method, list(args), gas)
            assert a == b, (method, gas)
            assert ctx_a.events == ctx_b.events
        assert state_a == state_b
    assert shared.instances.shareable is (index != 3)


def test_module_setup_gas_is_charged_when_an_instance_is_reused() -> None:
    compiled = compile_contract(SOURCES[2])
    result, used = compiled.call(FakeContext(admin()), "f", [], GAS)
    assert compiled.instances.shareable and used > 40  # the module's loop is in `used`
    for budget in (1, 20, used - 1):
        with pytest.raises(OutOfGas) as info:
            compiled.call(FakeContext(admin()), "f", [], budget)
        assert info.value.gas_used == budget  # type: ignore[attr-defined]
    assert compiled.call(FakeContext(admin()), "f", [], GAS) == (result, used)


def test_concurrent_calls_each_get_their_own_instance() -> None:
    asset = compile_contract(example_source("asset"))
    expected = outcome(fresh(example_source("asset")), FakeContext(admin()), "info", [], GAS)
    errors: list[Any] = []

    def worker(n: int) -> None:
        for i in range(300):
            budget = GAS if i % 3 else 6  # some calls run out of gas mid-way
            got = outcome(asset, FakeContext(admin()), "info", [], budget)
            want = expected if budget == GAS else ("OutOfGas", got[1], 6)
            if got != want:
                errors.append((n, i, got))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert 1 <= len(asset.instances._free) <= 4
