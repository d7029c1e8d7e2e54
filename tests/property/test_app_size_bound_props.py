"""The shared contract library's `_size_bound` is at least the bytes a value takes when a view
returns it (what `copy_value` counts against `MAX_RESULT_BYTES`), for any contract value.

It counted 2 bytes for a "," and 6 for a "[": an integer of one digit in a list ("1, ", three
characters) takes 9 bytes, so a list of small numbers was counted at about half its size
([1] * 1000: 5,013 counted, 9,005 returned) and a page ending at `_SIZED_BUDGET` by that
count could pass the 256 KiB a view returns."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.apps.common.contract_library import _SIZED_BUDGET, _size_bound
from tianfu.execution.limits import MAX_RESULT_BYTES
from tianfu.execution.meter import Meter
from tianfu.execution.walk import copy_value


def _sizes_bound(values: list[Any]) -> int:
    """What a list of records takes at most (a list's 5 bytes, `_size_bound` of each), as
    `_sized_page` and `_sized_whole` count."""
    return 5 + sum(_size_bound(v) for v in values)


def _returned(value: Any) -> int:
    return copy_value(Meter(10**12), value, "return value")[1]


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.integers(-9, 99)
    | _TEXT
    | st.binary(max_size=20)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=8)
        | st.lists(inner, max_size=8).map(tuple)
        | st.dictionaries(_TEXT, inner, max_size=8)
    ),
    max_leaves=60,
)


@settings(max_examples=400, deadline=None)
@given(_VALUES)
def test_the_bound_is_at_least_what_a_view_returns(value: Any) -> None:
    assert _returned(value) <= _size_bound(value)
    assert _returned([value, value]) <= _sizes_bound([value, value])


def test_a_list_of_small_numbers_is_counted_whole() -> None:
    for value in ([1] * 1000, {"a": [0] * 500, "b": (7,) * 500}, [[1], [2]] * 200):
        assert _returned(value) <= _size_bound(value)


def test_records_of_small_numbers_at_the_budget_fit_in_what_a_view_returns() -> None:
    """Records counted up to `_SIZED_BUDGET`, as a sized page takes them, fit in 256 KiB."""
    record = {"n": list(range(10)) * 50}
    page = []
    while _sizes_bound([*page, record]) <= _SIZED_BUDGET:
        page.append(record)
    assert len(page) > 1
    assert _returned({"count": 2**62, "start": 2**62, "events": page, "next": 2**62}) <= (
        MAX_RESULT_BYTES
    )
