"""Regression tests of the sixth hostile audit of the sandbox: work a contract could make
the host do that its gas did not pay for.

Each fails on the code before its fix.
"""

from __future__ import annotations

import tracemalloc

from tests.unit.test_sandbox_findings import call

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
