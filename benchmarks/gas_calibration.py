"""Gas calibration: CPU time and memory per gas of every operation a contract may use.

    .venv/bin/python benchmarks/gas_calibration.py [--quick] [--check] [--json] [--only NAME]

Each case is a contract that builds adversarial operands (large, deep, repeated, shared
references, worst-case Unicode) and then repeats one operation in a `while` loop. The
case runs twice through the real sandbox, with 0 and with N iterations, and the difference
gives the operation's CPU time (process time, best of several runs) per gas. The
reference is a plain `while` loop ticking, measured in the same run; the table shows each
case's ratio to it. The goal (docs/contracts.md): no allowed operation above 10x.

Memory: each case runs once more under `tracemalloc`; "bytes/gas" is the peak the host
allocated per gas, and "tracked" the bytes the meter counted (`costs.MAX_TX_MEMORY` is
enforced on those): real must not exceed tracked for an allocating case.

`--check` (no timing; used by `tests/unit/test_gas_calibration.py`): every builtin, value
method, operator and node kind a contract may use is covered by some case, and every case
compiles and runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from tianfu.execution import runtime as g
from tianfu.execution.context import CallContext
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.meter import Meter
from tianfu.execution.methods import METHODS
from tianfu.execution.sandbox import compile_contract
from tianfu.execution.validate import ALLOWED_NODES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gas_cases import CASES, Case  # noqa: E402

GOAL = 10.0


# Names a case may cover that are not Python builtins, methods or AST nodes.
OPERATOR_NAMES = {
    "+", "-", "*", "//", "%", "**", "<<", ">>", "&", "|", "^", "+=", "*=", "|=", "neg", "inv",
    "==", "!=", "<", "<=", ">", ">=", "is", "is_not", "in", "not_in", "key",
}  # fmt: skip


def required_covers() -> set[str]:
    """Everything a contract may use, as case cover names."""
    out = {f"b:{name}" for name in g.SAFE_BUILTIN_NAMES if name not in g.EXCEPTION_NAMES}
    out.discard("b:view")
    out |= {f"m:{t.__name__}.{name}" for t, names in METHODS.items() for name in names}
    out |= {f"op:{name}" for name in OPERATOR_NAMES}
    skip = {"Module", "ExceptHandler", "keyword", "arguments", "arg", "comprehension"}
    nodes = {n.__name__ for n in ALLOWED_NODES if isinstance(n, type)}
    ops = {
        "Add Sub Mult FloorDiv Mod Pow LShift RShift BitOr BitXor BitAnd Eq NotEq Lt LtE Gt GtE "
        "Is IsNot In NotIn And Or Not USub UAdd Invert Load Store Del"
    }.pop().split()
    out |= {f"n:{n}" for n in nodes - skip - set(ops)}
    out |= {f"n:{n}" for n in ("Load", "Store", "Del")}
    return out


def uncovered() -> list[str]:
    covered = {c for case in CASES for c in case.covers}
    return sorted(required_covers() - covered)


# -- running a case ---------------------------------------------------------------------------

SENDER = Caller("c" * 40, "org1", "calibration", "member", frozenset({"x"}))


def source_of(case: Case) -> str:
    setup = "\n".join("    " + ln for ln in case.setup.splitlines()) if case.setup else "    pass"
    body = "\n".join("        " + case.op.replace("\n", "\n    ") for _ in range(case.reps))
    return (
        f"def f(ctx, n):\n{setup}\n    i = 0\n    while i < n:\n{body}\n        i += 1\n"
        "    return 0\n"
    )


def run_once(
    compiled: Any, n: int, gas: int = 10**10, *, collect: bool = True
) -> tuple[float, int, int]:
    """(CPU seconds, gas, tracked bytes) of one call with `n` iterations. `collect`: a full
    garbage collection first, so that none falls inside the timed call (the correctness
    check, which times nothing, skips it: in a test process full of objects it costs more
    than most cases)."""
    store: dict[bytes, bytes] = {}
    meter = Meter(gas, memory=1 << 40)
    ctx = CallContext(
        contract="calib",
        sender=SENDER,
        height=1,
        time_ms=1,
        tx_hash="00",
        reader=store.get,
        gas=meter,
    )
    if collect:
        gc.collect()
    t = time.process_time_ns()
    compiled.call(ctx, "f", [n], meter)
    elapsed = (time.process_time_ns() - t) / 1e9
    return elapsed, meter.limit - meter.left, (1 << 40) - meter.mem


def measure(case: Case, rounds: int, n: int | None = None) -> dict[str, Any]:
    compiled = compile_contract(source_of(case))
    n = n or case.n
    zero = min(run_once(compiled, 0)[0] for _ in range(rounds))
    runs = [run_once(compiled, n) for _ in range(rounds)]
    best = min(r[0] for r in runs)
    gas0 = run_once(compiled, 0)[1]
    _, gas_n, tracked_n = runs[0]
    _, _, tracked_0 = run_once(compiled, 0)
    dgas = max(gas_n - gas0, 1)
    us = max(best - zero, 0.0) * 1e6 / dgas
    peak = _peak(compiled, n) - _peak(compiled, 0)
    return {
        "name": case.name,
        "us_per_gas": us,
        "gas": dgas,
        "bytes_per_gas": max(peak, 0) / dgas,
        "tracked_per_gas": (tracked_n - tracked_0) / dgas,
    }


def _peak(compiled: Any, n: int) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        run_once(compiled, n)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def plain_loop(rounds: int, gas: int = 2_000_000) -> float:
    """CPU microseconds per gas of `while True: pass` (one `LOOP_GAS` tick per iteration)
    running out of `gas`: the reference."""
    compiled = compile_contract("def f(ctx):\n    while True:\n        pass\n")
    best = float("inf")
    for _ in range(rounds):
        meter = Meter(gas)
        t = time.process_time_ns()
        try:
            compiled.call(None, "f", [], meter)
        except ContractError:
            pass
        best = min(best, (time.process_time_ns() - t) / 1e3 / gas)
    return best


def check() -> list[str]:
    """Problems found without timing anything: uncovered names, cases that fail."""
    problems = [f"not covered by any case: {name}" for name in uncovered()]
    for case in CASES:
        try:
            compiled = compile_contract(source_of(case))
            run_once(compiled, 1, gas=10**8, collect=False)
        except ContractError as exc:
            problems.append(f"{case.name}: {exc}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and iterations")
    ap.add_argument("--check", action="store_true", help="coverage and correctness only")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--only", default=None, help="cases whose name contains this")
    args = ap.parse_args()
    if args.check:
        problems = check()
        for p in problems:
            print(p)
        print(f"{len(CASES)} cases; {len(problems)} problems")
        return 1 if problems else 0
    rounds = 2 if args.quick else 5
    cases = [c for c in CASES if args.only is None or args.only in c.name]
    base = plain_loop(rounds * 2)
    rows = []
    for case in cases:
        n = max(1, case.n // 4) if args.quick else case.n
        row = measure(case, rounds, n)
        row["ratio"] = row["us_per_gas"] / base
        rows.append(row)
        if not args.json:
            flag = "  <-- above goal" if row["ratio"] > GOAL else ""
            print(
                f"{case.name:28} {row['us_per_gas']:8.3f} us/gas {row['ratio']:7.2f}x "
                f"{row['bytes_per_gas']:9.1f} B/gas (tracked {row['tracked_per_gas']:9.1f}) "
                f"gas {row['gas']:>10}{flag}",
                flush=True,
            )
    worst = max(rows, key=lambda r: r["ratio"])
    summary = {
        "plain_loop_us_per_gas": base,
        "worst": worst["name"],
        "worst_ratio": worst["ratio"],
        "median_ratio": statistics.median(r["ratio"] for r in rows),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"\nplain loop {base:.4f} us/gas; worst {worst['name']} at {worst['ratio']:.2f}x "
            f"(goal <= {GOAL:g}x); median {summary['median_ratio']:.2f}x"
        )
    return 0 if worst["ratio"] <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
