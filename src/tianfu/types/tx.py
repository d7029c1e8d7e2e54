"""Signed transactions, receipts and events."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from tianfu.codec import CodecError, check_version, encode, hash_domain
from tianfu.types.values import ValueTypeError, check_value

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
ChainId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
PubKey = Annotated[bytes, msgspec.Meta(max_length=65)]
Sig = Annotated[bytes, msgspec.Meta(max_length=72)]
U64 = Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1)]

MAX_ARGS = 32
MAX_CERT = 4096


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
    args: Annotated[list[Any], msgspec.Meta(max_length=MAX_ARGS)]
    cert: Annotated[bytes, msgspec.Meta(max_length=MAX_CERT)] = b""  # DER, on first use

    def validate(self) -> None:
        check_version(self)
        try:
            check_value(self.args)
        except ValueTypeError as exc:
            raise CodecError(f"bad argument: {exc}") from None


class Transaction(msgspec.Struct, array_like=True, frozen=True):
    body: TxBody
    signature: Sig

    def validate(self) -> None:
        self.body.validate()

    def signing_hash(self) -> bytes:
        """The 32 bytes that are signed, also the transaction's hash (id)."""
        return tx_hash(self.body)

    @property
    def hash(self) -> bytes:
        return tx_hash(self.body)


def tx_hash(body: TxBody) -> bytes:
    return hash_domain("tianfu/tx/v1", encode(body))


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
