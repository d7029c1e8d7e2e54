"""Regression tests of the seventh hostile audit of the sandbox: work a contract could make
the host do that its gas did not pay for, or that cost more CPU per gas than the
calibration's aim (5x a plain loop).

Each fails on the code before its fix.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from tests.unit.test_sandbox_findings import op_gas

from tianfu.execution import runtime

# -- a dict's items made into a list or tuple ------------------------------------------------


@pytest.mark.parametrize("op", ["tuple(d.items())", "list(d.items())", "sorted(d.items())"])
def test_a_dicts_items_are_made_at_c_speed_and_charged_as_before(
    op: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tuple(d.items())` pulled every pair through the charged Python loop (a generator
    step, a charge and a list append each, then a copy into the tuple): ~4.3-4.8x a plain
    loop's CPU per gas (`gas_calibration.py --only "d.items()"`, old and new alternated;
    now ~1.8x). The pairs are made by the C code after one charge of the very same gas and
    memory: the loop pulls none of them."""
    pulled: Counter[str] = Counter()
    real = runtime.Runtime.iterate

    def spy(self: Any, obj: Any, *args: Any) -> Any:
        pulled[type(obj).__name__] += 1
        return real(self, obj, *args)

    monkeypatch.setattr(runtime.Runtime, "iterate", spy)
    n = 10_000
    setup = f"d = {{str(i): i for i in range({n})}}"
    gas = op_gas(setup, op)
    assert pulled["dict_items"] == 0, pulled
    # one gas per pair (an item and its memory kept, as the loop charged), besides the
    # builtin's base and, for `sorted`, the sort
    assert gas >= n
    if not op.startswith("sorted"):
        assert gas <= n + 64
