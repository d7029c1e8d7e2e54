"""Audit 11 of the sandbox: the walk's work per gas over mixed containers, and what a
contract can observe across processes (hash seeds, a cold or warm process).

Each regression test fails on the code before its fix; none times anything.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from tianfu.execution import walk
from tianfu.execution.meter import Meter


def _walk_opcodes(fn: Callable[[], Any]) -> int:
    """Python opcodes `walk.measure` runs during `fn()` (a count, not a time)."""
    code = walk.measure.__code__
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "opcode":
            count += 1
        return local

    def outer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code is code:
            frame.f_trace_opcodes = True
            return local
        return None

    sys.settrace(outer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def _deep_mixed_key() -> tuple[Any, ...]:
    t: tuple[Any, ...] = (1,)
    for _ in range(30):
        t = (t, 1, 2, 3, 4, 5, 6, 7)
    return t


def test_walking_a_key_whose_levels_mix_scalars_runs_a_bounded_work_per_gas() -> None:
    """`walk.measure` pushed every item of a container that held any container onto its
    stack and popped it again, scalars included: hashing a 31-level tuple key with seven
    small ints beside each level (`t in d`) took ~5.75x a plain loop's CPU per gas (74
    Python opcodes of the walk per gas). Scalars beside a container are now counted in
    place (same units, same gas): ~4.0x, under 55 opcodes per gas."""
    t = _deep_mixed_key()
    meter = Meter(10**6)
    ops = _walk_opcodes(lambda: walk.hashable_key(meter, t))
    assert meter.used == 187  # the gas it always cost: the same units
    assert ops <= 55 * meter.used, (ops, meter.used)


def test_walk_units_are_unchanged_for_mixed_values() -> None:
    """The units (hence the gas) of walking mixed values: pinned from the code before."""
    m = Meter(10**9)
    mixed = tuple((i, "a" * (i % 300)) if i % 2 else i << (i % 700) for i in range(2_000))
    nested = [[i, "b" * i, (i, (i, b"c" * i)), {"k": [i] * 3}] for i in range(300)]
    assert walk.measure(m, mixed, "hash", hashing=True) == 12_925
    assert walk.measure(m, mixed, "compare") == 12_049
    assert walk.measure(m, nested, "compare") == 14_225
