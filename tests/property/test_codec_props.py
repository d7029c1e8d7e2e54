"""Property tests of the canonical codec: round trips, one byte form, strict decoding."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.codec import CodecError, decode, encode
from tianfu.types import (
    BlockHeader,
    CommitCertificate,
    CommitSig,
    Receipt,
    Transaction,
    TxBody,
    Vote,
)
from tianfu.types.block import MAX_COUNT, MAX_TIME_MS

names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
i64 = st.integers(min_value=0, max_value=(1 << 63) - 1)
h32 = st.binary(min_size=32, max_size=32)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(1 << 63), (1 << 64) - 1)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.builds(
    TxBody,
    version=st.just(1),
    chain_id=st.text(min_size=1, max_size=20),
    scheme=st.sampled_from([1, 2]),
    signer=st.binary(max_size=33),
    nonce=i64,
    expiry=i64,
    contract=names,
    method=st.text(min_size=1, max_size=20),
    args=st.lists(values, max_size=5),
    cert=st.binary(max_size=50),
)
txs = st.builds(Transaction, body=bodies, signature=st.binary(max_size=64))
headers = st.builds(
    BlockHeader,
    version=st.just(1),
    chain_id=st.text(min_size=1, max_size=20),
    height=st.just(1),  # (a later header must carry its predecessor's certificate)
    time_ms=st.integers(0, MAX_TIME_MS),
    prev_hash=h32,
    tx_root=h32,
    state_root=h32,
    receipts_root=h32,
    validators_hash=h32,
    proposer=st.binary(max_size=33),
    tx_count=st.integers(0, 10_000),
)
certs = st.builds(
    CommitCertificate,
    version=st.just(1),
    chain_id=st.text(min_size=1, max_size=20),
    height=st.integers(1, MAX_COUNT),  # blocks.md: 1 … 2^53 − 1
    round=st.integers(0, 100),
    block_hash=st.binary(min_size=32, max_size=32),
    signatures=st.lists(
        st.builds(
            CommitSig,
            st.binary(max_size=33),
            st.integers(1, MAX_TIME_MS),
            st.binary(max_size=64),
        ),
        max_size=5,
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(txs, headers, certs))
def test_round_trip_and_single_byte_form(obj):
    data = encode(obj)
    back = decode(data, type(obj))
    assert back == obj
    assert encode(back) == data


@settings(max_examples=50, deadline=None)
@given(certs, st.integers(MAX_COUNT + 1, (1 << 64) - 1), st.booleans())
def test_a_certificate_height_or_round_beyond_2_53_is_refused(cert, big, in_round):
    """blocks.md: a certificate's height and round are at most 2^53 − 1."""
    bad = (
        msgspec.structs.replace(cert, round=big)
        if in_round
        else msgspec.structs.replace(cert, height=big)
    )
    with pytest.raises(CodecError):
        decode(encode(bad), CommitCertificate)


@settings(max_examples=150, deadline=None)
@given(txs)
def test_hash_changes_with_any_body_field(tx):
    other = msgspec.structs.replace(tx.body, nonce=(tx.body.nonce + 1) % (1 << 63))
    assert Transaction(other, tx.signature).hash != tx.hash


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300),
    st.sampled_from([Transaction, BlockHeader, CommitCertificate, Vote, Receipt]),
)
def test_random_bytes_never_escape_as_other_errors(data, typ):
    """Random bytes are refused with `CodecError` only, and whatever decodes is canonical:
    it encodes back to the very same bytes."""
    try:
        value = decode(data, typ)
    except CodecError:
        return
    assert encode(value) == data


@settings(max_examples=150, deadline=None)
@given(txs, st.binary(min_size=1, max_size=8))
def test_trailing_bytes_and_truncation_rejected(tx, extra):
    data = encode(tx)
    for bad in (data + extra, data[: len(data) - 1]):
        try:
            decode(bad, Transaction)
        except CodecError:
            continue
        raise AssertionError("accepted a non-canonical or truncated encoding")


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.integers(max_value=-(1 << 63) - 1), st.integers(min_value=1 << 64)))
def test_out_of_range_integers_are_refused_as_values(v):
    from tianfu.types import ValueTypeError, check_value

    try:
        check_value([v])
    except ValueTypeError:
        return
    raise AssertionError("an integer msgpack cannot encode was accepted")


@settings(max_examples=100, deadline=None)
@given(
    txs,
    st.dictionaries(
        st.one_of(st.integers(-(1 << 63), (1 << 64) - 1), st.binary(max_size=4)),
        st.integers(0, 9),
        min_size=1,
        max_size=3,
    ),
)
def test_maps_with_non_string_keys_are_refused_as_codec_errors(tx, bad_map):
    # Decodable msgpack, but with no canonical (sorted-key) form: a CodecError, never a TypeError.
    body = msgspec.structs.replace(tx.body, args=[*tx.body.args, bad_map])
    data = msgspec.msgpack.encode(Transaction(body, tx.signature))
    with pytest.raises(CodecError):
        decode(data, Transaction)
