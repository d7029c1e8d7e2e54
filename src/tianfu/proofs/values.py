"""Contract values from proven bytes: decoded strictly (only the canonical encoding)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from tianfu.codec import try_encode
from tianfu.codec_scan import array_keys_possible, map_keys_are_text
from tianfu.types import Receipt, TxBody
from tianfu.types.tx import FAILED, OK
from tianfu.types.values import ValueTypeError, check_value


class ValueBytesError(ValueError):
    """Bytes that are not the canonical encoding of a contract value."""


_decoder = msgspec.msgpack.Decoder()


def decode_value_strict(data: bytes) -> Any:
    """The contract value whose canonical encoding is `data`; refuses anything else."""
    if array_keys_possible(data) and not map_keys_are_text(data):
        # refused before decoding: keys built to share a hash (`tianfu.codec_scan`)
        raise ValueBytesError("value bytes do not hold a contract value: dict keys must be str")
    try:
        value = _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ValueBytesError(f"malformed value bytes: {exc}") from None
    except RecursionError:  # nested past the decoder's limit, far past a value's 32 levels
        raise ValueBytesError(
            "value bytes do not hold a contract value: nested too deeply"
        ) from None
    if try_encode(value) != data:
        raise ValueBytesError("value bytes are not the canonical encoding of a value")
    try:
        check_value(value)  # no float, extension type or non-text key: a contract value
    except ValueTypeError as exc:
        raise ValueBytesError(f"value bytes do not hold a contract value: {exc}") from None
    return value


def check_receipt(receipt: Receipt) -> None:
    """Raise `ValueBytesError` unless a decoded receipt is one execution can write: status
    OK or FAILED, and its result and event data contract values."""
    if type(receipt.status) is not int or receipt.status not in (OK, FAILED):
        raise ValueBytesError(f"receipt status {receipt.status!r} is neither OK nor FAILED")
    try:
        check_value(receipt.result)
        for event in receipt.events:
            check_value(event.data)
    except ValueTypeError as exc:
        raise ValueBytesError(f"the receipt holds something other than values: {exc}") from None


def readable(value: Any) -> Any:
    """The readable JSON form of a contract value or a struct: bytes as hex, map keys as
    strings, a struct as the map of its fields, any other type as its text."""
    # The exact built-in types (nearly every contract value) first, by type identity; any
    # subclass or other type takes the general walk below, which gives the same answer.
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is bytes:
        return value.hex()
    if t is list:
        return [readable(v) for v in value]
    if t is dict:
        return {(k if type(k) is str else str(k)): readable(v) for k, v in value.items()}
    return _readable(value)


def _readable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, msgspec.Struct):
        return {f: readable(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, dict):
        return {str(k): readable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [readable(v) for v in value]
    return str(value)


def readable_body(body: TxBody, value: Callable[[Any], Any] = readable) -> dict[str, Any]:
    """The readable fields of a transaction's body: bytes as hex, its args rendered by `value`
    (the certificate only as `has_cert`)."""
    return {
        "chain_id": body.chain_id,
        "scheme": body.scheme,
        "signer": body.signer.hex(),
        "nonce": body.nonce,
        "expiry": body.expiry,
        "contract": body.contract,
        "method": body.method,
        "args": value(body.args),
        "has_cert": bool(body.cert),
    }
