"""The iterables and iterators contract code holds, by kind.

`ITERATORS` are the iterator types a contract can hold (`in` over one pulls it through).
Iterating a dict's items, a str's characters or a range's integers makes a new object
per item. `CheckedBuiltins.b_zip`/`b_enumerate` hand out a `FreshZip`/`FreshEnumerate`
where the tuples they yield hold more than the small object a kept item is counted as
(`SLOT_BYTES + SMALL_BYTES`); what keeps the items (`CheckedBuiltins.items`,
`Runtime.keep`) adds their `fresh` bytes, a loop that only pulls them does not.
"""

from __future__ import annotations

from typing import Any

from tianfu.execution.costs import SLOT_BYTES, SMALL_BYTES

DICT_ITEMS: Any = type({}.items())
# Iterables whose items are fresh objects (counted at `SMALL_BYTES` each when kept).
FRESH_ITEMS = frozenset({str, range, DICT_ITEMS})


class FreshZip(zip):
    """A `zip` over two to four iterables at least one of which makes a fresh object per
    item (a dict's items, a str's characters, a range's integers): each tuple it yields
    holds those objects, `fresh` bytes more than the small object a kept item is counted
    as. What keeps its items counts them (`CheckedBuiltins.items`, `Runtime.keep`); a loop
    that only pulls them does not."""

    __slots__ = ("fresh",)
    fresh: int


class FreshEnumerate(enumerate):
    """`enumerate` over a `FreshZip` (each pair it yields holds the zip's item: `fresh`
    bytes more than a small object, the zip's and a small object for the item), or over
    a non-ASCII str or a dict's items (each pair holds a fresh character or pair beside
    its index: `fresh` is a small object)."""

    __slots__ = ("fresh",)
    fresh: int


# Iterators whose items, kept, count `fresh` bytes more than a small object each.
FRESH_KEPT = frozenset({FreshZip, FreshEnumerate})


def fresh_bytes(iterables: tuple[Any, ...]) -> int:
    """The bytes a kept item of `zip(*iterables)` (two to four of them) holds beyond
    `SLOT_BYTES + SMALL_BYTES`: a small object per iterable making fresh items past the
    first, and a slot per iterable past the second."""
    made = sum(type(it) in FRESH_ITEMS for it in iterables)
    if not made:
        return 0
    return (made - 1) * SMALL_BYTES + (len(iterables) - 2) * SLOT_BYTES


def fresh_enumerate(x: Any, start: int) -> Any:
    """`enumerate(x, start)` as a `FreshEnumerate` where its kept pairs hold more than a
    small object, else None. A pair of an index and a wide character (~172 bytes kept) or
    an items pair (~148) does; an ASCII str's characters are CPython's cached ones and a
    range's integer fits beside the index (~119), so those stay plain `enumerate`."""
    if type(x) is FreshZip:
        fresh = x.fresh + SMALL_BYTES
    elif (type(x) is str and not x.isascii()) or type(x) is DICT_ITEMS:
        fresh = SMALL_BYTES
    else:
        return None
    e = FreshEnumerate(x, start)
    e.fresh = fresh
    return e


_EMPTY: dict[Any, Any] = {}
KEY_VIEWS: frozenset[type] = frozenset({type(_EMPTY.keys())})
VALUES_VIEW: type = type(_EMPTY.values())
ITEMS_VIEW: type = DICT_ITEMS
_ITERATOR_SAMPLES: tuple[Any, ...] = (
    iter([]),
    iter(()),
    iter(""),
    iter(b""),
    iter(range(0)),
    reversed([]),
    reversed(()),
    reversed(range(0)),
    reversed(_EMPTY),
    enumerate(()),
    zip(),
    FreshZip(),
    FreshEnumerate(()),
    (_x for _x in range(0)),
    iter(_EMPTY),
    iter(_EMPTY.values()),
    iter(_EMPTY.items()),
)
ITERATORS: frozenset[type] = frozenset(type(x) for x in _ITERATOR_SAMPLES)
