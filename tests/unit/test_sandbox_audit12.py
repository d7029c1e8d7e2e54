"""Audit 12 of the sandbox: results the meter did not count (big integers out of `%`,
`divmod` and `** 1`; the work buffer of ASCII case mappings), string predicates charged
below their work per character, and values encoded whole before their size was refused.

Each regression test fails on the code before its fix; none times anything.
"""

from __future__ import annotations

import pytest
from tests.unit.test_sandbox import FakeContext, admin
from tests.unit.test_sandbox_fresh_items import peak_and_tracked

from tianfu.execution.meter import Meter
from tianfu.execution.sandbox import compile_contract

_INTS = """
def f(ctx, how, n):
    big = (1 << 4095) + 7
    a = -(1 << 3000)
    keep = []
    if how == "none":
        pass
    elif how == "small % big":
        keep = [-1 % big for _ in range(n)]
    elif how == "divmod(small, big)":
        keep = [divmod(-1, big) for _ in range(n)]
    elif how == "divmod(big, bigger)":
        keep = [divmod(a, big) for _ in range(n)]
    elif how == "big ** 1":
        keep = [big ** 1 for _ in range(n)]
    else:
        keep = [pow(big, 1) for _ in range(n)]
    return len(keep)
"""


@pytest.mark.parametrize(
    "how",
    [
        "small % big",
        "divmod(small, big)",
        "divmod(big, bigger)",
        "big ** 1",
        "pow(big, 1)",
    ],
)
def test_big_integer_results_are_counted_whatever_their_operands(how: str) -> None:
    """`-1 % big` (a remainder as wide as the divisor when the signs differ), `divmod` of
    it, and `big ** 1` / `pow(big, 1)` (a new object, a copy) made a 4,096-bit integer
    (~580 bytes) that the meter never counted: the fast paths counted a result only from
    the dividend's or the base's size. Kept in a list, each held ~4x the bytes tracked (64
    MiB tracked: ~260 MiB held). Each such result now counts what it is."""
    n = 20_000
    base_peak, base_tracked = peak_and_tracked(_INTS, "none", n)
    peak, tracked = peak_and_tracked(_INTS, how, n)
    added_peak, added_tracked = peak - base_peak, tracked - base_tracked
    assert added_peak <= added_tracked, (added_peak, added_tracked)


def test_integer_results_within_64_bits_pay_what_they_did() -> None:
    """Only results the meter did not count pay more: small remainders, quotients and
    powers, and big results of big dividends, are charged as before (pinned from the code
    before the fix)."""
    source = """
def f(ctx):
    big = (1 << 4095) + 7
    x = (1 << 3000) + 5
    r = [5 % big, -5 // big, divmod(5, big), x % 7, divmod(x, 12345), 7 ** 1, pow(3, 1)]
    return len(r)
"""
    compiled = compile_contract(source)
    meter = Meter(10**6)
    compiled.call(FakeContext(admin()), "f", [], meter)
    assert meter.used == 98
