"""The iterables and iterators contract code holds, by kind.

`ITERATORS` are the iterator types a contract can hold (`in` over one pulls it through).
Iterating a dict's items, a str's characters or a range's integers makes a new object
per item. `CheckedBuiltins.b_zip`/`b_enumerate` hand out a `FreshZip`/`FreshEnumerate`
where the tuples they yield hold more than the small object a kept item is counted as
(`SLOT_BYTES + SMALL_BYTES`); `Runtime.iterate`, through which every loop, comprehension
and consuming builtin pulls, counts their `fresh` bytes as each item is made, whatever
then keeps it (a dict store, `L += t`, `list()`). A zip over more than four iterables
counts the fresh objects of each item as it pulls it (`made_bytes`).
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
    as, counted as each is pulled (`Runtime.iterate`)."""

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


def _made(iterables: tuple[Any, ...]) -> tuple[int, int]:
    """How many of `iterables` make a fresh object per item (a dict's items, a str's
    characters, a range's integers, or the items of a `FreshZip`/`FreshEnumerate`), and
    the bytes the latter's items hold beyond a small object each."""
    made = held = 0
    for it in iterables:
        t = type(it)
        if t in FRESH_ITEMS:
            made += 1
        elif t in FRESH_KEPT:
            made += 1
            held += it.fresh
    return made, held


def fresh_bytes(iterables: tuple[Any, ...]) -> int:
    """The bytes a kept item of `zip(*iterables)` (two to four of them) holds beyond
    `SLOT_BYTES + SMALL_BYTES`: a small object per iterable making fresh items past the
    first (and what a `FreshZip`'s item holds beyond one), and a slot per iterable past
    the second."""
    made, held = _made(iterables)
    if not made:
        return 0
    return (made - 1) * SMALL_BYTES + (len(iterables) - 2) * SLOT_BYTES + held


def made_bytes(iterables: tuple[Any, ...]) -> int:
    """The fresh objects an item of `zip(*iterables)` over more than four holds besides
    its tuple (counted as each is pulled): a small object per iterable making fresh
    items, and what a `FreshZip`'s item holds beyond one."""
    made, held = _made(iterables)
    return made * SMALL_BYTES + held


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
