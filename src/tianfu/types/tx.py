"""Signed transactions, receipts and events."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from tianfu.codec import (
    DEFAULT_MAX_SIZE,
    CodecError,
    check_version,
    decode,
    encode,
    hash_domain,
    try_encode,
)
from tianfu.codec_scan import array_keys_possible, map_keys_are_text
from tianfu.types.suites import hash_for_scheme
from tianfu.types.values import ValueTypeError, check_value

# The whole text (`\Z`: a `$` would also match before a final line feed, which the spec's
# `[a-z][a-z0-9_]*` does not, nor the other verifiers).
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*\Z")]
ChainId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
PubKey = Annotated[bytes, msgspec.Meta(max_length=65)]
Sig = Annotated[bytes, msgspec.Meta(max_length=72)]
U64 = Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1)]

MAX_ARGS = 32
MAX_CERT = 4096
Args = Annotated[list[Any], msgspec.Meta(max_length=MAX_ARGS)]
CertDer = Annotated[bytes, msgspec.Meta(max_length=MAX_CERT)]  # X.509, DER-encoded


class TxBody(msgspec.Struct, array_like=True, frozen=True):
    """What the signer signs."""

    version: int
    chain_id: ChainId
    scheme: int
    signer: PubKey
    nonce: U64
    expiry: U64  # last height at which this transaction may be included
    contract: Name
    method: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    args: Args
    cert: CertDer = b""  # on first use

    def validate(self) -> None:
        check_version(self)
        try:
            # The same answer as `check_value(self.args)`, with flat str/bytes arguments (the
            # usual case) checked inline; anything else gets the full walk, one level down.
            args = self.args
            if type(args) is not list:
                check_value(args)
                return
            for arg in args:
                t = type(arg)
                if t is not str and t is not bytes:
                    check_value(arg, _depth=1)
        except ValueTypeError as exc:
            raise CodecError(f"bad argument: {exc}") from None


class Transaction(msgspec.Struct, array_like=True, frozen=True, dict=True):
    """A signed transaction.

    Its hash (the signed 32 bytes, also its id) and its canonical bytes are computed at
    most once per object and kept in the instance's `__dict__`, which is not a field:
    equality, `hash()` and the encoding see `body` and `signature` only. The cache is
    sound because the struct is frozen; its argument lists must not be mutated in place
    (a mutated transaction would no longer match its signature anyway).
    """

    body: TxBody
    signature: Sig

    def validate(self) -> None:
        self.body.validate()

    def signing_hash(self) -> bytes:
        """The 32 bytes that are signed, also the transaction's hash (id)."""
        return self.hash

    @property
    def hash(self) -> bytes:
        cache = self.__dict__
        h: bytes | None = cache.get("_hash")
        if h is None:
            h = cache["_hash"] = tx_hash(self.body)
        return h

    def encoded(self) -> bytes:
        """`codec.encode(self)`, computed once per object."""
        cache = self.__dict__
        raw: bytes | None = cache.get("_raw")
        if raw is None:
            raw = cache["_raw"] = encode(self)
        return raw


TX_TAG = "tianfu/tx/v1"
_TX_PREFIX = bytes([len(TX_TAG)]) + TX_TAG.encode()  # what `hash_domain` hashes first


def tx_hash(body: TxBody) -> bytes:
    return tx_hash_of_body(encode(body), body.scheme)


def tx_hash_of_body(body_bytes: bytes, scheme: int | None = None) -> bytes:
    """`hash_domain(TX_TAG, body_bytes)` with the hash of the signer's crypto suite (SM3 for
    an SM2 signer, else SHA-256): a transaction's id is the same in every process, whatever
    chain suite that process works with. Without `scheme`: with the hash in force here (the
    node's chain suite, the right one for every transaction its chain accepts)."""
    if scheme is None:
        return hash_domain(TX_TAG, body_bytes)
    new = hash_for_scheme(scheme).new
    n = len(body_bytes)
    if n <= _JOIN_MAX:
        return bytes(new(_TX_PREFIX + n.to_bytes(8, "big") + body_bytes).digest())
    h = new(_TX_PREFIX)
    h.update(n.to_bytes(8, "big"))
    h.update(body_bytes)
    return bytes(h.digest())


_JOIN_MAX = 16 << 10  # above this the body is fed to the hash rather than copied


_tx_decoder = msgspec.msgpack.Decoder(Transaction)


def decode_tx(data: bytes, *, max_size: int = DEFAULT_MAX_SIZE) -> Transaction:
    """`codec.decode(data, Transaction, max_size=...)`, as strict, faster, and with the
    transaction's hash and canonical bytes taken from `data` (no re-encoding later)."""
    if type(data) is not bytes:
        if isinstance(data, bytearray | memoryview) and len(data) <= max_size:
            _no_array_keys(bytes(data))
        return _primed(decode(data, Transaction, max_size=max_size), bytes(data))
    if len(data) > max_size:
        raise CodecError(f"message of {len(data)} bytes exceeds the limit of {max_size}")
    _no_array_keys(data)
    try:
        tx = _tx_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # and ValidationError
        return decode(data, Transaction, max_size=max_size)  # raises with its message
    if try_encode(tx) != data:
        raise CodecError("non-canonical encoding of Transaction")
    try:
        tx.validate()
    except CodecError:
        raise
    except ValueError as exc:
        raise CodecError(str(exc)) from None
    return _primed(tx, data)


def _no_array_keys(data: bytes) -> None:
    """Refuse, before decoding them, transaction bytes with a map key that is not a str
    (`tianfu.codec_scan`): decoding keys built to share a hash is quadratic, and
    `TxBody.validate` would refuse such a key anyway."""
    if array_keys_possible(data) and not map_keys_are_text(data):
        raise CodecError("bad argument: dict keys must be str")


def _primed(tx: Transaction, data: bytes) -> Transaction:
    """Cache the hash and bytes of `tx` decoded from its canonical encoding `data`.

    `data` is 0x92 (an array of two) + encode(body) + the signature as msgpack bin 8 (two
    header bytes, the signature being at most 72 bytes): the body's bytes are a slice.
    """
    cache = tx.__dict__
    cache["_raw"] = data
    n = len(tx.signature)
    if n < 256:
        cache["_hash"] = tx_hash_of_body(data[1 : len(data) - 2 - n], tx.body.scheme)
    return tx


class Event(msgspec.Struct, array_like=True, frozen=True):
    contract: str
    name: str
    data: dict[str, Any]


OK = 0
FAILED = 1


class Receipt(msgspec.Struct, array_like=True, frozen=True):
    status: int  # OK or FAILED
    gas_used: int
    result: Any = None
    error: str = ""
    events: list[Event] = []

    @property
    def ok(self) -> bool:
        return self.status == OK
