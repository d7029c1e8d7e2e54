"""`costs.added_bytes`: what a list grows by when it takes the items of another value
(`L += x`, `L.extend(x)`)."""

from __future__ import annotations

from tianfu.execution import costs


def test_made_items_are_counted_for_str_and_range_only() -> None:
    slot, small = costs.SLOT_BYTES, costs.SMALL_BYTES
    assert costs.added_bytes("abc", 3) == 3 * (slot + small)
    assert costs.added_bytes(range(5), 5) == 5 * (slot + small)
    assert costs.added_bytes([1, 2], 2) == 2 * slot
    assert costs.added_bytes(b"ab", 2) == 2 * slot
    assert costs.added_bytes("", 0) == 0
