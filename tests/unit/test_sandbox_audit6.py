"""Regression tests of the sixth hostile audit of the sandbox: work a contract could make
the host do that its gas did not pay for.

Each fails on the code before its fix.
"""

from __future__ import annotations

import tracemalloc

import pytest
from tests.unit.test_sandbox_findings import call, op_gas

from tianfu.execution.costs import COMPARES_PER_GAS, int_str_gas
from tianfu.execution.limits import MAX_MESSAGE
from tianfu.execution.walk import bounded_repr

# -- an exception's message made from a big dict ------------------------------------------------


def _peak(fn: object, *args: object) -> int:
    tracemalloc.start()
    try:
        fn(*args)  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_bounded_repr_of_a_big_dict_visits_only_what_it_prints() -> None:
    """`bounded_repr` listed a dict's every item (`list(d.items())`: a new pair per entry)
    before cutting the list to the room left: `ValueError(d)` in a loop, for a dict of
    200,000 entries, took ~100x a plain loop's CPU per gas (the message pays 2 gas per
    character, up to 1,000). Its work is bounded by the text it makes now."""
    d = {i: 0 for i in range(100_000)}
    text = bounded_repr(d)
    assert text.startswith("{0: 0, 1: 0, ") and text.endswith("...")
    assert len(text) <= MAX_MESSAGE + 3
    assert _peak(bounded_repr, d) < 100_000  # a list of 100,000 pairs is ~6 MB
    assert bounded_repr({"a": [1, (2,)], "b": {}}) == "{'a': [1, (2,)], 'b': {}}"


BIG_DICT_MESSAGE = """
def f(ctx, n, k):
    d = {i: 0 for i in range(n)}
    i = 0
    e = None
    while i < k:
        e = ValueError(d)
        i += 1
    return str(e)
"""


def test_a_contract_making_messages_of_a_big_dict_does_no_work_per_entry() -> None:
    """The same through a contract: a message made from a dict of 50,000 entries allocates
    next to nothing on the host beyond the dict (it listed all 50,000 entries, ~3 MB)."""
    none = _peak(call, BIG_DICT_MESSAGE, 50_000, 0)
    one = _peak(call, BIG_DICT_MESSAGE, 50_000, 1)
    assert one - none < 500_000, (none, one)
    status, text, _ = call(BIG_DICT_MESSAGE, 50_000, 2)
    assert status == "ok" and text.startswith("{0: 0, 1: 0, ") and text.endswith("...")


# -- calibration: dicts compared, pow with a modulus below 4096 bits -----------------------------


def test_comparing_dicts_pays_for_both_passes_over_each_dict() -> None:
    """`measure` counted a dict as one container like a list, but walks its keys and its
    values as two passes (each a Python-level pass: type tests, lengths): two dicts of
    5,000 small dicts compared paid ~8 gas per entry and took ~7x a plain loop's CPU per
    gas (the calibration's aim is 5x). Each pass costs `CONTAINER_UNITS` now (~13 gas per
    entry, ~4x)."""
    setup = (
        "a = {str(i): {'a': 1} for i in range(5_000)}\nb = {str(i): {'a': 1} for i in range(5_000)}"
    )
    assert op_gas(setup, "a == b") >= 5_000 * 12
    # a list of small lists pays as before: one pass each
    lists = "a = [[1] for i in range(5_000)]\nb = [[1] for i in range(5_000)]"
    assert op_gas(lists, "a == b") < 5_000 * 8


@pytest.mark.parametrize("bits", [64, 256, 1024])
def test_pow_with_a_small_modulus_pays_per_exponent_bit_by_the_modulus_limbs(bits: int) -> None:
    """Each exponent bit's squaring is reduced by a long division that walks every limb of
    the modulus; `powmod_gas` charged only the quadratic part, so moduli of 64 to 1,024
    bits took ~6-7.5x a plain loop's CPU per gas (`pow mod 256` in the calibration)."""
    limbs = 1 + bits // 30
    setup = f"x = (1 << 4095) - 1\nm = (1 << {bits - 1}) - 19"
    assert op_gas(setup, "pow(x, x, m)") >= 4095 * (1 + limbs // 4 + limbs * limbs // 128)


# -- sorted / min / max walk every key before charging ----------------------------------------

EXTREMES = """
def f(ctx, n, how):
    big = [[0]] * 1000
    L = [big] * n
    if how == 'sorted':
        return len(sorted(L))
    if how == 'max':
        return len(max(L))
    return len(min(L, key=lambda x: x))
"""


@pytest.mark.parametrize("how", ["sorted", "max", "min"])
def test_sorted_min_max_charge_each_keys_walk_as_they_walk_it(how: str, monkeypatch) -> None:
    """`compare_units` walked every key (`measure`, a Python-level walk) and only then
    charged the worst key times the comparisons: `sorted([big] * n)` with `big` a list of
    1,000 small lists walked all n keys before running out of gas (n = 2,000: ~13x a plain
    loop's CPU per gas; n = 100,000: ~50x that, about a minute on every node, for one
    transaction of 1,000,000 gas). Each key's walk is charged as it is made now, so the
    meter stops the walk."""
    from tianfu.execution import checked

    calls = []
    real = checked.measure

    def counted(*args: object, **kw: object) -> int:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(checked, "measure", counted)
    status, message, used = call(EXTREMES, 2_000, how, gas=100_000)
    assert status == "failed" and "out of gas" in message, message
    assert used == 100_000
    assert len(calls) < 100, len(calls)  # ~3,000 gas a key: ~33 keys, not 2,000


# -- str() of a container of big integers --------------------------------------------------------

BIG_INTS = """
def f(ctx, n, how):
    L = [(1 << 4000) + i for i in range(n)]
    if how == 'str':
        return len(str(L))
    if how == 'fstring':
        return len(f'{L}')
    return 0
"""


@pytest.mark.parametrize("how", ["str", "fstring"])
def test_str_of_a_container_pays_the_decimal_conversion_of_its_big_integers(how: str) -> None:
    """`str(x)` of an int pays `int_str_gas` (quadratic in its limbs), but `repr_bound`,
    which charges `str()` of a container, counted an int as one element and its digits as
    bytes: `str(L)` of 300 integers of 4,000 bits took ~13x a plain loop's CPU per gas."""
    _, _, base = call(BIG_INTS, 300, "none", gas=10**8)
    status, length, used = call(BIG_INTS, 300, how, gas=10**8)
    assert status == "ok" and length > 300 * 1_200
    assert used - base >= 300 * int_str_gas(4001)
    # small integers pay as before: one walk unit each
    _, _, small = call("def f(ctx):\n    return len(str(list(range(1000))))\n", gas=10**8)
    assert small < 2_000


# -- searching a list for a big integer -------------------------------------------------------


@pytest.mark.parametrize("op", ["L.count(x)", "x in L", "L.index(y) if y in L else 0"])
def test_searching_for_a_big_integer_pays_for_its_limbs(op: str) -> None:
    """An int needle was charged 1/16 gas per item compared whatever its size, but two equal
    4,000-bit integers compare limb by limb: `L.count(x)` over 10,000 of them took ~22x a
    plain loop's CPU per gas. Each item compared now counts one element per 64 bits of
    the needle."""
    setup = "L = [1 << 4000] * 10_000\nx = 1 << 4000\ny = 1 << 4001"
    assert op_gas(setup, op) >= 10_000 * 62 // 16
    # a small integer pays a comparison an item (`COMPARES_PER_GAS`), nothing for limbs
    assert op_gas("L = [7] * 10_000\nx = 7", "L.count(x)") < 10_000 // COMPARES_PER_GAS + 20


# -- hashing a tuple of big integers ------------------------------------------------------------


@pytest.mark.parametrize("key", ["t", "(t, 'a')", "(t, (t,))"])
def test_hashing_a_tuple_of_big_integers_pays_for_their_limbs(key: str) -> None:
    """A tuple key is walked and charged before it is hashed (`hashable_key`), but an int
    in it counted one element whatever its size, while its hash reads every limb: `t in d`
    with `t` a tuple of 1,000 integers of 4,000 bits took ~12x a plain loop's CPU per gas.
    An int in a hashed tuple counts one element per 256 bits now."""
    setup = "t = tuple((1 << 4000) + i for i in range(1000))\nd = {}"
    assert op_gas(setup, f"{key} in d") >= 1000 * 15 // 2
    # a tuple of small integers pays as before
    assert op_gas("t = tuple(range(1000))\nd = {}", "t in d") < 1000
