"""Regression tests of the contract-safety findings: each attack that once split, halted or
stalled the chain, or made its outcome depend on the host, tried against the sandbox.

Written against the sandbox's stable surface (`compile_contract`, `call`, receipts of a real
chain), so that each one also runs against the code before the fix and fails there.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_sandbox import FakeContext, admin, body

from tianfu.api.service import NotFound, QueryFailed
from tianfu.codec import encode
from tianfu.execution.contract_api import ContractError, OutOfGas
from tianfu.execution.sandbox import ContractRejected, compile_contract
from tianfu.testing.appchain import AppChain

GAS = 1_000_000


def call(source: str, *args: Any, gas: int = GAS, method: str = "f") -> tuple[str, Any, int]:
    """("ok", result, gas) or ("failed", message, gas) of one sandboxed call."""
    compiled = compile_contract(source)
    try:
        result, used = compiled.call(FakeContext(admin()), method, list(args), gas)
    except ContractError as exc:
        return ("failed", str(exc), exc.gas_used)  # type: ignore[attr-defined]
    return ("ok", result, used)


# -- finding 1: nothing a contract sees depends on object identity -----------------------------


@pytest.mark.parametrize(
    "expr",
    ["a is b", "a is not b", "a is 'k'", "'k' is not a", "a is 1", "a is ()", "a is ctx"],
)
def test_is_is_refused_except_against_none_true_false(expr: str) -> None:
    with pytest.raises(ContractRejected, match="'is' compares object identity"):
        compile_contract(f"def f(ctx, a, b):\n    return {expr}\n")


@pytest.mark.parametrize("expr", ["a is None", "None is not a", "a is True", "b is not False"])
def test_is_against_none_true_false_still_works(expr: str) -> None:
    source = f"def f(ctx, a, b):\n    return {expr}\n"
    for a, b in [(None, False), (True, True), (1, 0)]:
        assert call(source, a, b)[1] == eval(expr, {"a": a, "b": b})  # noqa: S307 - the oracle


def test_decoded_keys_share_identity_by_process_history_so_is_must_stay_refused() -> None:
    """Why: msgspec keeps a process-wide cache of short dict keys, so whether two decodes of
    one stored dict give the same key object depends on what else the process decoded."""
    import msgspec

    raw = encode({"key": 1})
    k1 = next(iter(msgspec.msgpack.decode(raw)))
    k2 = next(iter(msgspec.msgpack.decode(raw)))
    fresh = next(iter({"".join(["k", "ey"]): 1}))
    assert k1 == k2 == fresh and fresh is not k1  # equal values, different identities
    source = "def f(ctx):\n    return [k for k in ctx.get('d')][0] is 'key'\n"
    with pytest.raises(ContractRejected):
        compile_contract(source)


@pytest.mark.parametrize(
    "expr",
    [
        "g == g",
        "g != h",
        "[g] == [g]",
        "g in [g]",
        "(g,) in {(g,): 1}",
        "sorted([g, h])",
        "max([g, h])",
        "ctx == ctx",
        "[1].index(g)",
        "{'k': g} == {'k': g}",
    ],
)
def test_comparing_functions_or_host_objects_is_refused(expr: str) -> None:
    """Python compares functions, iterators, exceptions and host objects by identity."""
    status, message, _ = call(body(f"g = lambda: 1\nh = lambda: 2\nreturn {expr}"))
    assert status == "failed" and message.startswith("TypeError: "), message


def test_interpreter_messages_are_the_sandboxes_own() -> None:
    """Python words these differently between versions (3.12: 'division by zero' vs
    'integer division or modulo by zero', 'cannot access local variable' vs 'local variable
    ... referenced before assignment'): receipts and str(e) use one fixed wording."""
    assert call(body("return 1 // 0"))[1] == "ZeroDivisionError: division by zero"
    assert call(body("return 1 % 0"))[1] == "ZeroDivisionError: division by zero"
    assert call(body("return divmod(1, 0)"))[1] == "ZeroDivisionError: division by zero"
    assert call("def f(ctx, n):\n    if n:\n        c = 1\n    return c\n", 0)[1] == (
        "UnboundLocalError: local variable referenced before assignment"
    )
    caught = body("try:\n    1 // 0\nexcept ZeroDivisionError as e:\n    return str(e)")
    assert call(caught)[1] == "division by zero"
    assert call(body("return [1, 2][5]"))[1] == "IndexError: index out of range"
    assert call(body("return 1 + 'a'"))[1] == (
        "TypeError: unsupported operand types for +: int and str"
    )


def test_failure_messages_are_bounded_and_never_show_addresses() -> None:
    status, message, _ = call(body("g = lambda: 1\nraise ContractError([g] * 1000)"))
    assert status == "failed" and "0x" not in message and len(message) <= 1003
    status, message, _ = call(body("raise ValueError('x' * 10**6)"))
    assert status == "failed" and len(message) <= 1100
    key = body("d = {}\nreturn d['k' * 500_000]")
    status, message, _ = call(key)
    assert message.startswith("KeyError: 'kkkk") and len(message) <= 1100


# -- finding 2: gas bounds bytes; nothing an output holds is uncharged ------------------------


def test_a_return_value_of_shared_references_is_charged_by_its_bytes() -> None:
    """R references to one 1 MB string encode to R MB: ~17k gas once made a 1 GB receipt."""
    source = body("s = 'x' * 10**6\nreturn [s] * 1000")
    status, message, used = call(source, gas=10**7)
    assert status == "failed"
    assert "return value larger than" in message or "out of gas" in message
    small = call(body("s = 'x' * 100_000\nreturn [s, s]"), gas=10**7)
    assert small[0] == "ok" and small[2] >= 2 * 100_000  # every byte of the receipt paid


def test_event_names_are_limited_and_charged() -> None:
    source = body("n = 'E' * 10**6\nfor i in range(256):\n    ctx.emit(n, i=i)")
    status, message, _ = call(source, gas=10**7)
    assert status == "failed" and "event name" in message
    compiled = compile_contract(body("ctx.emit('E' * 60)"))
    ctx = FakeContext(admin())
    _, long_name = compiled.call(ctx, "f", [], GAS)
    _, short_name = compile_contract(body("ctx.emit('E')")).call(FakeContext(admin()), "f", [], GAS)
    assert long_name > short_name


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Any:
    c = AppChain(tmp_path_factory.mktemp("findings"))
    c.deploy("attacks", ATTACKS)
    yield c
    c.close()


ATTACKS = """
def refs(ctx, n):
    s = "x" * 1_000_000
    return [s] * n

def events(ctx, n):
    for i in range(n):
        ctx.emit("E", v="x" * 60_000)

def names(ctx):
    for i in range(256):
        ctx.emit("E" * 1_000_000)

def spin(ctx):
    while True:
        pass

def writes(ctx, n):
    for i in range(n):
        ctx.put("k" + str(i), "x" * 200_000)

def deep(ctx, n):
    a = [1]
    b = [1]
    for i in range(n):
        a = [a]
        b = [b]
    return a == b

@view
def deep_view(ctx, n):
    return deep(ctx, n)

def message(ctx):
    s = "x" * 1_000_000
    raise ContractError([s] * 1400)
"""


def test_oversized_outputs_fail_with_a_receipt_of_bounded_size(chain: AppChain) -> None:
    user = chain.admin("org1")
    for method, args, words in [
        ("refs", (1000,), ("larger than", "out of gas")),
        ("events", (100,), ("larger than", "out of gas")),
        ("names", (), ("event name",)),
        ("writes", (30,), ("writes more than", "out of gas")),
        ("message", (), ()),
    ]:
        receipt = chain.call(user, "attacks", method, *args)
        assert not receipt.ok, method
        assert any(w in receipt.error for w in words) or not words, (method, receipt.error)
        assert len(encode(receipt)) < 4096, method
    assert chain.ledger.height > 0  # the chain committed every one of them


def test_the_bytes_a_transaction_writes_and_emits_are_capped() -> None:
    """With any gas limit (governance may raise it), a transaction's writes and receipt
    stay within the per-transaction caps."""
    from tianfu.execution.context import CallContext
    from tianfu.execution.limits import MAX_RECEIPT_BYTES, MAX_TX_WRITE_BYTES
    from tianfu.execution.meter import Meter

    def run(code: str) -> tuple[str, CallContext]:
        ctx = CallContext(
            contract="c",
            sender=admin(),
            height=1,
            time_ms=1,
            tx_hash="00",
            reader=lambda k: None,
            gas=Meter(10**9),
        )
        try:
            compile_contract(body(code)).call(ctx, "f", [], ctx.meter)
        except ContractError as exc:
            return str(exc), ctx
        return "ok", ctx

    message, ctx = run("for i in range(100):\n    ctx.put('k' + str(i), 'x' * 200_000)")
    assert "writes more than" in message and ctx.written <= MAX_TX_WRITE_BYTES
    message, ctx = run("for i in range(100):\n    ctx.emit('E', v='x' * 60_000)")
    assert "receipt would be larger" in message and ctx.receipt_bytes <= MAX_RECEIPT_BYTES


# -- finding 3: memory is bounded by tracked sizes, never by the host --------------------------


def peak(fn: Any) -> tuple[Any, int]:
    """`fn()` and the peak bytes the interpreter allocated while it ran."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_building_text_from_shared_references_is_refused_before_it_is_built() -> None:
    """`str()` of 1000 references to a 1 MB string would be 1 GB: refused by its size,
    computed before anything is built."""
    source = body("s = 'x' * 10**6\nreturn len(str([s] * 1000))")
    (status, message, _), allocated = peak(lambda: call(source, gas=10**9))
    assert status == "failed" and "limit is 1000000" in message
    assert allocated < 50 << 20


def test_an_error_message_over_huge_values_is_bounded() -> None:
    """Building the message of an error over 1,400 references to a 1 MB string raised
    MemoryError in the sandbox's error path on a small node, and not on a big one."""
    source = body("s = 'x' * 10**6\nraise ContractError([s] * 1400)")
    (status, message, _), allocated = peak(lambda: call(source, gas=10**7))
    assert status == "failed" and message.startswith("['xxxx") and len(message) <= 1003
    assert allocated < 50 << 20


def test_tracked_memory_is_capped_whatever_the_gas() -> None:
    source = body("keep = []\nwhile True:\n    keep.append('x' * 900_000 + str(len(keep)))")
    status, message, used = call(source, gas=10**9)
    assert status == "failed" and "memory limit exceeded" in message
    assert used < 10**9  # the memory cap, not the gas, ended it
    assert call(source, gas=10**9) == (status, message, used)


def test_small_objects_kept_in_containers_are_counted() -> None:
    """One tick per item, but every item kept costs memory: a loop keeping a fresh tuple
    per iteration (each holding the previous) cannot grow past the memory cap."""
    chain_of_tuples = body("t = ()\nwhile True:\n    t = (t, t, t, t, t, t, t, t, t, t)")
    status, message, _ = call(chain_of_tuples, gas=10**9)
    assert status == "failed" and "memory limit exceeded" in message
    appends = body("L = []\nwhile True:\n    L.append([])")
    assert "memory limit exceeded" in call(appends, gas=10**9)[1]


# -- finding 4: gas bounds CPU: every operation is charged by the work it does ---------------


def op_gas(setup: str, op: str) -> int:
    """The gas of `op` alone: a call running `setup` then `op`, less one running `setup`."""
    with_op = call(body(f"{setup}\nz = {op}\nreturn 0"), gas=10**9)
    without = call(body(f"{setup}\nz = 0\nreturn 0"), gas=10**9)
    assert with_op[0] == "ok" and without[0] == "ok", (with_op, without)
    return with_op[2] - without[2]


@pytest.mark.parametrize(
    "setup, op, at_least",
    [
        ("r = range(10**6)", "'a' in r", 10**6 // 4),
        ("L = ['a' * 100] * 10**5", "'b' * 100 in reversed(L)", 10**5),
        ("d = {str(i): 'a' * 64 for i in range(10**5)}", "'b' * 64 in d.values()", 10**5),
        ("s = 'a' * 29_999\nt = 'a' * 98 + 'b'", "t in s", 29_999 * 98 // 512),
        ("s = 'a' * 29_999\nt = 'b' + 'a' * 2000", "s.rfind(t)", 29_999 * 2001 // 512),
        ("x = (1 << 4095) - 1\nm = (1 << 4095) - 3", "pow(x, x, m)", 4095 * 137),
        ("L = list(range(10**5, 0, -1))", "sorted(L)", 10**5 * 17 // 16),
        ("a = [1]\nb = [1]\nfor _ in range(20):\n    a = [a, a]\n    b = [b, b]", "a == b", 2**20),
        ("t = (1,)\nfor _ in range(20):\n    t = (t, t)\nd = {}", "t in d", 2**20),
        ("t = (1,)\nfor _ in range(20):\n    t = (t, t)\nd = {}", "d.get(t)", 2**20),
        ("s = '9' * 1200", "int(s)", 1200 * 1200 // 4096),
        (
            "s = 'x' * 1000\nL = [s + str(i) for i in range(1000)]\nt = s + '999'",
            "L.index(t)",
            1000 * 15,
        ),
        ("s = 'a' * 999_000", "s.upper()", 999_000 // 64),
        ("L = [0] * 10**6", "[*L, *L]", 2 * 10**6 // 16),
        ("d = {str(i): i for i in range(10**5)}", "{**d, **d}", 2 * 10**5 // 16),
        ("s = 'x' * 900_000", "f'{s}{s}'", 2 * 900_000 // 64),
    ],
)
def test_work_that_grows_with_operand_size_is_charged_for_it(
    setup: str, op: str, at_least: int
) -> None:
    assert op_gas(setup, op) >= at_least


def test_case_mappings_that_expand_unicode_are_checked_before_running() -> None:
    """`'ﬃ'.upper()` is 'FFI': a 999,999-character string would become ~3 million."""
    status, message, _ = call(body("return len(('\\ufb03' * 999_999).upper())"), gas=10**8)
    assert status == "failed" and "non-ASCII" in message
    assert call(body("return len(('\\ufb03' * 1000).upper())"))[1] == 3000


@pytest.mark.parametrize(
    "setup, statement, at_least",
    [
        ("L = [0] * 10**5\ndef g(*a):\n    return 0", "g(*L, *L)", 2 * 10**5 // 16),
        ("L = [0] * 10**6", "a, *b = L", 10**6 // 16),
        ("d = {str(i): i for i in range(10**5)}\ndef g(**k):\n    return 0", "g(**d)", 10**5 // 16),
    ],
)
def test_unpacking_in_calls_and_assignments_is_charged_by_size(
    setup: str, statement: str, at_least: int
) -> None:
    with_op = call(body(f"{setup}\n{statement}\nreturn 0"), gas=10**9)
    without = call(body(f"{setup}\npass\nreturn 0"), gas=10**9)
    assert with_op[0] == without[0] == "ok", (with_op, without)
    assert with_op[2] - without[2] >= at_least


# -- finding 5: accounting ----------------------------------------------------------------------


def test_an_out_of_gas_receipt_records_all_the_gas_consumed(chain: AppChain) -> None:
    receipt = chain.call(chain.admin("org1"), "attacks", "spin")
    assert not receipt.ok and "out of gas" in receipt.error
    assert receipt.gas_used == chain.ledger.params(chain.ledger.height).max_gas_per_tx


def test_deep_nesting_fails_the_same_in_a_query_and_a_transaction(chain: AppChain) -> None:
    """Comparing structures nested near the host's recursion limit used to raise
    RecursionError at a depth that differed between a query and a block (985 vs 984)."""
    user = chain.admin("org1")
    for n in (30, 100, 984, 985, 5000):
        receipt = chain.call(user, "attacks", "deep", n)
        try:
            answer: tuple[bool, Any] = (True, chain.query("attacks", "deep_view", n))
        except (QueryFailed, NotFound) as exc:  # the service's errors for a failed query
            answer = (False, str(exc))
        if receipt.ok:
            assert answer == (True, receipt.result), n
        else:
            assert not answer[0] and "nested deeper than" in receipt.error, n
            assert "nested deeper than" in answer[1], (n, answer)
    assert chain.call(user, "attacks", "deep", 30).ok


# -- finding 8: each charge is written once -----------------------------------------------------


def _execution_dir() -> Path:
    import tianfu.execution

    return Path(tianfu.execution.__file__).parent


EXECUTION = _execution_dir()


def test_no_module_but_the_meter_writes_the_meter() -> None:
    """`left -=`, `mem -=`, `used +=` appear only in meter.py (whose template the
    instrumenter inlines and the meter's methods are made from)."""
    offenders = []
    for path in sorted(EXECUTION.glob("*.py")):
        if path.name == "meter.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.AugAssign)
                and isinstance(node.target, ast.Attribute)
                and node.target.attr in {"left", "mem", "used"}
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_no_module_reaches_into_the_instances_free_list() -> None:
    for path in sorted(EXECUTION.glob("*.py")):
        if path.name != "instances.py":
            assert "._free" not in path.read_text(), path.name


def test_the_inlined_entry_is_the_meters_own_template() -> None:
    from tianfu.execution.instrument import instrument
    from tianfu.execution.meter import Meter, charge_source

    tree = instrument(ast.parse("def f(ctx):\n    return 1\n"))
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    entry = [ast.unparse(s) for s in fn.body[:-1]]
    template = ast.parse(charge_source("__tf_m", "G", None, True)).body
    assert len(entry) == len(template)
    for line, tmpl in zip(entry, template, strict=True):
        expected = ast.unparse(tmpl)
        # the gas constant is the only difference
        assert line.split("G")[0] == expected.split("G")[0] or line == expected.replace(
            "G", line.split("-= ")[-1] if "-=" in line else "G"
        )
    for name in ("charge", "alloc", "spend", "enter"):
        assert getattr(Meter, name).__code__.co_filename == f"<meter.{name}>"


def test_one_meter_charges_both_the_contract_and_its_state_access() -> None:
    from tianfu.execution.context import CallContext
    from tianfu.execution.meter import Meter

    meter = Meter(10_000)
    ctx = CallContext(
        contract="c",
        sender=admin(),
        height=1,
        time_ms=1,
        tx_hash="00",
        reader=lambda k: None,
        gas=meter,
    )
    compiled = compile_contract(body("ctx.put('k', 1)\ni = 0\nwhile i < 100:\n    i += 1"))
    _, used = compiled.call(ctx, "f", [], meter)
    assert used == meter.used and meter.used > 100 + 100  # the loop and the write
    with pytest.raises(OutOfGas) as info:
        compiled.call(ctx, "f", [], Meter(150))
    assert info.value.gas_used == 150  # type: ignore[attr-defined]


def test_the_hosts_memory_error_never_becomes_a_receipt(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the host runs out of memory (or stack) depends on the host: a node must
    not record an outcome from it. The block fails on that node instead."""
    from tianfu.execution import runtime as g
    from tianfu.execution.errors import HostResourceError

    user = chain.admin("org1")
    tx = chain.sign(user, "attacks", "deep", 3)
    ledger = chain.ledger
    head = ledger.head()
    assert head is not None

    def exhausted(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError

    monkeypatch.setattr(g, "measure", exhausted)  # what comparing two lists walks first
    with pytest.raises(HostResourceError):
        ledger.build_block([tx], chain.genesis.validators[0].public_key)
    with pytest.raises(QueryFailed, match="ran out of the node's memory or stack"):
        chain.query("attacks", "deep_view", 3)


def test_the_deepest_contract_stack_stays_far_below_the_recursion_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deepest stack contract code can build (every call inside the most nested
    comprehensions, through a sort key, down to a compare) is a few hundred frames: Python's
    RecursionError (at 1000, whatever the host's stack) is never what stops a contract."""
    import sys

    from tianfu.execution import runtime as g
    from tianfu.execution.sandbox import MAX_CONTRACT_FRAMES

    deepest = [0]
    original = g.Runtime.eq

    def eq(self: Any, a: Any, b: Any) -> Any:
        frame, n = sys._getframe(), 0
        while frame is not None:
            n, frame = n + 1, frame.f_back
        deepest[0] = max(deepest[0], n)
        return original(self, a, b)

    monkeypatch.setattr(g.Runtime, "eq", eq)
    source = (
        "def r(n):\n"
        "    if n <= 0:\n"
        "        return 1 if [[1]] == [[1]] else 0\n"
        "    return sum([[[sorted([0], key=lambda v: r(n - 2))[0] for a in [1]] for b in [1]]"
        " for c in [1]][0][0])\n"
        "def f(ctx, n):\n"
        "    return r(n)\n"
    )
    base, frame = 0, sys._getframe()
    while frame is not None:
        base, frame = base + 1, frame.f_back
    assert call(source, 62, gas=10**8)[0] == "ok"
    assert 200 < deepest[0] - base <= MAX_CONTRACT_FRAMES
    assert "maximum call depth" in call(source, 64, gas=10**8)[1]


def test_deleting_from_the_front_of_a_list_is_charged_by_its_length() -> None:
    assert op_gas("L = [0] * 10**6", "L.pop(0)") >= 10**6 // 16
    with_del = call(body("L = [0] * 10**6\ndel L[0]\nreturn 0"), gas=10**9)
    without = call(body("L = [0] * 10**6\nL[0] = 1\nreturn 0"), gas=10**9)
    assert with_del[2] - without[2] >= 10**6 // 16 - 8  # (the statements weigh a little apart)


def test_lambdas_cannot_collect_their_arguments() -> None:
    """A lambda's `*args` tuple would be kept without being counted: write a def."""
    with pytest.raises(ContractRejected, match="lambdas cannot take"):
        compile_contract(body("f = lambda *a: a\nreturn f(1)"))


def test_any_and_all_stop_at_the_first_answer() -> None:
    source = body(
        "seen = []\n"
        "a = any(seen.append(i) or i == 2 for i in range(10))\n"
        "b = all(seen.append(i) or i < 1 for i in range(10))\n"
        "return [a, b, seen]"
    )
    assert call(source)[1] == [True, False, [0, 1, 2, 0, 1]]
