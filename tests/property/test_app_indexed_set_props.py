"""The shared contract library's indexed sets (apps/common/contract_library.py), run against
a model: members added and removed between the pages of a walk. A member present for the
whole walk is in exactly one page; a member is in at most one page for each time it was
added; every change writes a bounded number of keys; `_set_all` and `_set_count` agree with
the model after every step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tianfu.apps.common as common
from tianfu.execution.contract_api import ContractError

LIBRARY = Path(common.__file__).with_name("contract_library.py").read_text(encoding="utf-8")
# the indexed sets as the layout before the buckets kept them (an emptied slot's "#x" key)
BEFORE = Path(__file__).with_name("indexed_set_layout_before.py").read_text(encoding="utf-8")


class _Ctx:
    """A dict-backed context counting the keys each change writes."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.writes = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.writes += 1
        self.state[key] = value

    def delete(self, key: str) -> None:
        self.writes += 1
        self.state.pop(key, None)

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise ContractError(message)


def _library(**constants: int) -> dict[str, Any]:
    scope: dict[str, Any] = {"ContractError": ContractError}
    exec(compile(LIBRARY, "contract_library.py", "exec"), scope)  # noqa: S102 (our own source)
    scope.update(constants)  # the helpers read them from this scope
    return scope


LIB = _library()
OLD: dict[str, Any] = {"ContractError": ContractError}
exec(compile(BEFORE, "indexed_set_layout_before.py", "exec"), OLD)  # noqa: S102
SMALL = _library(_SET_BUCKET=2)  # buckets of 2 slots, superbuckets of 4: every path taken
NAME = "held:x"

# an operation: ("add", m), ("remove", m), ("page", limit)
op = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 12)),
    st.tuples(st.just("remove"), st.integers(0, 12)),
    st.tuples(st.just("page"), st.integers(1, 4)),
)


def _apply(
    ctx: _Ctx, members: set[str], kind: str, m: str, lib: dict[str, Any] = LIB, most: int = 9
) -> None:
    ctx.writes = 0
    if kind == "add" and m not in members:
        lib["_set_add"](ctx, NAME, m)
        members.add(m)
    elif kind == "remove" and m in members:
        lib["_set_remove"](ctx, NAME, m)
        members.discard(m)
    assert ctx.writes <= most
    assert lib["_set_count"](ctx, NAME) == len(members)
    assert sorted(lib["_set_all"](ctx, NAME)) == sorted(members)


@settings(max_examples=300, deadline=None)
@given(
    legacy=st.lists(st.integers(100, 105), unique=True, max_size=4),
    setup=st.lists(op, max_size=30),
    walk=st.lists(op, max_size=60),
    small=st.booleans(),
)
def test_a_walk_neither_skips_nor_repeats_a_member_present_throughout(
    legacy: list[int], setup: list[tuple[str, int]], walk: list[tuple[str, int]], small: bool
) -> None:
    lib = SMALL if small else LIB
    ctx = _Ctx()
    members = {f"m{x}" for x in legacy}
    if legacy:
        ctx.state[NAME] = [f"m{x}" for x in legacy]  # a list of a deployment before
    for kind, x in setup:
        if kind != "page":
            _apply(ctx, members, kind, f"m{x}", lib)
    _walk(ctx, lib, members, walk)


@settings(max_examples=300, deadline=None)
@given(setup=st.lists(op, max_size=40), walk=st.lists(op, max_size=60), small=st.booleans())
def test_a_set_of_the_layout_before_the_buckets_walks_without_skips_after_an_upgrade(
    setup: list[tuple[str, int]], walk: list[tuple[str, int]], small: bool
) -> None:
    """Slots used (and emptied) under the layout before the buckets, a walk's cursor taken
    then: the pages read under this layout, with changes between them, neither skip nor
    repeat a member (the first change pins the buckets' first slot: one write more once)."""
    lib = SMALL if small else LIB
    ctx = _Ctx()
    members: set[str] = set()
    for kind, x in setup:
        if kind != "page":
            _apply(ctx, members, kind, f"m{x}", OLD)
    _walk(ctx, lib, members, walk, most=10, first=OLD)


def _walk(
    ctx: _Ctx,
    lib: dict[str, Any],
    members: set[str],
    walk: list[tuple[str, int]],
    most: int = 9,
    first: dict[str, Any] | None = None,
) -> None:
    """Walk the pages from 1 with the changes of `walk` between them (the first page read
    by `first`, when given: a cursor taken before an upgrade)."""
    present = set(members)  # present throughout: at the start and never removed
    added = {m: 1 for m in members}  # times each member was added during the walk (+1 at start)
    seen: dict[str, int] = {}
    start: int | None = 1
    ops = list(walk)
    while start is not None:
        if first is not None:  # the first page, before any change under `lib`
            kind, x = "page", 2
        else:
            kind, x = ops.pop(0) if ops else ("page", 3)
        if kind == "page":
            entries, nxt = (first or lib)["_set_page"](ctx, NAME, start, x)
            first = None
            assert len(entries) <= x
            slots = [s for s, _ in entries]
            assert slots == sorted(slots) and all(s >= start for s in slots)
            assert nxt is None or nxt > (slots[-1] if slots else start - 1)
            for _, m in entries:
                assert m in members  # only live members are shown
                seen[m] = seen.get(m, 0) + 1
            start = nxt
            continue
        m = f"m{x}"
        if kind == "remove":
            present.discard(m)
        elif m not in members:
            added[m] = added.get(m, 0) + 1
        _apply(ctx, members, kind, m, lib, most)
    for m in present:
        assert seen.get(m) == 1, (m, seen)
    for m, times in seen.items():
        assert times <= added.get(m, 0), (m, seen, added)


def test_a_member_moved_by_a_removal_is_not_skipped() -> None:
    """Removing a member behind a walk's position moved the last member into its place
    (behind the walk), so a walk that had read the first page never saw it."""
    ctx = _Ctx()
    for m in ("a", "b", "c", "d"):
        LIB["_set_add"](ctx, NAME, m)
    first, nxt = LIB["_set_page"](ctx, NAME, 1, 2)
    LIB["_set_remove"](ctx, NAME, "a")
    second, end = LIB["_set_page"](ctx, NAME, nxt, 2)
    assert [m for _, m in first + second] == ["a", "b", "c", "d"] and end is None


def test_a_page_of_emptied_slots_reads_at_most_limit_slots() -> None:
    ctx = _Ctx()
    for k in range(50):
        LIB["_set_add"](ctx, NAME, f"m{k}")
    _, nxt = LIB["_set_page"](ctx, NAME, 1, 1)
    for k in range(1, 49):
        LIB["_set_remove"](ctx, NAME, f"m{k}")
    reads: list[str] = []
    get = ctx.get
    ctx.get = lambda key, default=None: (reads.append(key), get(key, default))[1]  # type: ignore[method-assign]
    entries, after = LIB["_set_page"](ctx, NAME, nxt, 5)
    assert entries == [[50, "m49"]] and after is None and len(reads) <= 3 + 2 * 5
    assert LIB["_set_all"](ctx, NAME) == ["m0", "m49"]


@pytest.mark.parametrize("legacy", [[], ["p", "q"]])
def test_a_set_emptied_and_filled_again_walks_from_its_first_member(legacy: list[str]) -> None:
    ctx = _Ctx()
    if legacy:
        ctx.state[NAME] = list(legacy)
        for m in legacy:
            LIB["_set_remove"](ctx, NAME, m)
    for m in ("a", "b"):
        LIB["_set_add"](ctx, NAME, m)
    for m in ("a", "b"):
        LIB["_set_remove"](ctx, NAME, m)
    LIB["_set_add"](ctx, NAME, "c")
    assert LIB["_set_count"](ctx, NAME) == 1 and LIB["_set_all"](ctx, NAME) == ["c"]
    entries, after = LIB["_set_page"](ctx, NAME, 1, 5)
    assert [m for _, m in entries] == ["c"] and after is None


@pytest.mark.parametrize("lib", [LIB, SMALL], ids=["buckets", "small"])
def test_emptied_slots_leave_no_keys_and_a_stale_cursor_finds_the_next_member(
    lib: dict[str, Any],
) -> None:
    """An emptied slot kept its "#x" key for good, so a set whose members come and go (an
    address's holdings) grew by a key per member that ever left. Now its keys are bounded
    by its members, and a page from a cursor taken before 20,000 members left finds the
    next member within a page or two."""
    ctx = _Ctx()
    for k in range(20_002):
        lib["_set_add"](ctx, NAME, f"m{k}")
    _, nxt = lib["_set_page"](ctx, NAME, 1, 1)
    for k in range(1, 20_001):
        lib["_set_remove"](ctx, NAME, f"m{k}")
    keys = [k for k in ctx.state if k.startswith(NAME + "#")]
    assert len(keys) <= 20, sorted(keys)
    walked, pages = [], 0
    while nxt is not None:
        entries, nxt = lib["_set_page"](ctx, NAME, nxt, 200)
        walked += [m for _, m in entries]
        pages += 1
    assert walked == ["m20001"] and pages <= (2 if lib is LIB else 30)
    assert lib["_set_all"](ctx, NAME) == ["m0", "m20001"]
