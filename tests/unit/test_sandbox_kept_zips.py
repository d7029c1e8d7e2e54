"""Items of a `zip` over dict items views, strs or ranges, and pairs of `enumerate` over a
non-ASCII str, kept: counted at what they hold.

Each fails on the code before its fix.
"""

from __future__ import annotations

import gc
import tracemalloc

import pytest
from tests.unit.test_sandbox import FakeContext, admin
from tests.unit.test_sandbox_audit9 import _stmt_gas

from tianfu.execution.costs import MAX_TX_MEMORY
from tianfu.execution.meter import Meter
from tianfu.execution.sandbox import compile_contract

_KEEP = """
def f(ctx, source, how, k, n):
    d = {}
    i = 0
    while i < n:
        d[i + 1000] = i + 5000
        i += 1
    if source == "items":
        L = [d.items()] * k
    elif source == "str":
        L = ["\\U0001F600" * n] * k
    else:
        L = [range(10**6, 10**6 + n)] * k
    if how == "list":
        keep = list(zip(*L))
    elif how == "tuple":
        keep = tuple(zip(*L))
    elif how == "listcomp":
        keep = [t for t in zip(*L)]
    else:
        keep = {i: t for i, t in enumerate(zip(*L))}
    return len(keep)
"""


@pytest.mark.parametrize("source", ["items", "str", "range"])
@pytest.mark.parametrize("how", ["list", "tuple", "listcomp", "dictcomp"])
@pytest.mark.parametrize("k", [2, 4])
def test_kept_items_of_a_zip_over_fresh_items_hold_no_more_than_is_tracked(
    source: str, how: str, k: int
) -> None:
    """`zip` over up to four iterables was counted as if each item it yields were one small
    object, but over dict items views, strs or ranges each holds a fresh object per
    iterable: `list(zip(*[d.items()] * 4))` over 20,000 items held ~305 bytes an item for
    144 tracked (wide characters ~401). A zip of two to four iterables making fresh items
    is a `FreshZip`, and what keeps its items (`list`/`tuple`/`sorted`/`dict` of it, a list
    or dict comprehension over it) counts a small object per such iterable past the first
    and a slot per iterable past the second."""
    compiled = compile_contract(_KEEP)
    ctx = FakeContext(admin())
    compiled.call(ctx, "f", [source, how, k, 10], 10**8)  # set up outside the count
    meter = Meter(10**9)
    gc.collect()
    tracemalloc.start()
    try:
        result, _ = compiled.call(ctx, "f", [source, how, k, 20_000], meter)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result == 20_000
    assert peak <= MAX_TX_MEMORY - meter.mem, (peak, MAX_TX_MEMORY - meter.mem)


@pytest.mark.parametrize(
    "stmt",
    [
        "for k, v in d.items():\n    pass",
        "for k, v in zip(d.items(), L):\n    pass",
        "x = [k for k in zip(L, L)]",
        "x = list(zip(d, L))",
        "for k, v in zip(d.items(), (x for x in L)):\n    pass",
    ],
)
def test_loops_over_items_and_zips_of_values_cost_what_they_did(stmt: str) -> None:
    """Only a zip over iterables making fresh items counts more, and only where its items
    are kept: loops and zips of lists cost the gas they did (pinned from the code before)."""
    setup = "d = {i: i for i in range(100)}\nL = list(range(100))"
    pinned = {
        "for k, v in d.items():\n    pass": 112,
        "for k, v in zip(d.items(), L):\n    pass": 118,
        "x = [k for k in zip(L, L)]": 110,
        "x = list(zip(d, L))": 112,
        "for k, v in zip(d.items(), (x for x in L)):\n    pass": 225,
    }
    assert _stmt_gas(setup, stmt) == pinned[stmt]


_KEEP_ENUMERATE = """
def f(ctx, how, n):
    s = "\\U0001F600" * n
    if how == "list":
        keep = list(enumerate(s))
    elif how == "tuple":
        keep = tuple(enumerate(s))
    elif how == "sorted":
        keep = sorted(enumerate(s))
    else:
        keep = [t for t in enumerate(s)]
    return len(keep)
"""


@pytest.mark.parametrize("how", ["list", "tuple", "sorted", "listcomp"])
def test_kept_pairs_of_enumerate_over_a_wide_str_hold_no_more_than_is_tracked(how: str) -> None:
    """`enumerate` over a str was counted as if each pair were one small object, but a pair
    of an index and a wide character held ~172 bytes kept for 144 tracked. Over a non-ASCII
    str (or a dict's items) it is a `FreshEnumerate` whose kept pairs count the fresh
    character (or items pair) as a small object more."""
    compiled = compile_contract(_KEEP_ENUMERATE)
    ctx = FakeContext(admin())
    compiled.call(ctx, "f", [how, 10], 10**8)  # set up outside the count
    meter = Meter(10**9)
    gc.collect()
    tracemalloc.start()
    try:
        result, _ = compiled.call(ctx, "f", [how, 20_000], meter)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result == 20_000
    assert peak <= MAX_TX_MEMORY - meter.mem, (peak, MAX_TX_MEMORY - meter.mem)


@pytest.mark.parametrize(
    "stmt",
    [
        "x = list(enumerate(s))",
        "x = [t for t in enumerate(L)]",
        "x = list(enumerate(r))",
        "for i, c in enumerate(w):\n    pass",
    ],
)
def test_enumerates_of_ascii_strs_lists_and_ranges_cost_what_they_did(stmt: str) -> None:
    """Kept pairs of `enumerate` over an ASCII str (cached characters), a list or a range
    (an integer fits beside the index), and a loop over any enumerate, cost the gas they
    did (pinned from the code before)."""
    setup = 's = "a" * 100\nL = list(range(100))\nr = range(1000, 1100)\nw = "\\u00e9" * 100'
    pinned = {
        "x = list(enumerate(s))": 112,
        "x = [t for t in enumerate(L)]": 108,
        "x = list(enumerate(r))": 112,
        "for i, c in enumerate(w):\n    pass": 107,
    }
    assert _stmt_gas(setup, stmt) == pinned[stmt]


_KEEP_WITH_GENERATOR = """
def f(ctx, how, n):
    d = {}
    i = 0
    while i < n:
        d[i + 1000] = i + 5000
        i += 1
    g = (x for x in range(n))
    if how == "list":
        keep = list(zip(d.items(), d.items(), d.items(), g))
    elif how == "listcomp":
        keep = [t for t in zip(d.items(), g, d.items(), d.items())]
    else:
        keep = [t for t in enumerate(zip(g, d.items(), d.items(), d.items()))]
    return len(keep)
"""


@pytest.mark.parametrize("how", ["list", "listcomp", "enumerate"])
def test_kept_items_of_a_zip_of_items_views_and_a_generator_hold_no_more_than_is_tracked(
    how: str,
) -> None:
    """A zip over dict items views and a generator was wrapped whole in `pulled` and so not
    a `FreshZip`: each kept item counted as one small object while holding three fresh
    pairs. Each iterator that is not flat is now pulled on its own, inside the `FreshZip`."""
    compiled = compile_contract(_KEEP_WITH_GENERATOR)
    ctx = FakeContext(admin())
    compiled.call(ctx, "f", [how, 10], 10**8)  # set up outside the count
    meter = Meter(10**9)
    gc.collect()
    tracemalloc.start()
    try:
        result, _ = compiled.call(ctx, "f", [how, 20_000], meter)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result == 20_000
    assert peak <= MAX_TX_MEMORY - meter.mem, (peak, MAX_TX_MEMORY - meter.mem)


_CHAIN = """
def f(ctx, how, n):
    g = (x for x in [1, 2, 3])
    i = 0
    while i < n:
        if how == "zip":
            g = zip(g, "abc", "abc")
        else:
            g = enumerate(zip("abc", g))
        i += 1
    return len([1 for x in g])
"""


@pytest.mark.parametrize("how", ["zip", "enumerate"])
def test_fresh_zips_chained_over_a_generator_are_held_to_the_call_depth(how: str) -> None:
    """A `FreshZip` pulls an iterator inside it one counted level at a time: nested 3,000
    deep over a generator it fails the call at the depth limit, not the host's stack."""
    compiled = compile_contract(_CHAIN)
    ctx = FakeContext(admin())
    assert compiled.call(ctx, "f", [how, 20], 10**8)[0] == 3
    with pytest.raises(Exception, match="maximum call depth of 64"):
        compiled.call(ctx, "f", [how, 3000], 10**8)
