"""The gas calibration table covers everything a contract may use, and every case runs.

`benchmarks/gas_calibration.py` measures CPU and memory per gas of every allowed
operation (docs/contracts.md); this test runs its correctness mode, with no timing: a new
builtin, value method, operator or statement kind cannot be allowed without a calibration
case, and every method has a cost function.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tianfu.execution import methods
from tianfu.execution.runtime import SAFE_BUILTIN_NAMES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import gas_calibration  # noqa: E402


def test_every_allowed_name_is_covered_by_a_calibration_case() -> None:
    assert gas_calibration.uncovered() == []
    covers = {c for case in gas_calibration.CASES for c in case.covers}
    for name in ("b:sorted", "m:str.upper", "m:list.sort", "op:in", "op:key", "n:Starred"):
        assert name in covers


def test_every_method_has_a_cost_function() -> None:
    for t, names in methods.METHODS.items():
        assert set(names) <= set(methods._COSTS[t]), t


def test_the_builtins_are_the_calibrated_ones() -> None:
    required = gas_calibration.required_covers()
    builtins = {name[2:] for name in required if name.startswith("b:")}
    assert builtins == SAFE_BUILTIN_NAMES - gas_calibration.g.EXCEPTION_NAMES - {"view"}


@pytest.mark.parametrize("case", gas_calibration.CASES, ids=lambda c: c.name)
def test_every_case_runs(case: gas_calibration.Case) -> None:
    compiled = gas_calibration.compile_contract(gas_calibration.source_of(case))
    _, gas0, _ = gas_calibration.run_once(compiled, 0, gas=10**8, collect=False)
    _, gas1, _ = gas_calibration.run_once(compiled, 1, gas=10**8, collect=False)
    assert gas1 > gas0  # the operation costs something
