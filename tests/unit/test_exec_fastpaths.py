"""The execution fast paths answer exactly as the code they shortcut: `check_value`'s exact-type
path, the memoised `address_of`, the inlined `ctx` charges."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.test_sandbox import FakeContext, admin

from tianfu.codec import hash_domain, hash_domain_with
from tianfu.execution import contract_api
from tianfu.execution.contract_api import OutOfGas
from tianfu.execution.sandbox import compile_contract
from tianfu.types.suites import hash_for_scheme
from tianfu.types.values import MAX_DEPTH, MAX_INT, MIN_INT, ValueTypeError, check_value


def reference_check(value: Any, *, _depth: int = 0) -> None:
    """`check_value` as it was before its fast path."""
    if _depth > MAX_DEPTH:
        raise ValueTypeError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | str | bytes):
        return
    if isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise ValueTypeError("integer out of range (from -2**63 to 2**64 - 1)")
        return
    if isinstance(value, list | tuple):
        for item in value:
            reference_check(item, _depth=_depth + 1)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueTypeError("dict keys must be str")
            reference_check(v, _depth=_depth + 1)
        return
    if isinstance(value, float):
        raise ValueTypeError("floats are not allowed in contract values (use integers)")
    raise ValueTypeError(f"type {type(value).__name__} is not allowed in contract values")


def verdict(fn: Any, value: Any) -> str | None:
    try:
        fn(value)
    except ValueTypeError as exc:
        return str(exc)
    return None


class Text(str):
    pass


class Num(int):
    pass


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=MIN_INT - 2, max_value=MAX_INT + 2)
    | st.text(max_size=5)
    | st.binary(max_size=5)
    | st.floats(allow_nan=False)
    | st.builds(Text, st.text(max_size=3))
    | st.builds(Num, st.integers(-5, 5))
    | st.just(object())
)
keys = st.text(max_size=3) | st.integers(0, 3) | st.builds(Text, st.text(max_size=3))
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(deadline=None, max_examples=400)
@given(values)
def test_check_value_gives_the_reference_verdict(value: Any) -> None:
    assert verdict(check_value, value) == verdict(reference_check, value)


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 2])
@pytest.mark.parametrize("leaf", [1, "s", {"k": 1}, {"k": {"k": 2}}, [1]])
def test_check_value_nesting_limit_is_the_reference_one(depth: int, leaf: Any) -> None:
    for wrap in (lambda v: [v], lambda v: {"k": v}):
        value = leaf
        for _ in range(depth):
            value = wrap(value)
        assert verdict(check_value, value) == verdict(reference_check, value)


@given(st.integers(0, 3), st.binary(min_size=1, max_size=40))
def test_address_of_is_the_hash_it_memoises(scheme: int, key: bytes) -> None:
    # The hash of the key's crypto suite: SM3 for an SM2 key (scheme 3), else SHA-256.
    suite = hash_for_scheme(scheme)
    expected = hash_domain_with(suite, "tianfu/address/v1", bytes([scheme]), key)[:20].hex()
    if scheme != 3:
        assert expected == hash_domain("tianfu/address/v1", bytes([scheme]), key)[:20].hex()
    assert contract_api.address_of(scheme, key) == expected
    assert contract_api.address_of(scheme, key) == expected


def test_ctx_methods_run_out_of_gas_at_exactly_the_budget() -> None:
    """The inlined charges of `ctx.get/put/emit/require` fail as `Runtime.charge` does."""
    compiled = compile_contract(
        "def f(ctx):\n    ctx.require(True)\n    x = ctx.get('a', 0)\n    ctx.put('a', x)\n"
        "    ctx.emit('E', v=x)\n    return x\n"
    )
    result, used = compiled.call(FakeContext(admin()), "f", [], 1_000)
    assert result == 0
    for budget in range(used):
        with pytest.raises(OutOfGas) as info:
            compiled.call(FakeContext(admin()), "f", [], budget)
        assert info.value.gas_used == budget  # type: ignore[attr-defined]
