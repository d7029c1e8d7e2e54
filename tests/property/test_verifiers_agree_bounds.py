"""Hostile documents built to make a verifier crash, hang or take unbounded memory instead of
giving a verdict (documents.md#parsing, encoding.md#contract-values): proven values nested
far deeper than a contract value may be, JSON nested past the host's recursion limit, and
integers of millions of digits. Each must be refused, with a verdict, by the SDK (and its
light client), the spec verifier and the console under Node."""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import pytest
import verifiers_agree_lib as lib
from test_verifiers_agree_eighth import three
from verifiers_agree_forge import Forge

from tianfu.codec import encode
from tianfu.crypto import chain_suite
from tianfu.proofs.documents import DocumentError, load_document
from tianfu.proofs.errors import VerificationError

SUITES = ["standard", "sm2"]
DEEP = 5000  # far past Python's recursion limit (1000) and msgspec's


def deep_value(depth: int) -> bytes:
    """`depth` one-item arrays around nil: a canonical msgpack value, no contract value."""
    return b"\x91" * depth + b"\xc0"


def deep_state_document(suite: str, depth: int) -> dict[str, Any]:
    f = Forge(suite, "deep")
    with chain_suite(suite).use():
        block = f.state_block(3, f.genesis_set(), value=deep_value(depth))
    return f.document("state", f.bundle([], [block]), f"value nested {depth} deep", entries=[])


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("depth", [33, DEEP])
def test_a_proven_value_nested_too_deep_is_refused_by_every_verifier(
    suite: str, depth: int
) -> None:
    """encoding.md#contract-values: a value nested deeper than 32 levels is none, whatever
    the decoder's own limit. Main's SDK decoded the value with msgspec, whose
    RecursionError (at about 1000 levels) passed through `verify_document` uncaught:
    `tianfu verify-proof` crashed instead of refusing the document."""
    verdicts = three(deep_state_document(suite, depth))
    assert [ok for ok, _ in verdicts] == [False] * len(verdicts), verdicts


@pytest.mark.parametrize("suite", SUITES)
def test_a_validator_links_value_nested_too_deep_is_refused_by_every_verifier(suite: str) -> None:
    """The same for the proven `governance/validators` value of a link."""
    f = Forge(suite, "deep-link")
    g = f.genesis_set()
    with chain_suite(suite).use():
        link = f.link(4, list(g.validators), 2, 0, g)
        value = deep_value(DEEP)
        root, proof = f.leaf_state(b"governance/validators", value, 2, 0)
        header = f.header(4, root, g)
        link = msgspec.structs.replace(
            link, block=f.light(header, list(g.validators)), value=value, proof=encode(proof)
        )
        block = f.state_block(3, g)
    base = f.document("state", f.bundle([link], [block]), "deep link value", entries=[])
    verdicts = three(base)
    assert [ok for ok, _ in verdicts] == [False] * len(verdicts), verdicts


@pytest.mark.parametrize("suite", SUITES)
def test_the_light_clients_state_read_refuses_a_value_nested_too_deep(suite: str) -> None:
    """The SDK's state read decodes a proven value as the documents do: main raised the
    decoder's RecursionError, not a VerificationError."""
    from tianfu.client import verify_state_read

    f = Forge(suite, "deep-read")
    g = f.genesis_set()
    value = deep_value(DEEP)
    with chain_suite(suite).use():
        root, proof = f.leaf_state(b"kv/v", value, 3, None)
        h = f.header(3, root, g)
        cert = f.cert(h, list(g.validators))
    with pytest.raises(VerificationError, match="nested|value"):
        verify_state_read(f.g, f.chain_id, "kv", "v", value, encode(proof), encode(h),
                          encode(cert))  # fmt: skip


def json_case(text: str) -> tuple[lib.Case, bytes]:
    f = Forge("standard", "json")
    return lib.Case("hostile JSON", text, f.now), encode(f.g)


def nested_json(depth: int) -> str:
    return '{"format": "tianfu-proof/v1", "x": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [41, 100_000])
def test_json_nested_past_every_limit_is_refused_not_crashed(depth: int) -> None:
    """documents.md#parsing: no valid document nests deeper than 40 levels. Main's spec
    verifier let json's RecursionError through (a crash, no verdict) at 100 000 levels."""
    case, genesis = json_case(nested_json(depth))
    assert lib.verdict_sdk(case, genesis, "state")[0] is False
    assert lib.verdict_spec(case, genesis, "state")[0] is False
    if lib.NODE is not None:
        assert lib.verdicts_js([(case, genesis, "state")])[0][0] is False


def long_integer_json(digits: int) -> str:
    return '{"format": "tianfu-proof/v1", "x": -' + "9" * digits + "}"


@pytest.mark.parametrize("digits", [41, 5000, 3_000_000])
def test_an_integer_of_more_than_40_digits_is_refused_while_parsing(digits: int) -> None:
    """documents.md#parsing: no integer of a valid document has more than 40 digits (the
    largest, a `total_power`, has 25), and every verifier refuses a longer one as it parses,
    before converting it. Main's verifiers converted it: the SDK and the spec verifier relied
    on the interpreter's limit on integer digits (4300 by default, which a host may lift,
    and then the conversion takes time quadratic in the digits), and the console converted
    a 30-million-digit integer into a BigInt (about 30 s of a core) before refusing it."""
    text = long_integer_json(digits)
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0 if digits < 10_000 else old)  # a host that lifted the limit
    try:
        with pytest.raises(DocumentError, match="digits"):
            load_document(text)
        case, genesis = json_case(text)
        ok, why = lib.verdict_spec(case, genesis, "state")
        assert not ok and "digits" in why, why
    finally:
        sys.set_int_max_str_digits(old)
    if lib.NODE is not None:
        ok, why = lib.verdicts_js([(case, genesis, "state")])[0]
        assert not ok and "digits" in why, why


def test_an_integer_of_40_digits_is_parsed_exactly() -> None:
    """The other side of the bound: 40 digits parse (and compare) exactly."""
    n = -(10**40 - 1)
    assert load_document(f'{{"x": {n}}}') == {"x": n}
