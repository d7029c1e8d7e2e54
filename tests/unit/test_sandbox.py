"""Tests of the contract sandbox: the asset contract, escapes refused at compile time,
runtime failures as ContractError, deterministic gas and resource caps."""

from __future__ import annotations

import hashlib
import tracemalloc
from typing import Any

import pytest

from tianfu.codec import hash_domain
from tianfu.contracts.examples import example_source
from tianfu.execution.contract_api import Caller, ContractError, OutOfGas
from tianfu.execution.sandbox import CompiledContract, ContractRejected, compile_contract

ALICE = "a" * 40
BOB = "b" * 40
GAS = 100_000


class FakeContext:
    """A dict-backed Context, enough to unit-test a contract."""

    def __init__(self, sender: Caller, state: dict[str, Any] | None = None) -> None:
        self.contract = "test"
        self.sender = sender
        self.height = 7
        self.time_ms = 1_700_000_000_000
        self.tx_hash = "ab" * 32
        self.state: dict[str, Any] = {} if state is None else state
        self.events: list[tuple[str, dict[str, Any]]] = []

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.state

    def put(self, key: str, value: Any) -> None:
        self.state[key] = value

    def delete(self, key: str) -> None:
        self.state.pop(key, None)

    def emit(self, name: str, **data: Any) -> None:
        self.events.append((name, data))

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise ContractError(message)

    def require_role(self, role: str) -> None:
        if not self.sender.has_role(role):
            raise ContractError(f"lacks role {role!r}")

    def has_role(self, role: str) -> bool:
        return self.sender.has_role(role)

    def sha256(self, data: bytes | str) -> str:
        return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()

    def read(self, contract: str, key: str, default: Any = None) -> Any:
        return default


def admin() -> Caller:
    return Caller(ALICE, "org1", "alice", "admin")


def member(address: str = BOB, roles: frozenset[str] = frozenset()) -> Caller:
    return Caller(address, "org2", "bob", "member", roles)


def run(source: str, method: str = "f", *args: Any, gas: int = GAS, ctx: Any = None) -> Any:
    compiled = compile_contract(source)
    result, _ = compiled.call(ctx or FakeContext(admin()), method, list(args), gas)
    return result


def fails(source: str, method: str = "f", *args: Any, gas: int = GAS) -> ContractError:
    compiled = compile_contract(source)
    with pytest.raises(ContractError) as info:
        compiled.call(FakeContext(admin()), method, list(args), gas)
    return info.value


def body(code: str) -> str:
    """A contract whose method f(ctx) runs `code`."""
    lines = "\n".join("    " + line for line in code.splitlines())
    return f"def f(ctx):\n{lines}\n"


# -- the asset contract -------------------------------------------------------------------


@pytest.fixture(scope="module")
def asset() -> CompiledContract:
    return compile_contract(example_source("asset"))


def test_asset_compiles_with_methods_and_views(asset: CompiledContract) -> None:
    assert {"mint", "transfer", "burn", "approve", "transfer_from"} <= asset.methods
    assert asset.views == {"balance", "allowance", "total_supply", "info"}
    assert asset.views <= asset.methods
    assert not any(m.startswith("_") for m in asset.methods)
    source = example_source("asset")
    assert asset.source_hash == hash_domain("tianfu/contract/source/v1", source.encode())


def test_asset_mint_transfer_balance(asset: CompiledContract) -> None:
    ctx = FakeContext(admin())
    supply, used = asset.call(ctx, "mint", [ALICE, 100], GAS)
    assert supply == 100 and used > 0
    assert ctx.events == [("Minted", {"to": ALICE, "amount": 100})]
    assert asset.call(ctx, "transfer", [BOB, 30], GAS)[0] is True
    assert ctx.state == {"bal:" + ALICE: 70, "bal:" + BOB: 30, "supply": 100}
    assert asset.call(ctx, "balance", [BOB], GAS)[0] == 30
    assert asset.call(ctx, "total_supply", [], GAS)[0] == 100
    assert asset.call(ctx, "info", [], GAS)[0]["symbol"] == "TFA"


def test_asset_refuses_bad_calls(asset: CompiledContract) -> None:
    state: dict[str, Any] = {}
    with pytest.raises(ContractError, match="only a minter or an admin"):
        asset.call(FakeContext(member(), state), "mint", [BOB, 5], GAS)
    minter = FakeContext(member(roles=frozenset({"minter"})), state)
    asset.call(minter, "mint", [BOB, 5], GAS)
    with pytest.raises(ContractError, match="insufficient balance: 5 < 6"):
        asset.call(minter, "transfer", [ALICE, 6], GAS)
    with pytest.raises(ContractError, match="positive integer"):
        asset.call(minter, "transfer", [ALICE, -1], GAS)
    with pytest.raises(ContractError, match="positive integer"):
        asset.call(minter, "transfer", [ALICE, True], GAS)
    assert state == {"bal:" + BOB: 5, "supply": 5}


def test_asset_allowance_flow(asset: CompiledContract) -> None:
    state: dict[str, Any] = {}
    asset.call(FakeContext(admin(), state), "mint", [ALICE, 50], GAS)
    asset.call(FakeContext(admin(), state), "approve", [BOB, 20], GAS)
    spender = FakeContext(member(), state)
    asset.call(spender, "transfer_from", [ALICE, BOB, 15], GAS)
    with pytest.raises(ContractError, match="allowance too small: 5 < 6"):
        asset.call(spender, "transfer_from", [ALICE, BOB, 6], GAS)
    assert asset.call(spender, "allowance", [ALICE, BOB], GAS)[0] == 5
    assert state["bal:" + BOB] == 15 and state["bal:" + ALICE] == 35


# -- refused at compile time --------------------------------------------------------------

ESCAPES = {
    "import os": ("import os\ndef f(ctx):\n    return 1\n", "import is not allowed"),
    "from import": ("from os import path\ndef f(ctx):\n    return 1\n", "import is not allowed"),
    "import in body": (body("import os\nreturn 1"), "line 2: import is not allowed"),
    "open": (body("return open('x')"), "'open' is not allowed"),
    "__import__": (body("return __import__('os')"), "'__import__' is not allowed"),
    "eval": (body("return eval('1')"), "'eval' is not allowed"),
    "exec": (body("exec('x=1')"), "'exec' is not allowed"),
    "subclasses": (
        body("return ().__class__.__base__.__subclasses__()"),
        "attribute '__subclasses__' is not allowed",
    ),
    "getattr": (body("return getattr(ctx, '_x')"), "'getattr' is not allowed"),
    "str.format": (body('return "{0.__class__}".format(1)'), "attribute 'format' is not allowed"),
    "float literal": (body("return 1.5"), "float literals are not allowed"),
    "true division": (body("return 3 / 2"), "use integer division '//'"),
    "augmented division": (body("x = 3\nx /= 2"), "use integer division '//'"),
    "set literal": (body("return {1, 2}"), "set literals are not allowed"),
    "set comprehension": (body("return {x for x in [1]}"), "set comprehensions are not allowed"),
    "set builtin": (body("return set()"), "'set' is not allowed"),
    "class": ("class X:\n    pass\ndef f(ctx):\n    return 1\n", "line 1: class definitions"),
    "global": (body("global x\nx = 1"), "line 2: 'global' is not allowed"),
    "nonlocal": (body("x = 1\ndef g():\n    nonlocal x\n    x = 2"), "'nonlocal' is not allowed"),
    "yield": (body("yield 1"), "generators ('yield') are not allowed"),
    "async": ("async def f(ctx):\n    return 1\n", "async functions are not allowed"),
    "with": (body("with ctx:\n    pass"), "'with' is not allowed"),
    "dunder name": (body("return __builtins__"), "must not start with '__'"),
    "helper name": (body("__tf_tick = None"), "must not start with '__'"),
    "private attr": (body("return ctx._ctx"), "attribute '_ctx' is not allowed"),
    "frame attr": (body("g = (x for x in [1])\nreturn g.gi_frame"), "attribute 'gi_frame'"),
    "type": (body("return type(ctx)"), "'type' is not allowed"),
    "float builtin": (body("return float('1')"), "'float' is not allowed"),
    "print": (body("print(1)"), "'print' is not allowed"),
    "decorator": ("def d(f):\n    return f\n@d\ndef f(ctx):\n    return 1\n", "only decorator"),
    "bare except": (body("try:\n    pass\nexcept:\n    pass"), "bare 'except:' is not allowed"),
    "except Exception": (
        body("try:\n    pass\nexcept Exception:\n    pass"),
        "may only catch ArithmeticError",
    ),
    "attribute store": (body("ctx.height = 1"), "assigning or deleting attributes"),
    "slice store": (body("x = [1]\nx[0:1] = x"), "slice assignment is not allowed"),
    "rebind builtin": (body("len = 5"), "cannot rebind the builtin name 'len'"),
    "format spec": (body("x = 1\nreturn f'{x:>1000000000}'"), "format specs are not allowed"),
    "match": (body("match 1:\n    case 1:\n        pass"), "'match' statements are not allowed"),
    "module loop": ("for i in range(3):\n    pass\ndef f(ctx):\n    return 1\n", "module level"),
    "duplicate def": ("def f(ctx):\n    return 1\ndef f(ctx):\n    return 2\n", "defined twice"),
    "no ctx": ("def f():\n    return 1\n", "must take ctx"),
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escape_attempts_are_rejected_at_compile_time(name: str) -> None:
    source, message = ESCAPES[name]
    with pytest.raises(ContractRejected) as info:
        compile_contract(source)
    assert message in str(info.value)
    assert str(info.value).startswith("line ")


def test_a_syntax_error_is_refused_with_fixed_text() -> None:
    """CPython's messages and lines for syntax errors differ between versions; the refusal
    is a receipt's error (tests/unit/test_cross_python_rules.py)."""
    with pytest.raises(ContractRejected) as info:
        compile_contract("def f(ctx)\n    return 1\n")
    assert str(info.value) == "syntax error"


def test_source_size_limit() -> None:
    source = body("return 1") + "#" * 2000
    compile_contract(source, max_source_bytes=4000)
    with pytest.raises(ContractRejected, match="limit is 1000"):
        compile_contract(source, max_source_bytes=1000)


def test_deeply_nested_source_is_rejected() -> None:
    with pytest.raises(ContractRejected, match="nested more than"):
        compile_contract(body("return " + "+".join(["1"] * 1000)))


def test_allowed_features_compile_and_run() -> None:
    source = '''"""doc"""
LIMIT = 3
PAIRS = (("a", 1), ("b", 2))

def _double(x: int) -> int:
    return x * 2

def f(ctx, n: int, *rest, k=1):
    sq = lambda v: v * v
    total = 0
    for i in range(n):
        total += _double(i)
    d = {key: val for key, val in PAIRS}
    d["a"] += 10
    evens = [i for i in range(10) if i % 2 == 0]
    try:
        {}["missing"]
    except KeyError as e:
        msg = str(e)
    s = "x" * LIMIT + f"{n}-{d}" + str(b"\\x01") + hex(255)
    ok = 0 < n <= 10 and "x" in s and not (n is None)
    return [total, sq(n), d, evens[-2:], msg, s, ok, len(rest), k, sorted([3, 1, 2], reverse=True),
            sum(x for x in evens), max(evens), min(3, 4), any([]), all([1]), divmod(7, 2), 2 ** 10,
            ", ".join(["a", "b"]), "a-b".split("-"), (1).to_bytes(2, "big"), int("12"), ctx.height,
            ctx.sender.org, ctx.sender.roles, ctx.sha256("x")[:8], isinstance(n, int),
            isinstance("s", (int, str)), list(enumerate("ab")), dict(zip(["a"], [1]))]
'''
    result = run(source, "f", 4, 9)
    assert result == [
        12, 16, {"a": 11, "b": 2}, [6, 8], "'missing'", "xxx4-{'a': 11, 'b': 2}b'\\x01'0xff", True,
        1, 1, [3, 2, 1], 20, 8, 3, False, True, (3, 1), 1024, "a, b", ["a", "b"], b"\x00\x01", 12,
        7, "org1", (), hashlib.sha256(b"x").hexdigest()[:8], True, True, [(0, "a"), (1, "b")],
        {"a": 1},
    ]  # fmt: skip


def test_private_helpers_may_start_with_one_underscore() -> None:
    compiled = compile_contract(
        "def _helper(ctx):\n    return 1\ndef f(ctx):\n    return _helper(ctx)\n"
    )
    assert compiled.methods == {"f"}
    assert compiled.call(FakeContext(admin()), "f", [], GAS)[0] == 1


# -- runtime failures ---------------------------------------------------------------------


def test_runtime_errors_become_contract_errors() -> None:
    assert str(fails(body("return 1 // 0"))).startswith("ZeroDivisionError: ")
    assert str(fails(body("return {}['k']"))) == "KeyError: 'k'"
    assert str(fails(body("return [1][5]"))).startswith("IndexError: ")
    assert str(fails(body("return 1 + 'a'"))).startswith("TypeError: ")
    assert str(fails(body("return int('x')"))).startswith("ValueError: ")
    assert str(fails(body("raise ContractError('nope')"))) == "nope"
    assert str(fails(body("assert 1 == 2, 'bad'"))) == "AssertionError: bad"
    assert "no attribute 'upper' available" in str(fails(body("return (1).upper()")))
    assert "no attribute 'state'" in str(fails(body("return ctx.state")))


def test_method_lookup_and_arity() -> None:
    source = "def _helper(ctx):\n    return 1\ndef f(ctx, a, b=2):\n    return a + b\n"
    assert str(fails(source, "g")) == "unknown method 'g'"
    assert str(fails(source, "_helper")) == "unknown method '_helper'"
    assert str(fails(source, "f")) == "method f(a, b) takes 1 to 2 argument(s), got 0"
    assert "got 3" in str(fails(source, "f", 1, 2, 3))
    assert run(source, "f", 1) == 3


def test_bad_return_values_and_arguments() -> None:
    assert "not a contract value" in str(fails(body("return lambda: 1")))
    assert "dict keys must be str" in str(fails(body("return {1: 2}")))
    assert "out of range" in str(fails(body("return 2 ** 300")))
    assert "not a contract value" in str(fails(body("return ctx")))
    with pytest.raises(ContractError, match="floats"):
        compile_contract("def f(ctx, x):\n    return x\n").call(
            FakeContext(admin()), "f", [1.5], GAS
        )


def test_messages_hold_no_memory_addresses() -> None:
    err = fails(body("g = lambda: 1\nraise ContractError(g)"))
    assert " at 0x" not in str(err) and "function" in str(err)
    assert "cannot convert function to str" in str(fails(body("g = lambda: 1\nreturn f'{g}'")))


def test_arguments_are_copied_not_shared() -> None:
    arg = [1, [2]]
    run("def f(ctx, a):\n    a.append(3)\n    a[1].append(4)\n    return a\n", "f", arg)
    assert arg == [1, [2]]


def test_stored_values_cannot_be_mutated_afterwards() -> None:
    ctx = FakeContext(admin())
    run(body("x = [1]\nctx.put('k', x)\nx.append(2)"), ctx=ctx)
    assert ctx.state == {"k": [1]}


def test_sender_roles_are_a_sorted_tuple() -> None:
    ctx = FakeContext(member(roles=frozenset({"zeta", "alpha", "mid"})))
    assert run(body("return [r for r in ctx.sender.roles]"), ctx=ctx) == ["alpha", "mid", "zeta"]


def test_module_globals_do_not_leak_between_calls() -> None:
    compiled = compile_contract(
        "SEEN = []\ndef f(ctx):\n    SEEN.append(1)\n    return len(SEEN)\n"
    )
    ctx = FakeContext(admin())
    assert [compiled.call(ctx, "f", [], GAS)[0] for _ in range(3)] == [1, 1, 1]


def test_dict_views_cannot_make_sets() -> None:
    assert "only for integers" in str(fails(body("return {'a': 1}.keys() & {'a': 2}.keys()")))
    assert "only for integers" in str(fails(body("return {'a': 1}.keys() - []")))


# -- gas and resource limits --------------------------------------------------------------


def test_infinite_loop_runs_out_of_gas() -> None:
    compiled = compile_contract(body("while True:\n    pass"))
    with pytest.raises(OutOfGas) as info:
        compiled.call(FakeContext(admin()), "f", [], 1_000_000)
    assert info.value.gas_used == 1_000_000  # type: ignore[attr-defined]


def test_catching_out_of_gas_does_not_help() -> None:
    source = body(
        "try:\n    while True:\n        pass\nexcept ContractError:\n    return 'escaped'"
    )
    with pytest.raises(OutOfGas):
        compile_contract(source).call(FakeContext(admin()), "f", [], 10_000)


def test_gas_is_deterministic() -> None:
    compiled = compile_contract(example_source("asset"))
    used = set()
    for _ in range(5):
        ctx = FakeContext(admin())
        used.add(compiled.call(ctx, "mint", [ALICE, 10], GAS)[1])
    assert len(used) == 1
    loop = compile_contract(body("t = 0\nfor i in range(1000):\n    t += i\nreturn t"))
    assert len({loop.call(FakeContext(admin()), "f", [], GAS)[1] for _ in range(5)}) == 1
    failures = set()
    for _ in range(3):
        with pytest.raises(OutOfGas) as info:
            loop.call(FakeContext(admin()), "f", [], 500)
        failures.add((str(info.value), info.value.gas_used))  # type: ignore[attr-defined]
    assert len(failures) == 1


def test_gas_grows_with_work() -> None:
    compiled = compile_contract("def f(ctx, n):\n    for i in range(n):\n        pass\n")
    a = compiled.call(FakeContext(admin()), "f", [10], GAS)[1]
    b = compiled.call(FakeContext(admin()), "f", [20], GAS)[1]
    assert b - a == 10


@pytest.mark.parametrize(
    "code, message",
    [
        ("return 'a' * 10**9", "limit is 1000000"),
        ("return [0] * 10**8", "limit is 1000000"),
        ("return 2 ** 10**9", "wider than 4096 bits"),
        ("return 1 << 10**9", "wider than 4096 bits"),
        ("return bytes(10**9)", "limit is 1000000"),
        ("return range(10**9)", "limit is 1000000"),
        ("return 'a'.ljust(10**9)", "limit is 1000000"),
        ("s = 'a' * 1001\nreturn s.replace('a', s)", "limit is 1000000"),
        ("s = ['a' * 1000] * 1001\nreturn ''.join(s)", "limit is 1000000"),
        ("x = [0] * 1000\nwhile True:\n    x += x", "limit is 1000000"),
        ("x = 'ab'\nwhile True:\n    x = x + x", "limit is 1000000"),
        ("x = 3\nwhile True:\n    x = x * x", "wider than 4096 bits"),
        ("return int('1' * 5000)", "longer than 1300"),
        ("return (1).to_bytes(10**9, 'big')", "length above"),
        ("return 2 ** -1", "negative exponents"),
        ("return 'abc'.encode('rot13')", "not allowed"),
        ("return '%s' % 1", "%-formatting is not allowed"),
    ],
)
def test_size_caps_fail_without_allocating(code: str, message: str) -> None:
    tracemalloc.start()
    try:
        err = fails(body(code), gas=10_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message in str(err)
    assert peak < 64 << 20, f"{peak >> 20} MiB allocated before the cap refused it"


def test_large_but_allowed_work_is_charged() -> None:
    small = compile_contract(body("return len('a' * 100)")).call(FakeContext(admin()), "f", [], GAS)
    big = compile_contract(body("return len('a' * 100000)")).call(
        FakeContext(admin()), "f", [], GAS
    )
    assert small[0] == 100 and big[0] == 100000
    assert big[1] - small[1] >= 100000 // 64 - 2


def test_deep_recursion_is_a_contract_error() -> None:
    source = "def f(ctx, n):\n    return f(ctx, n + 1)\n"
    errors = set()
    for _ in range(3):
        with pytest.raises(ContractError) as info:
            compile_contract(source).call(FakeContext(admin()), "f", [0], GAS)
        errors.add((str(info.value), info.value.gas_used))  # type: ignore[attr-defined]
    assert len(errors) == 1
    assert "maximum call depth of 64" in errors.pop()[0]
    lam = body("g = lambda n: g(n + 1)\nreturn g(0)")
    assert "maximum call depth" in str(fails(lam))
    ok = "def f(ctx, n):\n    return 0 if n == 0 else 1 + f(ctx, n - 1)\n"
    assert run(ok, "f", 60) == 60


def test_deep_recursion_caught_and_retried_still_ends() -> None:
    source = (
        "def g(n):\n    return g(n + 1)\n"
        "def f(ctx):\n    while True:\n        try:\n            g(0)\n"
        "        except ContractError:\n            pass\n"
    )
    with pytest.raises(OutOfGas):
        compile_contract(source).call(FakeContext(admin()), "f", [], 50_000)


def test_aliased_values_cannot_blow_up_at_the_boundary() -> None:
    code = "a = [0] * 1000\nb = [a] * 1000\nreturn b"
    assert "more than 100000 elements" in str(fails(body(code), gas=10_000_000))
    code = "a = [0] * 1000\nb = [a] * 1000\nctx.put('k', b)"
    assert "more than 100000 elements" in str(fails(body(code), gas=10_000_000))


def test_runs_against_the_real_call_context(asset: CompiledContract) -> None:
    from tianfu.codec import decode_value
    from tianfu.execution.context import CallContext, GasMeter

    meter = GasMeter(1_000_000)
    ctx = CallContext(
        contract="asset",
        sender=admin(),
        height=1,
        time_ms=5,
        tx_hash="00",
        reader=lambda key: None,
        gas=meter,
    )
    assert asset.call(ctx, "mint", [BOB, 10], GAS)[0] == 10
    assert {k: decode_value(v) for k, v in ctx.writes.items()} == {
        b"asset/bal:" + BOB.encode(): 10,
        b"asset/supply": 10,
    }
    assert [e.name for e in ctx.events] == ["Minted"] and meter.used > 0


def test_a_contract_without_methods_compiles_but_cannot_be_called() -> None:
    compiled = compile_contract("x = 1\ndef _private(ctx):\n    return x\n")
    assert compiled.methods == frozenset() and compiled.views == frozenset()
    with pytest.raises(ContractError, match="unknown method '_private'"):
        compiled.call(FakeContext(admin()), "_private", [], GAS)
