"""Contract values from proven bytes: decoded strictly (only the canonical encoding)."""

from __future__ import annotations

from typing import Any

import msgspec

from tianfu.codec import try_encode


class ValueBytesError(ValueError):
    """Bytes that are not the canonical encoding of a contract value."""


_decoder = msgspec.msgpack.Decoder()


def decode_value_strict(data: bytes) -> Any:
    """The contract value whose canonical encoding is `data`; refuses anything else."""
    try:
        value = _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise ValueBytesError(f"malformed value bytes: {exc}") from None
    if try_encode(value) != data:
        raise ValueBytesError("value bytes are not the canonical encoding of a value")
    return value


def readable(value: Any) -> Any:
    """The readable JSON form of a contract value: bytes as hex, map keys as strings."""
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): readable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [readable(v) for v in value]
    return str(value)
