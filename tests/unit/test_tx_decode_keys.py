"""A transaction whose arguments hold map keys built to share one hash is refused before it
is decoded (`tianfu.codec_scan`).

msgspec decodes a msgpack map key that is an array into a tuple, and CPython hashes tuples
of integers without a seed: 4,000 crafted keys (56 KB, no valid signature needed) held
`decode_tx` for ~0.4-1.6 s on this machine, and a 1 MiB request for minutes, on the API's
event loop, in gossip and in block decoding, before `TxBody.validate` refused the key.
"""

from __future__ import annotations

import random
import time
from typing import Any

import msgspec
import pytest
from tests.unit.test_sandbox_audit import _colliding_pairs

from tianfu.codec import CodecError, encode
from tianfu.codec_scan import array_keys_possible, map_keys_are_text
from tianfu.crypto.keys import generate_keypair
from tianfu.crypto.signing import sign_tx
from tianfu.types.tx import TxBody, decode_tx

_KP = generate_keypair()
_MARK = encode(["@@"])


def _tx_with(args_raw: bytes) -> bytes:
    """A signed transaction's bytes with its argument list replaced by `args_raw`."""
    body = TxBody(1, "chain", _KP.scheme, _KP.public_key, 1, 100, "asset", "transfer", ["@@"])
    raw = sign_tx(_KP, body).encoded()
    assert raw.count(_MARK) == 1
    return raw.replace(_MARK, args_raw)


def _colliding_map(n: int) -> bytes:
    items = b"".join(encode(list(pair)) + b"\x01" for pair in _colliding_pairs(n))
    return b"\x91\xdf" + n.to_bytes(4, "big") + items  # [ {(a, b): 1, ...} ]


def _best(fn: Any, data: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn(data)
        best = min(best, time.perf_counter() - start)
    return best


def _refused(data: bytes) -> str:
    try:
        decode_tx(data)
    except CodecError as exc:
        return str(exc)
    return "accepted"


def test_map_keys_built_to_share_a_hash_are_refused_before_decoding() -> None:
    n = 4000
    attack = _tx_with(_colliding_map(n))
    benign = _tx_with(encode([[list(p) for p in _colliding_pairs(n)]]))  # the same integers
    assert len(attack) - len(benign) < n + 100
    # the refusal costs no more than decoding a valid transaction of the same size
    refusing, accepting = _best(_refused, attack), _best(_refused, benign)
    assert refusing <= 2 * accepting + 0.005, (refusing, accepting)
    assert _refused(attack) == "bad argument: dict keys must be str"
    assert _refused(bytearray(attack)) == "bad argument: dict keys must be str"
    assert _refused(benign) == "accepted"


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1},
        [{"k": [1, {"x": b"\x90" * 40}]}, "s" * 300, b"\x80" * 70000],
        {"": None, "t": True, "f": False, "n": -(1 << 63), "m": (1 << 64) - 1, "q": -5},
        [[[[{}]]]] * 20,
        {str(i): [i] * 3 for i in range(300)},
        {"big": "\u00e9" * 40000, "ints": [0x7F, 0x80, 0xFF, 0x100, 0x10000, 0x100000000]},
    ],
)
def test_text_keys_pass_the_scan(value: Any) -> None:
    data = encode(value)
    assert map_keys_are_text(data)
    assert map_keys_are_text(_tx_with(encode([value])))


@pytest.mark.parametrize(
    "value",
    [
        {1: 2},
        {(1, 2): 3},
        [{"a": {b"k": 1}}],
        {"a": [1, {None: 2}]},
        {"a": 1, **{f"k{i}": [i] for i in range(20)}, (): 0},
        [{"x": [[]] * 20}, {(3,): 1}],
        {1.5: 1},
    ],
)
def test_other_keys_fail_the_scan(value: Any) -> None:
    data = msgspec.msgpack.encode(value)
    assert not map_keys_are_text(data)


def test_bytes_without_many_arrays_skip_the_scan() -> None:
    assert not array_keys_possible(encode(["bob", 100, {"memo": "x"}, [[1], [2]]]))
    assert not array_keys_possible(encode([[i] for i in range(40)]))  # arrays, no map
    assert array_keys_possible(_colliding_map(20))
    plain = _tx_with(encode(["bob", 100, {"memo": "x"}]))
    assert decode_tx(plain).body.args == ["bob", 100, {"memo": "x"}]
    # a few tuple keys may be left to the decoder: refused by `validate` as before
    assert _refused(_tx_with(_colliding_map(3))) != "accepted"


def _random_value(rnd: random.Random, depth: int) -> Any:
    if depth > 3 or rnd.random() < 0.6:
        return rnd.choice(
            [
                None,
                True,
                rnd.choice([0, 127, 128, 65536, (1 << 64) - 1, -33, -129, -(1 << 63)]),
                "x" * rnd.choice([0, 31, 32, 256]),
                "\u00e9" * rnd.randrange(100),
                bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 5, 256]))),
                b"\x90\xdf\xdc\x80" * rnd.randrange(30),
            ]
        )
    if rnd.random() < 0.6:
        return [_random_value(rnd, depth + 1) for _ in range(rnd.choice([0, 1, 15, 16]))]
    return {f"k{i}": _random_value(rnd, depth + 1) for i in range(rnd.choice([0, 1, 15, 16]))}


def test_the_scan_agrees_with_the_decoder_on_random_values() -> None:
    """What `map_keys_are_text` answers is what decoding finds (the scan decides whether
    a transaction is refused: it must never refuse a valid one)."""
    rnd = random.Random(20261206)
    for _ in range(400):
        value = _random_value(rnd, 0)
        data = encode(value)
        assert map_keys_are_text(data)
        if isinstance(value, dict):
            value[rnd.choice([1, (1, 2), b"k", None])] = 0
            assert not map_keys_are_text(msgspec.msgpack.encode(value))


def test_proven_value_bytes_with_crafted_keys_are_refused_before_decoding() -> None:
    """A client verifying a proof decodes the proven value bytes a node sent
    (`decode_value_strict`): the same keys held it for as long."""
    from tianfu.proofs.values import ValueBytesError, decode_value_strict

    crafted = _colliding_map(4000)[1:]  # the map itself
    plain = encode([list(p) for p in _colliding_pairs(4000)])

    def refused(data: bytes) -> str:
        try:
            decode_value_strict(data)
        except ValueBytesError as exc:
            return str(exc)
        return "accepted"

    refusing, accepting = _best(refused, crafted), _best(refused, plain)
    assert refusing <= 2 * accepting + 0.005, (refusing, accepting)
    assert refused(crafted).endswith("dict keys must be str")
    assert refused(plain) == "accepted"


def test_a_block_holding_a_transaction_with_crafted_keys_is_refused_without_decoding_it() -> None:
    """A proposal's transactions not held already are decoded with `decode_tx`, which now
    refuses the keys at once; its refusal sent `decode_block` to decode the whole block
    again with `codec.decode` to report the message: the same quadratic decode, on every
    validator, for one proposal."""
    from tests.unit.test_decode_block import LIMIT, block, tx

    from tianfu.types.block import decode_block

    honest = encode(block([tx(1)]))
    good_tx = tx(1).encoded()
    assert honest.endswith(good_tx)
    crafted = honest[: -len(good_tx)] + _tx_with(_colliding_map(4000))
    plain = honest[: -len(good_tx)] + _tx_with(encode([[list(p) for p in _colliding_pairs(4000)]]))

    def refused(data: bytes) -> str:
        try:
            decode_block(data, lambda h: None, max_size=LIMIT)
        except CodecError as exc:
            return str(exc)
        return "accepted"

    refusing, accepting = _best(refused, crafted), _best(refused, plain)
    assert refusing <= 2 * accepting + 0.005, (refusing, accepting)
    assert refused(crafted).endswith("dict keys must be str")
    assert refused(plain) == "accepted"
