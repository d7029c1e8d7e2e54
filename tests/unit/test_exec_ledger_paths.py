"""The block path's fast paths answer exactly as the code they shortcut: the inlined Merkle
hashes, `isinstance` with builtin type names rewritten at compile time, the executor's
direct call of a contract compiled earlier in the block, and the inlined gas charges of
`CallContext`."""

from __future__ import annotations

import ast
import os
import random
from pathlib import Path
from typing import Any

import pytest
from tests.unit.test_exec_block_gov import _Forgetful
from tests.unit.test_sandbox import FakeContext, admin

from tianfu.codec import decode_value, encode, hash_domain
from tianfu.contracts.examples import example_source
from tianfu.crypto import merkle
from tianfu.execution import costs, executor
from tianfu.execution.context import GAS_READ, GAS_WRITE, CallContext, GasMeter
from tianfu.execution.contract_api import ContractError, OutOfGas, state_key
from tianfu.execution.costs import BUILTIN_GAS
from tianfu.execution.instrument import region_costs
from tianfu.execution.sandbox import _Instrumenter, _Validator, compile_contract
from tianfu.testing.appchain import AppChain

# -- Merkle roots ----------------------------------------------------------------------------


def reference_root(items: list[bytes]) -> bytes:
    """`merkle_root` as it was: RFC 6962's recursive split over `hash_domain` leaves."""
    if not items:
        return merkle.EMPTY_ROOT
    return merkle._root([hash_domain("tianfu/merkle/leaf/v1", i) for i in items])


@pytest.mark.parametrize("n", [*range(0, 40), 63, 64, 65, 127, 128, 129, 1000, 1201])
def test_merkle_root_matches_the_reference(n: int) -> None:
    rng = random.Random(n)
    items = [rng.randbytes(rng.randrange(0, 300)) for _ in range(n)]
    assert merkle.merkle_root(items) == reference_root(items)


def test_merkle_leaves_of_any_size() -> None:
    big = os.urandom(20_000)  # above hash_domain's single-buffer size: hashed in parts
    items = [b"", big, b"\x00" * 32, os.urandom(33)]
    for item in items:
        assert merkle.leaf_hash(item) == hash_domain("tianfu/merkle/leaf/v1", item)
    assert merkle.merkle_root(items) == reference_root(items)
    for i in range(len(items)):  # proofs still verify against the fast root
        path = merkle.merkle_proof(items, i)
        assert merkle.verify_merkle_proof(merkle.merkle_root(items), items[i], i, len(items), path)


# -- isinstance ----------------------------------------------------------------------------

TYPES = ["int", "str", "bytes", "list", "tuple", "dict", "bool"]
SPECS = [
    *TYPES,
    "(str, int)",
    "(list, tuple, dict)",
    "(bool, bytes)",
    "()",
    "(int,)",
    "len",  # a builtin that is no type: the same TypeError
    "range",  # a wrapper that is not mapped: the same TypeError
    "(str, len)",
    "(str, (int,))",  # nested: never rewritten, never mapped
    "(int, (int, 3))",
]
VALUES: list[Any] = [
    0,
    1,
    -5,
    2**64 - 1,
    True,
    False,
    "",
    "x" * 40,
    b"",
    b"ab",
    None,
    [],
    [1, "a"],
    {},
    {"a": 1},
]


def _source(spec: str, dynamic: bool) -> str:
    """f(ctx, x) = isinstance(x, spec): written out (rewritten at compile time) or through
    a local variable (resolved by `Runtime.b_isinstance` at run time)."""
    if dynamic:
        return f"def f(ctx, x):\n    t = {spec}\n    return isinstance(x, t)\n"
    return f"def f(ctx, x):\n    return isinstance(x, {spec})\n"


def _static_gas(source: str) -> int:
    """The gas the instrumenter charges `source` by its size (its module and functions'
    regions), whatever the values: what two sources of different lengths differ by."""
    return sum(gas for gas, _mem in region_costs(ast.parse(source)).values())


def _outcome(source: str, x: Any) -> tuple[Any, ...]:
    """(status, result or message, gas used beyond the source's static charges)."""
    compiled = compile_contract(source)
    try:
        result, used = compiled.call(FakeContext(admin()), "f", [x], 10_000)
    except ContractError as exc:
        return ("error", str(exc), exc.gas_used - _static_gas(source))  # type: ignore[attr-defined]
    return ("ok", result, used - _static_gas(source))


def _instrumented(source: str) -> str:
    tree = ast.parse(source)
    _Validator().check_module(tree)
    return ast.unparse(_Instrumenter().visit(tree))


@pytest.mark.parametrize("spec", SPECS)
def test_static_isinstance_answers_as_the_runtime_wrapper(spec: str) -> None:
    # `t = (str, (int,))` keeps the nested tuple as the runtime sees it; a tuple literal of
    # names is mapped element by element by `b_isinstance`, exactly as the rewrite does.
    # The rewrite calls the real `isinstance`; the runtime wrapper, a Python call, charges
    # `BUILTIN_GAS` (like every checked builtin) before anything else.
    rewritten = "__tf_isinstance" in _instrumented(_source(spec, False))
    saved = BUILTIN_GAS if rewritten else 0
    for x in VALUES:
        status, value, gas = _outcome(_source(spec, True), x)
        assert _outcome(_source(spec, False), x) == (status, value, gas - saved), (spec, x)


def test_isinstance_is_rewritten_only_for_builtin_names() -> None:
    code = _instrumented(_source("(str, int)", False))
    assert "__tf_isinstance(x, (__tf_type_str, __tf_type_int))" in code
    assert "__tf_isinstance(x, bool)" in _instrumented(_source("bool", False))
    for spec in ("(str, (int,))",):  # nested: left to the runtime
        assert "__tf_isinstance" not in _instrumented(_source(spec, False))
    assert "__tf_isinstance" not in _instrumented(_source("str", True))  # a variable
    starred = "def f(ctx, x):\n    a = [x, str]\n    return isinstance(*a)\n"
    assert "__tf_isinstance" not in _instrumented(starred)
    assert _outcome(starred, "s") == ("ok", True, _outcome(starred, "s")[2])


def test_the_asset_contract_checks_types_as_before() -> None:
    asset = compile_contract(example_source("asset"))
    assert "__tf_isinstance" in asset.code.co_names or any(
        "__tf_isinstance" in getattr(c, "co_names", ()) for c in asset.code.co_consts
    )
    for to, amount in [("a" * 40, 1), (5, 1), ("a" * 39, 1), ("a" * 40, True), ("a" * 40, "1")]:
        ctx = FakeContext(admin())
        try:
            asset.call(ctx, "mint", [to, amount], 100_000)
            outcome = "ok"
        except ContractError as exc:
            outcome = str(exc)
        expected = (
            "ok"
            if isinstance(to, str) and len(to) == 40 and type(amount) is int
            else "an address is 40 hex characters"
            if not (isinstance(to, str) and len(to) == 40)
            else "amount must be a positive integer"
        )
        assert outcome == expected


# -- the executor's contract fast path -------------------------------------------------------

MIXED = """
N = 3


def echo(ctx, x):
    ctx.put("x", x)
    return x


def nested(ctx, n):
    return {"n": n, "l": [n, [n, "s"]], "b": b"z"}


def big(ctx):
    return 2**64


def spin(ctx, n):
    i = 0
    while i < n:
        i += 1
    return i


def fail(ctx):
    raise ContractError("no")


def kinds(ctx, x):
    return [isinstance(x, str), isinstance(x, (int, bytes)), isinstance(x, bool)]
"""


@pytest.fixture()
def chain(tmp_path: Path) -> Any:
    c = AppChain(tmp_path)
    c.deploy("asset", example_source("asset"))
    c.deploy("mixed", MIXED)
    yield c
    c.close()


def test_contracts_called_again_in_a_block_execute_as_on_first_call(
    chain: AppChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin_id = chain.admin("org1")
    m = chain.identity("org1", "mia")
    a = m.info.address
    steps: list[tuple[Any, str, str, tuple[Any, ...]]] = [
        (admin_id, "asset", "mint", (a, 100)),
        (m, "asset", "transfer", (admin_id.info.address, 7)),
        (m, "asset", "transfer", (admin_id.info.address, 10**6)),  # fails
        (m, "mixed", "echo", (None,)),
        (m, "mixed", "echo", ("s",)),
        (m, "mixed", "echo", (b"b",)),
        (m, "mixed", "echo", (True,)),
        (m, "mixed", "echo", (2**64 - 1,)),
        (m, "mixed", "echo", ([1, {"a": [2]}],)),
        (m, "mixed", "nested", (5,)),
        (m, "mixed", "big", ()),  # a bad return value
        (m, "mixed", "spin", (10**9,)),  # out of gas
        (m, "mixed", "spin", (10,)),
        (m, "mixed", "fail", ()),
        (m, "mixed", "nosuch", ()),
        (m, "mixed", "echo", ()),  # arity
        (m, "mixed", "kinds", ("x",)),
        (m, "mixed", "kinds", (3,)),
        (m, "mixed", "kinds", (False,)),
        (admin_id, "governance", "get_identity", (a,)),
        (m, "asset", "balance", (a,)),
    ]
    txs = [chain.sign(who, c, meth, *args) for who, c, meth, args in steps]
    proposer = chain.genesis.validators[0].public_key

    fast = chain.ledger.build_block(txs, proposer)
    monkeypatch.setattr(executor, "BlockGov", _Forgetful)  # every call through `_call`
    plain = chain.ledger.build_block(txs, proposer)

    assert fast.result.receipts == plain.result.receipts
    assert fast.encoded_receipts == plain.encoded_receipts
    assert fast.result.updates == plain.result.updates
    assert fast.block.header == plain.block.header
    r = fast.result.receipts
    assert [x.ok for x in r[:3]] == [True, True, False]
    assert [x.result for x in r[3:10]] == [
        None,
        "s",
        b"b",
        True,
        2**64 - 1,
        [1, {"a": [2]}],
        {"n": 5, "l": [5, [5, "s"]], "b": b"z"},
    ]
    assert "integer out of range" in r[10].error
    assert "out of gas" in r[11].error
    assert r[12].result == 10
    assert [x.ok for x in r[13:16]] == [False, False, False]
    assert [x.result for x in r[16:19]] == [
        [True, False, False],
        [False, True, False],
        [False, True, True],
    ]


# -- CallContext's inlined charges ------------------------------------------------------------


def _ctx(limit: int, stored: dict[bytes, bytes] | None = None) -> CallContext:
    data = stored or {}
    return CallContext(
        contract="c",
        sender=admin(),
        height=1,
        time_ms=1,
        tx_hash="00",
        reader=data.get,
        gas=GasMeter(limit),
    )


def test_reads_and_writes_charge_and_fail_as_gas_meter_charge() -> None:
    """State access charges the one meter by `costs`: a read by its bytes, a write by the
    key's and the value's bytes. A charge past the limit consumes the whole budget (the
    receipt records the limit) and fails before anything is written."""
    # The cost table (docs/contracts.md, section 4): a read costs 20 plus 1 per 8 bytes read;
    # a write 100 plus 1 per byte of its key and value.
    value = encode("v" * 78)  # 80 bytes: 10 gas by size
    stored = {state_key("c", "k"): value}
    by_size = costs.read_gas(len(value))
    assert by_size == 10 and GAS_READ == 20
    ok = _ctx(30, stored)
    assert ok.get("k") == "v" * 78 and ok._gas.used == 30
    for limit in [GAS_READ - 1, GAS_READ + by_size - 1]:
        ctx = _ctx(limit, stored)
        with pytest.raises(OutOfGas) as info:
            ctx.has("k")
        assert str(info.value) == f"out of gas: the call used more than its {limit} gas"
        assert ctx._gas.used == limit
    ctx = _ctx(GAS_READ, stored)
    assert ctx.has("missing") is False and ctx._gas.used == GAS_READ
    key = state_key("c", "k")
    cost = costs.write_gas(len(key), len(b"\x01"))  # encode(1) is one byte
    assert key == b"c/k" and cost == 100 + 3 + 1 and GAS_WRITE == 100
    ctx = _ctx(cost)
    ctx.put("k", 1)
    assert ctx._gas.used == cost and ctx.writes == {key: b"\x01"}
    ctx = _ctx(cost - 1)
    with pytest.raises(OutOfGas, match=f"more than its {cost - 1} gas"):
        ctx.put("k", 1)
    assert ctx._gas.used == cost - 1 and not ctx.writes


def test_state_key_prefixes_are_those_of_state_key() -> None:
    for name in ["c", "asset", "a_b9", "governance", "x" * 60]:
        ctx = CallContext(
            contract=name,
            sender=admin(),
            height=1,
            time_ms=1,
            tx_hash="",
            reader=lambda k: None,
            gas=GasMeter(10**6),
        )
        ctx.put("key", 5)
        assert list(ctx.writes) == [state_key(name, "key")]


def test_a_reused_instance_refuses_a_bad_gas_limit_as_before() -> None:
    compiled = compile_contract("def f(ctx):\n    return 1\n")
    assert compiled.call(FakeContext(admin()), "f", [], 1000)[0] == 1  # an instance is kept
    for bad in (-1, "10"):
        with pytest.raises(ValueError, match="gas_limit"):
            compiled.call(FakeContext(admin()), "f", [], bad)  # type: ignore[arg-type]
    assert compiled.call(FakeContext(admin()), "f", [], 1000) == (
        1,
        compiled.call(FakeContext(admin()), "f", [], 1000)[1],
    )


def _attempt(fn: Any) -> tuple[Any, ...]:
    try:
        return ("ok", fn())
    except (ContractError, UnicodeEncodeError) as exc:
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("limit", [0, 19, 20, 21, 29, 30, 31, 10**6])
def test_get_reads_and_charges_as_raw(limit: int) -> None:
    """`CallContext.get` (its `_raw` inlined) against `_raw` itself, for the same keys."""
    stored = {state_key("c", "k"): encode("v" * 78), state_key("c", "n"): encode(7)}
    keys: list[Any] = ["k", "n", "missing", "w", 5, b"k", "x" * 300, "\ud800"]
    for key in keys:
        a, b = _ctx(limit, stored), _ctx(limit, stored)
        a.writes[state_key("c", "w")] = encode([1])
        b.writes[state_key("c", "w")] = encode([1])

        def ref(ctx: CallContext = b, key: Any = key) -> Any:
            raw = ctx._raw(ctx._key(ctx.contract, key), 0)
            return "dflt" if raw is None else decode_value(raw)

        assert _attempt(lambda ctx=a, key=key: ctx.get(key, "dflt")) == _attempt(ref), key
        assert a._gas.used == b._gas.used, key
