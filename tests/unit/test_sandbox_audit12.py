"""Audit 12 of the sandbox: results the meter did not count (big integers out of `%`,
`divmod` and `** 1`; the work buffer of ASCII case mappings), string predicates charged
below their work per character, and values encoded whole before their size was refused.

Each regression test fails on the code before its fix; none times anything.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from tests.unit.test_sandbox import FakeContext, admin
from tests.unit.test_sandbox_fresh_items import peak_and_tracked

from tianfu import unicode14
from tianfu.execution.context import CallContext
from tianfu.execution.contract_api import ContractError
from tianfu.execution.costs import MAX_TX_MEMORY, METHOD_GAS, bytes_gas, int_str_gas
from tianfu.execution.meter import Meter
from tianfu.execution.runtime import Runtime
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


_CASE = """
def f(ctx, how, n):
    s = "ab" * n
    z = ""
    if how == "swapcase":
        z = s.swapcase()
    elif how == "title":
        z = s.title()
    elif how == "capitalize":
        z = s.capitalize()
    return len(z)
"""


def _call_peak(source: str, args: list[object], gas: int = 10**8) -> tuple[int, int]:
    """The peak bytes (tracemalloc) of one call and the bytes its meter tracked."""
    compiled = compile_contract(source)
    ctx = FakeContext(admin())
    meter = Meter(gas)
    gc.collect()
    tracemalloc.start()
    try:
        try:
            compiled.call(ctx, "f", args, meter)
        except Exception:  # noqa: BLE001 - a refusal still made what it made
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, MAX_TX_MEMORY - meter.mem


@pytest.mark.parametrize("how", ["swapcase", "title", "capitalize"])
def test_ascii_case_mappings_count_their_work_buffer(how: str) -> None:
    """`swapcase`, `title` and `capitalize` have no ASCII fast path in CPython: they map
    into a buffer of three 4-byte characters per character (12 bytes a character) before
    they build the result, and they look every character up in the Unicode tables. ASCII
    text was charged as `lower()` (its fast path): one byte a character tracked, and
    ~5-6.5x a plain loop's CPU per gas (`gas_calibration.py --only "ascii case"`). They are
    now charged as for any text: the buffer counted, ~0.5x."""
    n = 400_000
    base_peak, base_tracked = _call_peak(_CASE, ["none", n])
    peak, tracked = _call_peak(_CASE, [how, n])
    assert peak - base_peak <= tracked - base_tracked, (peak - base_peak, tracked - base_tracked)


def _method_gas(obj: object, name: str) -> int:
    """The gas of one call of `obj.name()` (the method object made first, apart)."""
    rt = Runtime(10**9)
    method = rt.getattr(obj, name)
    before = rt.m.left
    method()
    return before - rt.m.left


def test_str_predicates_pay_for_each_unicode_lookup_per_character() -> None:
    """`isalnum` tests a character for alpha, decimal, digit and numeric in turn, each a
    lookup in the Unicode tables: over numeric characters (`'½' * 999_999`) it took ~12x a
    plain loop's CPU per gas at the one `bytes_gas` a pass every predicate paid;
    `islower`, `isupper` and `istitle` make two tests, ~5x. They now pay a pass per test
    (~3x and ~2.5x); bytes, tested by a table, and the one-test predicates pay as before."""
    w = "\u00bd" * 999_999
    # Besides, a method of non-ASCII text pays the check of its Unicode 14.0 answers (ADR
    # 0042, `unicode14.check_gas`), once a call whatever the predicate.
    one = _method_gas(w, "isnumeric") - METHOD_GAS - unicode14.check_gas(w, "isnumeric")
    assert one == bytes_gas(len(w))  # as before
    assert _method_gas(w, "isalnum") - METHOD_GAS - unicode14.check_gas(w, "isalnum") == 4 * one
    for name in ("islower", "isupper", "istitle"):
        assert _method_gas(w, name) - METHOD_GAS - unicode14.check_gas(w, name) == 2 * one
    b = b"a" * 999_999
    assert _method_gas(b, "isalnum") == _method_gas(b, "isdigit") == METHOD_GAS + one


_OUTPUT = """
def f(ctx, how, k):
    s = "a" * 1_000_000
    if how == "put":
        ctx.put("k", [s] * k)
    elif how == "emit":
        ctx.emit("E", v=[s] * k)
    return 0
"""


@pytest.mark.parametrize("how", ["put", "emit"])
def test_a_stored_or_emitted_value_too_big_is_refused_before_it_is_encoded(how: str) -> None:
    """`ctx.put` and `ctx.emit` encoded a value whole before refusing it as larger than a
    stored value (256 KiB) or an event (64 KiB) may be: 60 references to one 1 MB string,
    walked for ~960,000 gas, made a 60 MB encoding the meter never counted (~67 MB of peak
    for ~1 MB tracked; every such put of a transaction, one after the other). A value whose
    encoding is surely too big (the copy's size, less the most it can overcount per
    element) is now refused before it is encoded: the same error and the same gas."""
    compiled = compile_contract(_OUTPUT)
    store: dict[bytes, bytes] = {}
    meter = Meter(1_000_000)
    ctx = CallContext(
        contract="c",
        sender=admin(),
        height=1,
        time_ms=1,
        tx_hash="00",
        reader=store.get,
        gas=meter,
    )
    gc.collect()
    tracemalloc.start()
    try:
        with pytest.raises(ContractError) as info:
            compiled.call(ctx, "f", [how, 60], meter)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = (
        "stored value larger than 262144 bytes"
        if how == "put"
        else "event E is larger than 65536 bytes"
    )
    assert str(info.value) == expected
    assert meter.used == 957_098  # as before
    assert peak < 8 << 20, peak


_REVERSED = """
def f(ctx, how, n):
    d = {}
    i = 0
    while i < n:
        d[i + 1000] = i + 5000
        i += 1
    s = "\\U0001F600" * n
    r = range(10**12, 10**12 + n)
    L = []
    if how == "none":
        pass
    elif how == "zip of reversed items views":
        L = list(zip(reversed(d.items()), reversed(d.items()), reversed(d.items()), reversed(d.items())))
    elif how == "zip of reversed wide strs":
        L = list(zip(reversed(s), reversed(s), reversed(s), reversed(s)))
    elif how == "zip of reversed ranges":
        L = list(zip(reversed(r), reversed(r), reversed(r), reversed(r)))
    elif how == "zip of six reversed wide strs":
        L = list(zip(reversed(s), reversed(s), reversed(s), reversed(s), reversed(s), reversed(s)))
    else:
        L = list(enumerate(reversed(s)))
    return len(L)
"""


@pytest.mark.parametrize(
    "how",
    [
        "zip of reversed items views",
        "zip of reversed wide strs",
        "zip of reversed ranges",
        "zip of six reversed wide strs",
        "enumerate of a reversed wide str",
    ],
)
def test_zips_over_reversed_fresh_iterables_count_their_fresh_items(how: str) -> None:
    """`reversed()` of a dict's items, of a str or of a range makes a fresh pair,
    character or integer per item, as iterating them forward does; but a zip or enumerate
    over the reversed iterator counted its items as flat: four reversed items views
    zipped and kept held ~2.1x the bytes tracked, four reversed wide strs ~2.8x. A
    reversed iterator of those now counts as making fresh items (`iterables.FRESH_ITEMS`)."""
    n = 20_000
    base_peak, base_tracked = peak_and_tracked(_REVERSED, "none", n)
    peak, tracked = peak_and_tracked(_REVERSED, how, n)
    added_peak, added_tracked = peak - base_peak, tracked - base_tracked
    assert added_peak <= added_tracked, (added_peak, added_tracked)


_SMALL_STACKS = r"""
import threading
threading.stack_size(256 * 1024)  # a host whose threads get small stacks (musl: 128 KiB)
from tianfu.execution.sandbox import ContractRejected, compile_contract
try:
    compile_contract("x = " + "-" * 250_000 + "1")
except ContractRejected as exc:
    print("rejected:", exc)
"""


def test_compiling_a_deeply_nested_source_does_not_depend_on_the_hosts_thread_stacks() -> None:
    """Parsing recurses in C as deep as the source nests (250,000 unary minus signs in a
    256 KB source: ~700 KB of C stack before the parser's own limit refuses it), on a
    thread whose stack was the host's default for new threads: 8 MiB here, but 128 KiB
    under musl, or whatever `threading.stack_size` the process set. With 256 KiB the node
    crashed (SIGSEGV) compiling a proposed source, in a block every node re-executes. The
    compile thread now has a stack of its own size (`sandbox.COMPILE_STACK_BYTES`)."""
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-c", _SMALL_STACKS],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
    # the refusal of a source nested too deep reads alike on every version (ADR 0042)
    assert done.stdout.strip() == "rejected: code nested more than 200 levels deep"


_BIG = (1 << 4095) - 1


def test_an_exception_made_of_a_big_integer_pays_its_decimal_conversion() -> None:
    """`ValueError(x)`, `assert False, x` or `KeyError` of a missing key `x` caught `as e`
    make their message `repr(x)`: for a 4,096-bit integer a decimal conversion quadratic in
    its limbs (what `str(x)` pays ~290 gas for), made for the 4 gas of the exception's
    memory: ~60x a plain loop's CPU per gas, `e = ValueError(x)` in a loop. Each now pays
    the conversion as `str(x)` does."""
    conversion = int_str_gas(_BIG.bit_length())  # what `str(x)` pays for it
    assert conversion > 200
    rt = Runtime(10**9)
    before = rt.m.left
    rt.exc(ValueError, _BIG)
    assert before - rt.m.left >= conversion
    before = rt.m.left
    rt.exc(AssertionError, -_BIG)
    assert before - rt.m.left >= conversion
    before = rt.m.left
    rt.caught(KeyError(_BIG))
    assert before - rt.m.left >= conversion


def test_an_exception_made_of_a_small_value_pays_as_before() -> None:
    """Messages of text and of integers within 64 bits pay what they did (pinned)."""
    rt = Runtime(10**9)
    gas = []
    for args in [("abc",), (5,), ((1 << 64) - 1,), ("a" * 1000,), ()]:
        before = rt.m.left
        rt.exc(ValueError, *args)
        gas.append(before - rt.m.left)
    assert gas == [1, 1, 1, 4, 1]


@pytest.mark.parametrize(
    ("what", "count"),
    [("a repetition", 2 * _BIG), ("bytes()", _BIG), ("padding", _BIG)],
)
def test_a_refused_count_beyond_64_bits_pays_the_conversion_of_its_message(
    what: str, count: int
) -> None:
    """A repetition (`'ab' * x`), `bytes(x)` or a padding width (`s.ljust(x)`) past the
    sequence cap is refused with the count in its message: for a 4,096-bit count a decimal
    conversion made for no gas (caught in a loop, ~13-15x a plain loop's CPU per gas). It
    is now charged as `str(n)` charges it; the message is the same."""
    rt = Runtime(10**9)
    before = rt.m.left
    with pytest.raises(ContractError) as info:
        if what == "a repetition":
            rt.mul("ab", _BIG)
        elif what == "bytes()":
            rt.b_bytes(_BIG)
        else:
            rt.getattr("a", "ljust")(_BIG)
    assert str(info.value) == f"{what} would have {count} elements; the limit is 1000000"
    assert before - rt.m.left >= int_str_gas(count.bit_length())
