"""The iterables and iterators contract code holds, by kind.

`ITERATORS` are the iterator types a contract can hold (`in` over one pulls it through).
Iterating a dict's items, a str's characters or a range's integers makes a new object
per item. `CheckedBuiltins.b_zip`/`b_enumerate` hand out a `FreshZip`/`FreshEnumerate`
where the tuples they yield hold more than the small object a kept item is counted as
(`SLOT_BYTES + SMALL_BYTES`); `Runtime.iterate`, through which every loop, comprehension
and consuming builtin pulls, counts their `fresh` bytes as each item is made, whatever
then keeps it (a dict store, `L += t`, `list()`). A zip over more than four iterables
counts the fresh objects of each item as it pulls it (`made_bytes`). A zip or enumerate
over another zip or enumerate holds the inner one's fresh tuple in each item: the inner
one counts as an iterable making fresh items (`MADE_TUPLES`).
"""

from __future__ import annotations

from types import FunctionType, GeneratorType
from typing import Any

from tianfu.execution.costs import SLOT_BYTES, SMALL_BYTES

DICT_ITEMS: Any = type({}.items())
# Iterables whose items are fresh objects (counted at `SMALL_BYTES` each when kept).
FRESH_ITEMS = frozenset({str, range, DICT_ITEMS})


class FreshZip(zip):
    """A `zip` over one to four iterables at least one of which makes a fresh object per
    item (a dict's items, a str's characters, a range's integers, a zip's or enumerate's
    tuples, a `FreshZip`'s or `FreshEnumerate`'s items): each tuple it yields
    holds those objects, `fresh` bytes more than the small object a kept item is counted
    as, counted as each is pulled (`Runtime.iterate`)."""

    __slots__ = ("fresh",)
    fresh: int


class FreshEnumerate(enumerate):
    """`enumerate` over a `FreshZip` or `FreshEnumerate` (each pair it yields holds the
    inner item: `fresh` bytes more than a small object, the inner one's and a small object
    for the item), or over a non-ASCII str, a dict's items or a plain zip or enumerate
    (each pair holds a fresh character, pair or tuple beside its index: `fresh` is a small
    object)."""

    __slots__ = ("fresh",)
    fresh: int


class FreshReversed(reversed):
    """`reversed()` of a str beyond ASCII: each item a fresh character, as iterating it
    forward makes (its type reads "reversed" in messages, as the plain one's does)."""

    __slots__ = ()


FreshReversed.__name__ = FreshReversed.__qualname__ = "reversed"

# Iterators whose items, kept, count `fresh` bytes more than a small object each.
FRESH_KEPT = frozenset({FreshZip, FreshEnumerate})
# Iterators a contract holds that make a fresh object per item, as their iterable does
# forward (`FRESH_ITEMS`): `reversed()` of a dict's items (a pair), of a range (an
# integer) or of a str beyond ASCII (a character). Counted flat, four of them zipped and
# kept held ~2.1-2.8x the bytes tracked.
FRESH_REVERSED = frozenset(
    {
        type(reversed({}.items())),
        type(reversed(range(0))),
        type(reversed(range(1 << 64))),
        FreshReversed,
    }
)
# Plain `zip`/`enumerate` (a contract holds one only over flat iterables): each item is a
# new tuple (with an index: a small object at most), so a zip or enumerate over one keeps
# it as a fresh object.
MADE_TUPLES = frozenset({zip, enumerate})
# The generator through which a zip or enumerate over an iterator is pulled
# (`CheckedBuiltins.pulled_tuples`): its items are fresh tuples too. (A contract defines
# no generator or class of its own: every generator it holds is one of the sandbox's.)
PULLED_TUPLES = "CheckedBuiltins.pulled_tuples"


def renamed(f: Any, qualname: str) -> Any:
    """The function `f` with a code object of its own, named `qualname`: the generators it
    makes are told apart from `f`'s by their `gi_code`."""
    name = qualname.rpartition(".")[2]
    code = f.__code__.replace(co_name=name, co_qualname=qualname)
    return FunctionType(code, f.__globals__, name, f.__defaults__, f.__closure__)


def makes_tuples(it: Any) -> bool:
    """Whether each item of `it` is a new tuple: a plain zip or enumerate, or one pulled
    through `CheckedBuiltins.pulled_tuples`."""
    t = type(it)
    return t in MADE_TUPLES or (t is GeneratorType and it.gi_code.co_qualname == PULLED_TUPLES)


def _made(iterables: tuple[Any, ...]) -> tuple[int, int]:
    """How many of `iterables` make a fresh object per item (a dict's items, a str's
    characters, a range's integers, the tuples of a zip or enumerate, or the items of a
    `FreshZip`/`FreshEnumerate`), and the bytes the latter's items hold beyond a small
    object each."""
    made = held = 0
    for it in iterables:
        t = type(it)
        if t in FRESH_ITEMS or t in FRESH_REVERSED or makes_tuples(it):
            made += 1
        elif t in FRESH_KEPT:
            made += 1
            held += it.fresh
    return made, held


def fresh_bytes(iterables: tuple[Any, ...]) -> int:
    """The bytes a kept item of `zip(*iterables)` (one to four of them) holds beyond
    `SLOT_BYTES + SMALL_BYTES`: a small object per iterable making fresh items past the
    first (and what a `FreshZip`'s item holds beyond one), and a slot per iterable past
    the second. (A zip over one `FreshZip` holds its item, with all it holds, in a
    1-tuple: counted flat, ~2.5x the bytes tracked.)"""
    made, held = _made(iterables)
    if not made:
        return 0
    return (made - 1) * SMALL_BYTES + max(len(iterables) - 2, 0) * SLOT_BYTES + held


def made_bytes(iterables: tuple[Any, ...]) -> int:
    """The fresh objects an item of `zip(*iterables)` over more than four holds besides
    its tuple (counted as each is pulled): a small object per iterable making fresh
    items, and what a `FreshZip`'s item holds beyond one."""
    made, held = _made(iterables)
    return made * SMALL_BYTES + held


def enumerate_fresh(x: Any) -> int:
    """The `fresh` bytes of `enumerate(x)` as a `FreshEnumerate`, where its kept pairs hold
    more than a small object, else 0. A pair of an index and a wide character (~172 bytes kept),
    an items pair (~148), a plain zip's or enumerate's tuple, or a `FreshZip`'s or
    `FreshEnumerate`'s item (counted flat, `enumerate(enumerate(d.items()))` kept ~1.6x
    the bytes tracked) does; an ASCII str's characters are CPython's cached ones and a
    range's integer fits beside the index (~119), so those stay plain `enumerate`."""
    t = type(x)
    if t in FRESH_KEPT:
        return x.fresh + SMALL_BYTES  # type: ignore[no-any-return]
    if (t is str and not x.isascii()) or t is DICT_ITEMS or t in FRESH_REVERSED or makes_tuples(x):
        return SMALL_BYTES
    return 0


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
    FreshReversed(""),
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
