"""Regression tests of the tenth hostile audit of the sandbox: CPython's semantics of a key
function that changes what it orders (`list.sort`, `sorted`, `min`/`max`), and the memory of
`list.index` with a window.

Each fails on the code before its fix.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from tests.unit.test_sandbox import FakeContext, admin, body
from tests.unit.test_sandbox_audit9 import _stmt_gas
from tests.unit.test_sandbox_findings import call

from tianfu.execution.meter import Meter
from tianfu.execution.sandbox import compile_contract

_APPENDS = "L = [3, 1, 2]\ndef k(x):\n    if len(L) < 5:\n        L.append(9)\n    return x\n"
_POPS = "L = [3, 1, 2]\ndef k(x):\n    if L:\n        L.pop()\n    return x\n"


def _run(code: str) -> object:
    status, result, _ = call(body(code), gas=10**7)
    assert status == "ok", result
    return result


# -- list.sort(key=...) -------------------------------------------------------------------------


def test_a_key_function_that_grows_the_list_makes_sort_raise_list_modified() -> None:
    """`L.sort(key=k)` sorted a copy while `k` saw the live list: a key appending to it made
    the sort iterate the growing list until the memory limit (CPython: ValueError "list
    modified during sort", the list holding the sorted items)."""
    code = _APPENDS + (
        "try:\n    L.sort(key=k)\nexcept ValueError as e:\n    return ['raised', str(e), L]\n"
        "return ['sorted', L]"
    )
    assert _run(code) == ["raised", "list.sort(): list modified during sort", [1, 2, 3]]


def test_a_key_function_sees_the_list_empty_during_sort() -> None:
    code = "L = [3, 1, 2]\nseen = []\ndef k(x):\n    seen.append(len(L))\n    return x\n"
    assert _run(code + "L.sort(key=k)\nreturn [L, seen]") == [[1, 2, 3], [0, 0, 0]]


def test_a_key_function_popping_the_list_sorts_as_cpython() -> None:
    """The key function pops from the list it sees empty: nothing to pop, the sort ends
    sorted (an IndexError before)."""
    assert _run(_POPS + "L.sort(key=k)\nreturn L") == [1, 2, 3]


def test_a_key_function_that_raises_leaves_the_list_as_it_was() -> None:
    code = (
        "L = [3, 1, 2]\ndef k(x):\n    if x == 2:\n        L.append(7)\n        raise KeyError('k')\n"
        "    return x\ntry:\n    L.sort(key=k)\nexcept KeyError:\n    return L\nreturn 0"
    )
    assert _run(code) == [3, 1, 2]


# -- sorted / min / max with a key ----------------------------------------------------------------


@pytest.mark.parametrize(
    "setup, expr, expected",
    [
        # CPython's sorted() sorts a copy of the list; min/max iterate the live list and
        # answer with an item they were given
        (_POPS, "[sorted(L, key=k), L]", [[1, 2, 3], []]),
        (_APPENDS, "[sorted(L, key=k), L]", [[1, 2, 3], [3, 1, 2, 9, 9]]),
        (_POPS, "[max(L, key=k), L]", [3, [3]]),
        (_POPS, "[min(L, key=k), L]", [1, [3]]),
        (_APPENDS, "[max(L, key=k), L]", [9, [3, 1, 2, 9, 9]]),
        # a dict view has no index: sorted/max by a key failed
        ("d = {3: 1, 1: 2}", "sorted(d.keys(), key=lambda v: -v)", [3, 1]),
        ("d = {3: 1, 1: 2}", "max(d.values(), key=lambda v: -v)", 1),
        ("d = {3: 1, 1: 2}", "min(d.keys(), key=lambda v: -v)", 3),
        (
            "d = {3: 1, 1: 2}\ndef k(x):\n    d[x + 10] = 1\n    return x",
            "sorted(d, key=k)",
            [1, 3],
        ),
        (
            "d = {3: 1, 1: 2}\ndef k(x):\n    d[x + 10] = 1\n    return x",
            "sorted(d.keys(), key=k)",
            [1, 3],
        ),
    ],
)
def test_ordering_by_a_key_answers_as_cpython(setup: str, expr: str, expected: object) -> None:
    assert _run(f"{setup}\nreturn {expr}") == expected


# -- list.index with a window ---------------------------------------------------------------------

_INDEX = """
def f(ctx, window):
    L = [0] * 1_000_000
    L.append(1)
    if window:
        return L.index(1, 1)
    return L.index(1)
"""


def _peak(compiled: object, window: bool) -> int:
    ctx = FakeContext(admin())
    gc.collect()
    tracemalloc.start()
    try:
        result, _ = compiled.call(ctx, "f", [window], Meter(10**9))  # type: ignore[attr-defined]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result == 1_000_000
    return int(peak)


def test_list_index_with_a_window_makes_no_copy_of_it() -> None:
    """`L.index(x, start)` searched a slice of the window: a copy of up to 8 MB (a million
    references here) that the meter never counted. The window is now read in place: the
    call's peak is that of the same search without a window."""
    compiled = compile_contract(_INDEX)
    _peak(compiled, False)  # compiled and warmed outside the count
    whole, window = _peak(compiled, False), _peak(compiled, True)
    assert window - whole < 1_000_000, (window, whole)  # the copy was ~8 MB


# -- a stored tuple key's second walk ---------------------------------------------------------------

BIG = "(1 << 4095) - 12345"


@pytest.mark.parametrize("wrap", ["({},)", "(({},),)", "(1, 'a', ({}, None))"])
def test_a_stored_tuple_key_pays_for_its_shadow_walk_and_hash(wrap: str) -> None:
    """A stored tuple key is walked and hashed, then walked again into its shadow (a Python
    call per item, `keys._shadow`) and that hashed, but paid the walk once: a tuple holding
    a 4,096-bit integer paid one hash of it for two (a bare one pays three). It now pays
    the walk's gas twice."""
    big = _stmt_gas(f"x = {BIG}\nt = {wrap.format('x')}\nd = {{}}", "d[t] = 1")
    small = _stmt_gas(f"x = 7\nt = {wrap.format('x')}\nd = {{}}", "d[t] = 1")
    assert big - small >= 2 * (4095 // 512)
