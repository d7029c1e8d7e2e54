"""`decode_block`: as strict as `codec.decode(…, Block)`, reusing transactions already held."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianfu.codec import CodecError, decode, encode
from tianfu.crypto import sign_tx
from tianfu.crypto.keys import generate_keypair
from tianfu.mempool import Mempool
from tianfu.types import Block, BlockHeader, Transaction, TxBody
from tianfu.types.block import decode_block
from tianfu.types.tx import decode_tx

KEYS = [generate_keypair() for _ in range(3)]
LIMIT = 8 << 20


def tx(i: int, *args: Any) -> Transaction:
    k = KEYS[i % len(KEYS)]
    body = TxBody(1, "c", k.scheme, k.public_key, i, 10, "asset", "transfer", list(args) or [i])
    return sign_tx(k, body)


def block(txs: list[Transaction]) -> Block:
    header = BlockHeader(
        1,
        "c",
        1,
        1_700_000_000_000,
        b"\x01" * 32,
        b"\x02" * 32,
        b"\x03" * 32,
        b"\x04" * 32,
        b"\x05" * 32,
        KEYS[0].public_key,
        len(txs),
    )
    return Block(header, txs)


def pool_of(txs: list[Transaction]) -> Mempool:
    pool = Mempool()
    for t in txs:
        pool.add(decode_tx(encode(t)))  # as admitted: decoded from the wire
    return pool


def test_reuses_held_transactions_and_decodes_the_others() -> None:
    txs = [tx(i, "a" * i) for i in range(20)]
    data = encode(block(txs))
    pool = pool_of(txs[:15])
    got = decode_block(data, pool.get, max_size=LIMIT)
    assert got == decode(data, Block)
    assert encode(got) == data
    for i, t in enumerate(got.txs):
        assert (t is pool.get(t.hash)) == (i < 15)  # the held object itself, or a fresh one
        assert t.encoded() == encode(txs[i]) and t.hash == txs[i].hash


def test_a_held_transaction_with_other_bytes_is_not_reused() -> None:
    """Same hash would need the same body: a mempool entry is reused only byte for byte
    (here: the same body signed twice with different signatures is not possible for
    Ed25519, so fake a pool answering any hash with another transaction)."""
    txs = [tx(i) for i in range(5)]
    other = decode_tx(encode(tx(99)))
    data = encode(block(txs))
    got = decode_block(data, lambda h: other, max_size=LIMIT)
    assert got == decode(data, Block)
    assert all(t is not other for t in got.txs)


def outcome(fn: Any, data: bytes) -> Any:
    try:
        return ("ok", fn(data))
    except CodecError as exc:
        return ("refused", str(exc))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_refuses_exactly_what_decode_refuses(data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 6))
    txs = [tx(i, data.draw(st.text(max_size=6))) for i in range(n)]
    raw = bytearray(encode(block(txs)))
    how = data.draw(st.sampled_from(["flip", "truncate", "extend", "none"]))
    if how == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    elif how == "truncate":
        del raw[data.draw(st.integers(0, len(raw) - 1)) :]
    elif how == "extend":
        raw += data.draw(st.binary(min_size=1, max_size=4))
    blob = bytes(raw)
    pool = pool_of(txs)
    a = outcome(lambda b: decode(b, Block, max_size=LIMIT), blob)
    b = outcome(lambda b: decode_block(b, pool.get, max_size=LIMIT), blob)
    assert a == b


def test_non_canonical_array_header_is_refused() -> None:
    txs = [tx(i) for i in range(3)]
    b = block(txs)
    canonical = encode(b)
    # the same transactions list with a 16-bit array length (0xdc 0x0003): not canonical
    hb = encode(b.header)
    loose = b"\x92" + hb + b"\xdc\x00\x03" + b"".join(encode(t) for t in txs)
    assert msgspec.msgpack.decode(loose, type=Block) == b  # msgpack accepts it ...
    with pytest.raises(CodecError):
        decode_block(loose, pool_of(txs).get, max_size=LIMIT)  # ... we do not
    assert decode_block(canonical, pool_of(txs).get, max_size=LIMIT) == b


def test_size_limit_and_no_pool() -> None:
    data = encode(block([tx(1)]))
    with pytest.raises(CodecError):
        decode_block(data, pool_of([]).get, max_size=len(data) - 1)
    assert decode_block(data, None, max_size=LIMIT) == decode(data, Block)
