"""The execution context a contract call runs in: buffered writes, events, gas for state access."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from tianfu.codec import decode_value, encode
from tianfu.execution.api import Caller, ContractError, OutOfGas, state_key
from tianfu.types import Event, ValueTypeError, check_value

MAX_KEY_BYTES = 256
MAX_VALUE_BYTES = 256 * 1024
MAX_EVENTS = 256
GAS_READ = 20
GAS_WRITE = 100
GAS_PER_BYTE = 1
GAS_EVENT = 50


# Reads a raw state key and returns its bytes (or None): the block overlay over committed state.
RawReader = Callable[[bytes], bytes | None]


# contract name -> its state key prefix (a pure function of the name), for the names in use
_PREFIXES: dict[str, bytes] = {}
_PREFIXES_MAX = 1024


class GasMeter:
    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, amount: int) -> None:
        self.used += amount
        if self.used > self.limit:
            raise OutOfGas(f"out of gas: limit {self.limit} exceeded")


class CallContext:
    """What `ctx` is inside a contract method. Writes stay in `self.writes` until the caller
    merges them (success) or drops them (failure)."""

    __slots__ = (
        "contract",
        "sender",
        "height",
        "time_ms",
        "tx_hash",
        "_reader",
        "_gas",
        "_read_only",
        "_prefix",
        "writes",
        "events",
    )

    def __init__(
        self,
        *,
        contract: str,
        sender: Caller,
        height: int,
        time_ms: int,
        tx_hash: str,
        reader: RawReader,
        gas: GasMeter,
        read_only: bool = False,
    ) -> None:
        self.contract = contract
        self.sender = sender
        self.height = height
        self.time_ms = time_ms
        self.tx_hash = tx_hash
        self._reader = reader
        self._gas = gas
        self._read_only = read_only
        prefix = _PREFIXES.get(contract)
        if prefix is None:  # state_key(contract, key) = prefix + key
            prefix = contract.encode() + b"/"
            if len(_PREFIXES) >= _PREFIXES_MAX:
                _PREFIXES.clear()
            _PREFIXES[contract] = prefix
        self._prefix = prefix
        self.writes: dict[bytes, bytes | None] = {}
        self.events: list[Event] = []

    # -- state ---------------------------------------------------------------------------
    def _raw(self, contract: str, key: str) -> bytes | None:
        if not isinstance(key, str):
            raise ContractError("state keys must be strings")
        k = self._prefix + key.encode() if contract is self.contract else state_key(contract, key)
        if len(k) > MAX_KEY_BYTES:
            raise ContractError(f"state key longer than {MAX_KEY_BYTES} bytes")
        gas = self._gas
        # `gas.charge(n)`, inlined (the hottest host calls): the same sum, and past the limit
        # `charge(0)` raises the very error `charge(n)` would have.
        gas.used += GAS_READ
        if gas.used > gas.limit:
            gas.charge(0)
        writes = self.writes
        raw = writes[k] if k in writes else self._reader(k)
        if raw is not None:
            gas.used += len(raw) * GAS_PER_BYTE // 8
            if gas.used > gas.limit:
                gas.charge(0)
        return raw

    def get(self, key: str, default: Any = None) -> Any:
        # `_raw(self.contract, key)`, inlined (the contract's own key: its prefix + key).
        if not isinstance(key, str):
            raise ContractError("state keys must be strings")
        k = self._prefix + key.encode()
        if len(k) > MAX_KEY_BYTES:
            raise ContractError(f"state key longer than {MAX_KEY_BYTES} bytes")
        gas = self._gas
        gas.used += GAS_READ
        if gas.used > gas.limit:
            gas.charge(0)
        writes = self.writes
        raw = writes[k] if k in writes else self._reader(k)
        if raw is None:
            return default
        gas.used += len(raw) * GAS_PER_BYTE // 8
        if gas.used > gas.limit:
            gas.charge(0)
        return decode_value(raw)

    def has(self, key: str) -> bool:
        return self._raw(self.contract, key) is not None

    def read(self, contract: str, key: str, default: Any = None) -> Any:
        """Read (only) another contract's state."""
        if not isinstance(contract, str):
            raise ContractError("contract name must be a string")
        raw = self._raw(contract, key)
        return default if raw is None else decode_value(raw)

    def put(self, key: str, value: Any) -> None:
        if self._read_only:
            raise ContractError("a read-only call cannot write state")
        if not isinstance(key, str) or not key:
            raise ContractError("state keys must be non-empty strings")
        try:
            check_value(value)
        except ValueTypeError as exc:
            raise ContractError(f"cannot store value under {key!r}: {exc}") from None
        self._store(key, value)

    def put_checked(self, key: str, value: Any) -> None:
        """`put` of a value known to pass `check_value` (the sandbox's copy of it, see
        `tianfu.execution.proxy`): the same checks, charges and failures otherwise."""
        if self._read_only:
            raise ContractError("a read-only call cannot write state")
        if not isinstance(key, str) or not key:
            raise ContractError("state keys must be non-empty strings")
        # `self._store(key, value)`, inlined (every `ctx.put` of a sandboxed contract).
        raw = encode(value)
        if len(raw) > MAX_VALUE_BYTES:
            raise ContractError(f"value under {key!r} is larger than {MAX_VALUE_BYTES} bytes")
        k = self._prefix + key.encode()
        if len(k) > MAX_KEY_BYTES:
            raise ContractError(f"state key longer than {MAX_KEY_BYTES} bytes")
        gas = self._gas
        gas.used += GAS_WRITE + len(raw) * GAS_PER_BYTE  # `gas.charge`, inlined (see `_raw`)
        if gas.used > gas.limit:
            gas.charge(0)
        self.writes[k] = raw

    def _store(self, key: str, value: Any) -> None:
        raw = encode(value)
        if len(raw) > MAX_VALUE_BYTES:
            raise ContractError(f"value under {key!r} is larger than {MAX_VALUE_BYTES} bytes")
        k = self._prefix + key.encode()
        if len(k) > MAX_KEY_BYTES:
            raise ContractError(f"state key longer than {MAX_KEY_BYTES} bytes")
        gas = self._gas
        gas.used += GAS_WRITE + len(raw) * GAS_PER_BYTE  # `gas.charge`, inlined (see `_raw`)
        if gas.used > gas.limit:
            gas.charge(0)
        self.writes[k] = raw

    def delete(self, key: str) -> None:
        if self._read_only:
            raise ContractError("a read-only call cannot write state")
        if not isinstance(key, str):
            raise ContractError("state keys must be strings")
        self._gas.charge(GAS_WRITE)
        self.writes[self._prefix + key.encode()] = None

    # -- events, checks, helpers ------------------------------------------------------------
    def emit(self, event: str, /, **data: Any) -> None:
        if self._read_only:
            return
        if not isinstance(event, str) or not event:
            raise ContractError("event name must be a non-empty string")
        if len(self.events) >= MAX_EVENTS:
            raise ContractError(f"more than {MAX_EVENTS} events in one call")
        try:
            check_value(data)
        except ValueTypeError as exc:
            raise ContractError(f"bad event data: {exc}") from None
        self._gas.charge(GAS_EVENT + len(encode(data)))
        self.events.append(Event(self.contract, event, data))

    def emit_checked(self, event: str, data: dict[str, Any]) -> None:
        """`emit(event, **data)` for a fresh dict known to pass `check_value` (the sandbox's,
        of immutable scalars only): the same checks, charges and failures otherwise; the
        event keeps `data` itself."""
        if self._read_only:
            return
        if not isinstance(event, str) or not event:
            raise ContractError("event name must be a non-empty string")
        events = self.events
        if len(events) >= MAX_EVENTS:
            raise ContractError(f"more than {MAX_EVENTS} events in one call")
        gas = self._gas
        gas.used += GAS_EVENT + len(encode(data))  # `gas.charge`, inlined (see `_raw`)
        if gas.used > gas.limit:
            gas.charge(0)
        events.append(Event(self.contract, event, data))

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise ContractError(str(message))

    def has_role(self, role: str) -> bool:
        return self.sender.has_role(role)

    def require_role(self, role: str) -> None:
        if not self.sender.has_role(role):
            raise ContractError(
                f"caller {self.sender.address} ({self.sender.org}) lacks role {role!r}"
            )

    def sha256(self, data: bytes | str) -> str:
        if isinstance(data, str):
            data = data.encode()
        if not isinstance(data, bytes):
            raise ContractError("sha256 takes bytes or str")
        self._gas.charge(30 + len(data) // 64)
        return hashlib.sha256(data).hexdigest()
