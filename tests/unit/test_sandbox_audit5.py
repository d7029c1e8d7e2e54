"""Regression tests of the fifth hostile audit of the sandbox: work a contract could make
the host do that its gas did not pay for.

Each fails on the code before its fix.
"""

from __future__ import annotations

import pytest
from tests.unit.test_sandbox_findings import call

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
