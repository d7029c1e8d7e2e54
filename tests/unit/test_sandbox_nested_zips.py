"""Items of a zip or enumerate over another zip or enumerate hold the inner one's fresh
tuple (and what it holds): counted as they are made, whatever the nesting.

Each case failed on main at 70fa2b43 (tracked memory, not time): the added peak of the
call exceeded the bytes it tracked.
"""

from __future__ import annotations

import pytest
from tests.unit.test_sandbox import FakeContext, admin
from tests.unit.test_sandbox_fresh_items import peak_and_tracked

from tianfu.execution.contract_api import ContractError
from tianfu.execution.sandbox import compile_contract

_NESTED = """
def f(ctx, how, n):
    d = {}
    i = 0
    while i < n:
        d[i + 1000] = i + 5000
        i += 1
    v = list(d.values())
    s = "\\U0001F600" * n
    L = []
    if how == "zip of one zip":
        L = list(zip(zip(d.items(), d.items(), d.items(), d.items())))
    elif how == "zip of one enumerate":
        L = list(zip(enumerate(d.items())))
    elif how == "enumerate of enumerate of items":
        L = list(enumerate(enumerate(d.items())))
    elif how == "enumerate of enumerate of a wide str":
        L = [t for t in enumerate(enumerate(s))]
    elif how == "zip of enumerates of a list":
        L = list(zip(enumerate(v), enumerate(v), enumerate(v), enumerate(v)))
    elif how == "zip of zips of lists":
        L = list(zip(zip(v, v), zip(v, v), zip(v, v), zip(v, v)))
    elif how == "enumerate of a zip of lists":
        L = list(enumerate(zip(v, v, v, v)))
    elif how == "zip of zips of generators":
        g = [(x for x in v) for _ in range(4)]
        L = list(zip(zip(g[0], v), zip(g[1], v), zip(g[2], v), zip(g[3], v)))
    return len(L)
"""

CASES = [
    "zip of one zip",
    "zip of one enumerate",
    "enumerate of enumerate of items",
    "enumerate of enumerate of a wide str",
    "zip of enumerates of a list",
    "zip of zips of lists",
    "enumerate of a zip of lists",
    "zip of zips of generators",
]


@pytest.mark.parametrize("how", CASES)
def test_items_of_nested_zips_hold_no_more_than_is_tracked(how: str) -> None:
    """A zip over one `FreshZip` (`fresh_bytes` took two to four iterables: ~2.5x the bytes
    tracked), an enumerate over a `FreshEnumerate` (~1.6-1.8x), and a zip or enumerate over
    a plain zip or enumerate, or over one pulled from a generator, whose every item is a
    fresh tuple (~1.1-2.9x), counted each kept item as one small object. The bytes the call adds, over those of the same call
    keeping nothing, are within what it tracked."""
    n = 20_000
    base_peak, base_tracked = peak_and_tracked(_NESTED, "none", n)
    peak, tracked = peak_and_tracked(_NESTED, how, n)
    added_peak, added_tracked = peak - base_peak, tracked - base_tracked
    assert added_peak <= added_tracked, (added_peak, added_tracked)


_CHAIN = """
def f(ctx, kind, n):
    d = {1: 2, 3: 4}
    it = enumerate(d.items()) if kind == "enumerate" else zip(d.items(), d.items())
    i = 0
    while i < n:
        it = enumerate(it) if kind == "enumerate" else zip(it)
        i += 1
    for x in it:
        pass
    return 0
"""


@pytest.mark.parametrize("kind", ["enumerate", "zip"])
def test_a_chain_of_fresh_enumerates_or_zips_stops_at_the_call_depth(kind: str) -> None:
    """A guard (not a regression test: main passes it): an enumerate over a
    `FreshEnumerate`, or a zip over one `FreshZip`, now a `FreshEnumerate`/`FreshZip`
    itself, still pulls the inner one through `pulled`, so a chain of 100,000 of them
    stops at the call depth instead of recursing in C."""
    compiled = compile_contract(_CHAIN)
    with pytest.raises(ContractError, match="call depth"):
        compiled.call(FakeContext(admin()), "f", [kind, 100_000], 10**9)
