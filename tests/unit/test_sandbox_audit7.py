"""Regression tests of the seventh hostile audit of the sandbox: work a contract could make
the host do that its gas did not pay for, or that cost more CPU per gas than the
calibration's aim (5x a plain loop).

Each fails on the code before its fix.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from tests.unit.test_sandbox_findings import call, op_gas

from tianfu.execution import runtime, walk

# -- a dict's items made into a list or tuple ------------------------------------------------


@pytest.mark.parametrize("op", ["tuple(d.items())", "list(d.items())", "sorted(d.items())"])
def test_a_dicts_items_are_made_at_c_speed_and_charged_as_before(
    op: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tuple(d.items())` pulled every pair through the charged Python loop (a generator
    step, a charge and a list append each, then a copy into the tuple): ~4.3-4.8x a plain
    loop's CPU per gas (`gas_calibration.py --only "d.items()"`, old and new alternated;
    now ~1.8x). The pairs are made by the C code after one charge of the very same gas and
    memory: the loop pulls none of them."""
    pulled: Counter[str] = Counter()
    real = runtime.Runtime.iterate

    def spy(self: Any, obj: Any, *args: Any) -> Any:
        pulled[type(obj).__name__] += 1
        return real(self, obj, *args)

    monkeypatch.setattr(runtime.Runtime, "iterate", spy)
    n = 10_000
    setup = f"d = {{str(i): i for i in range({n})}}"
    gas = op_gas(setup, op)
    assert pulled["dict_items"] == 0, pulled
    # one gas per pair (an item and its memory kept, as the loop charged), besides the
    # builtin's base and, for `sorted`, the sort
    assert gas >= n
    if not op.startswith("sorted"):
        assert gas <= n + 64


# -- min / max of fewer than 16 items ----------------------------------------------------------


@pytest.mark.parametrize(
    "setup, op, comparisons",
    [
        ("s = 'a' * 999_999\nt = 'a' * 999_998 + 'b'", "max(s, t)", 1),
        ("s = b'a' * 999_999\nt = b'a' * 999_998 + b'b'", "min(s, t)", 1),
        ("L = ['a' * 999_990 + str(i) for i in range(15)]", "min(L)", 14),
        ("L = ['a' * 999_990 + str(i) for i in range(15)]", "max(L, key=lambda v: v)", 14),
    ],
)
def test_min_and_max_of_a_few_long_texts_pay_for_their_comparisons(
    setup: str, op: str, comparisons: int
) -> None:
    """`min`/`max` charged `items_gas(n) * compare_units`: n // 16 first, so a call of
    fewer than 16 items paid nothing for its comparisons. `min(L)` of 15 strings of ~1 MB
    (equal but for the last character) did 14 full ~1 MB comparisons for ~17 gas: ~860x a
    plain loop's CPU per gas (`gas_calibration.py --only "min 15"`); ~0.4x now. Each
    comparison of ~1 MB pays at least its `compare_units` (1 a 32 bytes) / 16."""
    per_comparison = (1 + 999_999 // 32) // 16
    assert op_gas(setup, op) >= comparisons * per_comparison


# -- a search for a short text needle ---------------------------------------------------------


@pytest.mark.parametrize(
    "setup, op",
    [
        (
            "L = [b'a' * 62 + bytes([i % 9]) for i in range(100_000)]\nt = b'a' * 62 + b'x'",
            "L.count(t)",
        ),
        ("L = ['a' * 62 + str(i % 9) for i in range(100_000)]\nt = 'a' * 62 + 'x'", "t in L"),
    ],
)
def test_a_search_pays_for_every_byte_of_a_short_needle_it_compares(setup: str, op: str) -> None:
    """Each item compared with a text needle charged `n * bytes_gas(len(needle))`, rounded
    per item: a needle under 64 bytes paid nothing for its bytes, only 1/16 gas an item, so
    `L.count(t)` over 100,000 items of 63 bytes equal but for the last took ~5.5x a plain
    loop's CPU per gas (over the 5x aim); rounded once it pays its bytes (~0.3x)."""
    n, size = 100_000, 63
    assert op_gas(setup, op) >= n * size // 64


# -- a tuple of many small items tested one by one by C code -----------------------------------


@pytest.mark.parametrize(
    "setup, op, per_gas",
    [
        ("s = 'abc'\nT = tuple('b' * (i % 3 + 1) for i in range(100_000))", "s.startswith(T)", 2),
        ("s = b'abc'\nT = tuple(b'b' for i in range(100_000))", "s.endswith(T)", 2),
        ("T = (str, bytes) * 50_000", "isinstance(1, T)", 2),
    ],
)
def test_a_tuple_of_many_small_items_pays_for_each_test(setup: str, op: str, per_gas: int) -> None:
    """`s.startswith(T)` charged 1/16 gas an affix (and their bytes) while each is a type
    check and a call of C's match: a tuple of 100,000 one-character affixes took ~12-16x a
    plain loop's CPU per gas (over the 10x goal), now ~1.5x; `isinstance(x, T)` charged
    1/4 gas an item: ~5.6-6.4x, now ~2.7-3.3x (the first three items still free)."""
    assert op_gas(setup, op) >= (100_000 - 3) // per_gas


# -- str() of a container scans every occurrence of its strings ----------------------------------

SCANNED = """
def f(ctx, copies, size):
    L = ['a' * size] * copies
    try:
        return len(str(L))
    except ContractError:
        return 'too big'
"""


def test_str_of_a_container_pays_for_scanning_each_occurrence_of_its_strings() -> None:
    """`repr_bound` (the bound `str()` checks before it builds) scans every occurrence of a
    string (`isprintable`) and counted it as one node: `str(L)` of 1,000 references to one
    string of ~1 MB scanned ~1 GB, then refused it as too big, for ~1,000 gas; caught in
    a loop, each try took ~2.3 s of CPU on every node. Each scan is paid (one unit per 32
    characters) before it is made: the same call runs out of its 1,000,000 gas at once."""
    status, message, used = call(SCANNED, 1000, 999_999, gas=1_000_000)
    assert status == "failed" and "out of gas" in message, (status, message)
    # a string that fits is converted as before, paying its characters
    status, result, used = call(SCANNED, 10, 10_000, gas=1_000_000)
    assert status == "ok" and result == len(str(["a" * 10_000] * 10))
    assert used >= 10 * 10_000 // 64


# -- a value crossing the boundary that shares one non-ASCII string ------------------------------

SHARED_WIDE = """
def f(ctx, copies):
    w = '\\U0001f600' * 250_000
    ctx.put('k', [w] * copies)
    return 0
"""


def test_a_shared_non_ascii_string_is_encoded_once_per_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The boundary copy (`walk.copy_value`) measured a non-ASCII string's UTF-8 length by
    encoding it at every occurrence, and checked the gas only at containers: storing a
    list of 10,000 references to one ~1 MB string of emoji encoded ~10 GB before running
    out of 1,000,000 gas (~5 s of CPU on every node; with 100,000 references ~50 s). It is
    encoded once; every occurrence still counts its units, so the outcome and gas are
    unchanged."""
    encoded: list[int] = []
    real = walk.utf8_len

    def counting(s: str, what: str) -> int:
        encoded.append(len(s))
        return real(s, what)

    monkeypatch.setattr(walk, "utf8_len", counting)
    status, message, used = call(SHARED_WIDE, 10_000, gas=1_000_000)
    assert status == "failed" and "out of gas" in message and used == 1_000_000
    assert len(encoded) <= 2, len(encoded)
    status, _, used = call(SHARED_WIDE, 10, gas=1_000_000)
    assert status == "ok"
    assert used >= 10 * 1_000_000 // 64  # each occurrence's bytes still paid
