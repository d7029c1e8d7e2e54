"""Proven bytes hold only what the chain can write: contract values, receipts of status OK or
FAILED, and validator records of exactly their five fields (docs/spec/encoding.md,
transactions.md, blocks.md) — anything else is refused by the verifier."""

from __future__ import annotations

import msgspec
import pytest

from tianfu.codec import encode
from tianfu.proofs.valchain import TrustError, validators_value
from tianfu.proofs.values import ValueBytesError, check_receipt, decode_value_strict
from tianfu.types import Event, Receipt, Validator, ValidatorSet

GENESIS_SET = ValidatorSet([Validator("n", "o", 1, b"k" * 32, 1)])


@pytest.mark.parametrize(
    "data",
    [
        encode(1.5),  # a float is canonical msgpack, but no contract value
        encode([1, {"x": 0.25}]),
        bytes.fromhex("d40500"),  # an extension type
        bytes.fromhex("d6ff00000000"),  # the timestamp extension
    ],
)
def test_value_bytes_that_are_no_contract_value_are_refused(data):
    with pytest.raises(ValueBytesError):
        decode_value_strict(data)


@pytest.mark.parametrize(
    "receipt",
    [
        Receipt(2, 1),
        Receipt(0, 1, 1.5),
        Receipt(1, 1, None, "x", [Event("c", "E", {"f": 0.5})]),
    ],
)
def test_receipts_execution_cannot_write_are_refused(receipt):
    with pytest.raises(ValueBytesError):
        check_receipt(receipt)


def test_receipts_execution_writes_pass():
    check_receipt(Receipt(0, 5, {"a": [b"x", None]}, "", [Event("c", "E", {"f": 1})]))
    check_receipt(Receipt(1, 5, None, "failed"))


def record(**changes):
    r = {"name": "n1", "org": "o", "scheme": 1, "public_key": b"k" * 32, "power": 2}
    r.update(changes)
    return r


@pytest.mark.parametrize(
    "records",
    [
        [{**record(), "extra": 1}],  # an unknown field
        [{k: v for k, v in record().items() if k != "org"}],  # a missing field
        [record(power=True)],  # a boolean is not a power
        [record(power=0)],
        [record(scheme="1")],
        [record(public_key="6b" * 32)],
        [record(name=None)],
        {"n1": record()},
        [],
    ],
)
def test_malformed_validator_records_are_refused(records):
    with pytest.raises(TrustError):
        validators_value(encode(records), GENESIS_SET, "in a test")


def test_validator_records_as_governance_writes_them():
    vs = validators_value(encode([record(), record(name="n2", power=1)]), GENESIS_SET, "here")
    assert [(v.name, v.power) for v in vs.validators] == [("n1", 2), ("n2", 1)]
    assert validators_value(None, GENESIS_SET, "here") is GENESIS_SET
    assert msgspec.structs.asdict(vs.validators[0])["public_key"] == b"k" * 32
