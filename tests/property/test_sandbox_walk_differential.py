"""`walk.measure` against its version before scalar runs were pushed as one stack entry
(merge 70fa2b43): the same units, the same gas left and the same error, at the same point,
for every value and gas limit. Any difference forks an upgraded node from an old one on
replay."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tianfu.execution import walk
from tianfu.execution.meter import Meter
from tianfu.execution.walk import (
    _BYTES_PER_UNIT,
    _FLAT_CHEAP,
    _HASH_BITS_PER_UNIT,
    _TEXT,
    CONTAINER_UNITS,
    HASHABLE,
    MAX_WALK_DEPTH,
    NODES_PER_GAS,
    SCALARS,
    VALUE_TYPES,
    WalkError,
    _not_a_value,
)


def old_measure(meter: Meter, v: Any, verb: str, hashing: bool = False) -> int:
    """`walk.measure` as it was at 70fa2b43^1, verbatim but for the name."""
    t = type(v)
    if t in _FLAT_CHEAP:
        return 1
    if t is str or t is bytes:
        return 1 + len(v) // _BYTES_PER_UNIT
    allowed = HASHABLE if hashing else VALUE_TYPES
    if t not in allowed:
        raise _not_a_value(v, verb)
    budget = max(meter.left, 0) * NODES_PER_GAS + 1
    units = 0
    stack: list[tuple[Any, int]] = [(v, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        x, depth = pop()
        t = type(x)
        if t in _FLAT_CHEAP:
            units += 1
            if hashing and t is int:
                units += x.bit_length() // _HASH_BITS_PER_UNIT
            continue
        if t is str or t is bytes:
            units += 1 + len(x) // _BYTES_PER_UNIT
            continue
        if t not in allowed:
            raise _not_a_value(x, verb)
        if depth >= MAX_WALK_DEPTH:
            raise WalkError(f"cannot {verb} a value nested deeper than {MAX_WALK_DEPTH} levels")
        for items in (x.keys(), x.values()) if t is dict else (x,):
            units += CONTAINER_UNITS + len(items)
            if units > budget:
                meter.charge(meter.left + 1)  # more work than the gas left: out of gas
            types = set(map(type, items))
            if types <= _FLAT_CHEAP:
                if hashing and int in types:  # an int's hash reads every limb
                    units += sum(map(int.bit_length, filter(None, items))) // _HASH_BITS_PER_UNIT
                continue  # every item counted above
            if types <= _TEXT:
                units += sum(map(len, items)) // _BYTES_PER_UNIT
                continue
            if types <= SCALARS:
                for item in items:
                    if type(item) in _TEXT:
                        units += len(item) // _BYTES_PER_UNIT
                continue
            for item in items:
                push((item, depth + 1))
            units -= len(items)  # counted again when popped
    return units


class _NotAValue:
    pass


_ints = st.one_of(
    st.integers(-300, 300),
    st.integers(-(2**64), 2**64),
    st.integers(0, 12).map(lambda k: (1 << (256 * k + 255)) - 1),  # limbs the hash reads
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    _ints,
    st.text(max_size=4),
    st.integers(0, 400).map(lambda n: "x" * n),
    st.binary(max_size=4),
    st.integers(0, 400).map(lambda n: b"y" * n),
)
_odd = st.sampled_from([1.5, _NotAValue(), frozenset()])  # refused, where the walk meets them


def _containers(children: Any) -> Any:
    keys = st.one_of(st.text(max_size=3), st.integers(-5, 5), st.tuples(st.integers(0, 3)))
    return st.one_of(
        st.lists(children, max_size=12),
        st.lists(children, max_size=12).map(tuple),
        st.dictionaries(keys, children, max_size=8),
    )


_values = st.recursive(_scalars, _containers, max_leaves=60)
_hostile = st.recursive(st.one_of(_scalars, _odd), _containers, max_leaves=60)


@st.composite
def _deep(draw: Any) -> Any:
    """A chain near `MAX_WALK_DEPTH` with mixed scalars beside each level."""
    depth = draw(st.integers(MAX_WALK_DEPTH - 3, MAX_WALK_DEPTH + 2))
    v: Any = draw(_scalars)
    for _ in range(depth):
        before = draw(st.lists(_scalars, max_size=4))
        after = draw(st.lists(_scalars, max_size=4))
        kind = draw(st.sampled_from(["list", "tuple", "dict"]))
        if kind == "dict":
            v = {**{f"a{i}": s for i, s in enumerate(before)}, "v": v}
        else:
            items = [*before, v, *after]
            v = items if kind == "list" else tuple(items)
    return v


def _outcome(fn: Any, v: Any, limit: int, hashing: bool) -> tuple[Any, ...]:
    meter = Meter(limit)
    try:
        units = fn(meter, v, "compare", hashing)
    except Exception as exc:  # noqa: BLE001 - the outcome compared is the error itself
        return ("raised", type(exc).__name__, str(exc), meter.left, meter.mem)
    return ("units", units, meter.left, meter.mem)


_limits = st.one_of(st.integers(0, 40), st.integers(0, 2_000), st.just(10**9))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    v=st.one_of(_values, _hostile, _deep()),
    limits=st.lists(_limits, min_size=1, max_size=6),
    hashing=st.booleans(),
)
def test_measure_agrees_with_the_version_before_scalar_runs(
    v: Any, limits: list[int], hashing: bool
) -> None:
    for limit in limits:
        assert _outcome(walk.measure, v, limit, hashing) == _outcome(
            old_measure, v, limit, hashing
        ), limit


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v=st.one_of(_values, _hostile, _deep()), hashing=st.booleans())
def test_measure_agrees_at_every_gas_limit_up_to_its_cost(v: Any, hashing: bool) -> None:
    """Every limit from 0 to past what the walk needs: the out-of-gas point is the same."""
    full = _outcome(old_measure, v, 10**9, hashing)
    top = full[1] // NODES_PER_GAS + 2 if full[0] == "units" else 50
    for limit in range(min(top, 400)):
        assert _outcome(walk.measure, v, limit, hashing) == _outcome(
            old_measure, v, limit, hashing
        ), limit
