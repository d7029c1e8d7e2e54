"""Audit 11 of the sandbox: the walk's work per gas over mixed containers, and what a
contract can observe across processes (hash seeds, a cold or warm process).

Each regression test fails on the code before its fix; none times anything.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
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
    small ints beside each level (`t in d`) took ~5.6-6.1x a plain loop's CPU per gas (74
    Python opcodes of the walk per gas). Each run of scalars beside a container is now one
    stack entry of their units (the same units, counted at the same points, so the same
    gas and the same out-of-gas points): ~4.4-4.6x, 61 opcodes per gas."""
    t = _deep_mixed_key()
    meter = Meter(10**6)
    ops = _walk_opcodes(lambda: walk.hashable_key(meter, t))
    assert meter.used == 187  # the gas it always cost: the same units
    assert ops <= 65 * meter.used, (ops, meter.used)


def test_walk_units_are_unchanged_for_mixed_values() -> None:
    """The units (hence the gas) of walking mixed values: pinned from the code before."""
    m = Meter(10**9)
    mixed = tuple((i, "a" * (i % 300)) if i % 2 else i << (i % 700) for i in range(2_000))
    nested = [[i, "b" * i, (i, (i, b"c" * i)), {"k": [i] * 3}] for i in range(300)]
    assert walk.measure(m, mixed, "hash", hashing=True) == 12_925
    assert walk.measure(m, mixed, "compare") == 12_049
    assert walk.measure(m, nested, "compare") == 14_225


_CHILD = r'''
import sys
from tianfu.execution.meter import Meter
from tianfu.execution.sandbox import compile_contract
from tests.unit.test_sandbox import FakeContext, admin

SRC = """
def h(a):
    return a

def run(ctx, case):
    d = {}
    for w in ["k", "key", "é", "日本", "\\U0001f600", "a" * 40, "to", "x"]:
        d[w] = len(w)
        d[w.encode("utf-8")] = w
        d[(w, len(w))] = w
    out = [list(d)[:30], str(d)[:400], sorted(d.keys(), key=str)[:10]]
    tries = [
        lambda: d[("missing", b"\\x00" * 40)],
        lambda: h < 1,
        lambda: str(h),
        lambda: sorted([1, "a"]),
        lambda: {}.popitem(),
        lambda: int("x"),
        lambda: [h] == [h],
        lambda: pow(2, -1),
    ]
    for t in tries:
        try:
            t()
            out.append("no error")
        except (ArithmeticError, ContractError, LookupError, TypeError, ValueError) as e:
            out.append(str(e))
    z = [t for t in zip(d.items(), d.items(), d.items())]
    e = {}
    for i, t in enumerate(zip(d.items(), d.items())):
        e[i] = t
    out.append(len(z) + len(e))
    return out
"""

compiled = compile_contract(SRC)
rows = []
for _ in range(2):  # a cold call, then one on a warm module instance
    meter = Meter(10**7)
    result, used = compiled.call(FakeContext(admin()), "run", ["x"], meter)
    rows.append([result, used, meter.mem])
sys.stdout.write(repr(rows))
'''


def test_a_contract_sees_and_pays_the_same_under_two_hash_seeds_cold_and_warm() -> None:
    """Dict order, `str()` of a dict with text, bytes and tuple keys, failure messages of
    host errors (functions, mixed types, a missing bytes key), floats refused, kept zip
    items: identical results, gas and tracked memory in two processes with different
    `PYTHONHASHSEED`s, and on a cold and a warm module instance in each."""
    root = Path(__file__).resolve().parents[2]
    outs = []
    for seed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
    cold, warm = ast.literal_eval(outs[0])
    assert cold == warm
    result = cold[0]
    assert result[3:11] == [
        "('missing', b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
        "\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00"
        "\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00')",
        "cannot compare function and int: only contract values compare",
        "cannot convert function to str",
        "sorted() compares values of different types",
        "dict.popitem(): the dict is empty",
        "invalid literal for int()",
        "unsupported operand or argument types",
        "negative exponents are not allowed (they produce floats)",
    ]
