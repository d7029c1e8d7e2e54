"""Unit tests: canonical codec, signature suites, transaction signing, binary Merkle proofs."""

import msgspec
import pytest

from tianfu.codec import CodecError, decode, encode, hash_domain
from tianfu.crypto import (
    ECDSA_P256,
    ED25519,
    generate_keypair,
    load_private_key_pem,
    sign_tx,
    verify_tx,
)
from tianfu.crypto.merkle import merkle_proof, merkle_root, verify_merkle_proof
from tianfu.types import Transaction, TxBody


def body(kp, args=None, version=1):
    return TxBody(
        version, "test", kp.scheme, kp.public_key, 7, 100, "asset", "transfer", args or ["bob", 5]
    )


@pytest.mark.parametrize("scheme", [ED25519, ECDSA_P256])
def test_sign_roundtrip_and_tamper(scheme):
    kp = generate_keypair(scheme)
    tx = sign_tx(kp, body(kp))
    assert verify_tx(tx)
    assert decode(encode(tx), Transaction) == tx
    other = TxBody(1, "test", kp.scheme, kp.public_key, 8, 100, "asset", "transfer", ["bob", 5])
    assert not verify_tx(Transaction(other, tx.signature))
    assert load_private_key_pem(kp.private_pem()).public_key == kp.public_key


def test_decoder_rejects_bad_input():
    kp = generate_keypair()
    data = encode(sign_tx(kp, body(kp)))
    with pytest.raises(CodecError, match="trailing"):
        decode(data + b"\x00", Transaction)
    with pytest.raises(CodecError):
        decode(data[:-3], Transaction)
    with pytest.raises(CodecError, match="exceeds"):
        decode(data, Transaction, max_size=10)
    with pytest.raises(CodecError, match="version"):
        decode(encode(body(kp, version=9)), TxBody)
    with pytest.raises(CodecError, match="float"):
        decode(encode(body(kp, args=[1.5])), TxBody)
    unsorted = msgspec.msgpack.encode(
        [1, "test", 1, kp.public_key, 7, 100, "asset", "m", [{"b": 1, "a": 2}], b""]
    )
    with pytest.raises(CodecError, match="non-canonical"):
        decode(unsorted, TxBody)
    big = TxBody(1, "test", 1, b"x" * 100, 7, 100, "asset", "m", [])
    with pytest.raises(CodecError):
        decode(encode(big), TxBody)


def test_domain_separation():
    assert hash_domain("a", b"bc") != hash_domain("ab", b"c")
    assert hash_domain("t", b"a", b"bc") != hash_domain("t", b"ab", b"c")


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_binary_merkle_proofs(n):
    items = [bytes([i]) * 3 for i in range(n)]
    root = merkle_root(items)
    for i in range(n):
        path = merkle_proof(items, i)
        assert verify_merkle_proof(root, items[i], i, n, path)
        assert not verify_merkle_proof(root, b"zz", i, n, path)
        if n > 1:
            assert not verify_merkle_proof(root, items[i], (i + 1) % n, n, path)


def test_invalid_utf8_is_a_codec_error():
    kp = generate_keypair()
    data = bytearray(encode(sign_tx(kp, body(kp))))
    i = data.index(b"test")
    data[i] |= 0x80  # no longer valid UTF-8
    with pytest.raises(CodecError, match="UTF-8|malformed"):
        decode(bytes(data), Transaction)


def test_deeply_nested_bytes_are_a_codec_error_for_every_decoder():
    """A transaction whose arguments nest far beyond the 32 levels a value may have is a
    `CodecError` (never a RecursionError) for `decode` and `decode_tx` alike."""
    from tianfu.codec import CodecError, decode, encode
    from tianfu.types import Transaction
    from tianfu.types.tx import TxBody, decode_tx

    body = encode(TxBody(1, "c", 1, b"k", 1, 1, "asset", "m", []))
    i = body.rfind(b"\x90")  # the empty argument list
    nested = b"\x91" * 100_000 + b"\x00"
    raw = b"\x92" + body[:i] + b"\x91" + nested + body[i + 1 :] + b"\xc4\x01\x00"
    for decoder in (lambda d: decode(d, Transaction), decode_tx):
        with pytest.raises(CodecError, match="nested too deeply"):
            decoder(raw)
