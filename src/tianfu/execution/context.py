"""The execution context a contract call runs in: buffered writes, events, state-access gas.

A `CallContext` charges the transaction's one `Meter` (`tianfu.execution.meter`) for state
access by the figures of `tianfu.execution.costs` (reads by bytes read, writes by bytes
written, events by bytes emitted), and caps what one transaction may leave behind
(`tianfu.execution.limits`): bytes written, events, and the receipt's bytes, counted as
they are produced. A decoded value counts its bytes against the meter's memory too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tianfu.codec import decode_value, encode
from tianfu.execution.contract_api import Caller, ContractError, state_key
from tianfu.execution.costs import (  # noqa: F401 - GAS_WRITE re-exported
    GAS_READ,
    GAS_WRITE,
    event_gas,
    read_gas,
    sha256_gas,
    write_gas,
)
from tianfu.execution.errors import HostReadError
from tianfu.execution.limits import (
    MAX_EVENT_BYTES,
    MAX_EVENT_NAME,
    MAX_EVENTS,
    MAX_RECEIPT_BYTES,
    MAX_TX_WRITE_BYTES,
)
from tianfu.execution.meter import Meter
from tianfu.execution.walk import decoded_mem
from tianfu.types import Event, ValueTypeError, check_value

MAX_KEY_BYTES = 256
MAX_VALUE_BYTES = 256 * 1024
GAS_PER_BYTE = 1  # kept for readers of the old names: see `costs`
GAS_EVENT = 50
EVENT_OVERHEAD_BYTES = 16  # an event's struct and field headers in the receipt

# The meter of a transaction (the class was called GasMeter when the context had its own).
GasMeter = Meter

# Reads a raw state key and returns its bytes (or None): the block overlay over committed state.
RawReader = Callable[[bytes], bytes | None]


# contract name -> its state key prefix (a pure function of the name), for the names in use
_PREFIXES: dict[str, bytes] = {}
_PREFIXES_MAX = 1024


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
        "written",
        "receipt_bytes",
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
        gas: Meter,
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
        self.written = 0  # bytes of keys and values written by this transaction
        self.receipt_bytes = 0  # bytes of the events emitted so far

    @property
    def meter(self) -> Meter:
        return self._gas

    @contextmanager
    def acting_as(self, contract: str) -> Iterator[CallContext]:
        """Within the block, state reads and writes (and events) are those of `contract`: a
        native contract that keeps its state in another's namespace (the staking contract
        in governance's, next to the validator set it writes)."""
        saved = self.contract, self._prefix
        self.contract, self._prefix = contract, contract.encode() + b"/"
        try:
            yield self
        finally:
            self.contract, self._prefix = saved

    # -- state ---------------------------------------------------------------------------
    # Each access is one charge: `extra` (the sandbox's `CTX_GAS` for the call, when the
    # proxy calls), the access's own cost, and the bytes read or written.
    def _key(self, contract: str, key: Any) -> bytes:
        if type(key) is not str:
            raise ContractError("state keys must be strings")
        if len(key) > MAX_KEY_BYTES:
            raise ContractError(f"state key longer than {MAX_KEY_BYTES} bytes")
        k = self._prefix + key.encode() if contract is self.contract else state_key(contract, key)
        if len(k) > MAX_KEY_BYTES:
            raise ContractError(f"state key longer than {MAX_KEY_BYTES} bytes")
        return k

    def _raw(self, k: bytes, extra: int) -> bytes | None:
        writes = self.writes
        try:
            raw = writes[k] if k in writes else self._reader(k)
        except Exception as exc:  # the host's read failed: no outcome of the transaction
            failure = HostReadError(f"reading state failed: {type(exc).__name__}: {exc}")
            self._gas.host_failure = failure
            raise failure from exc
        self._gas.charge(extra + GAS_READ + (0 if raw is None else read_gas(len(raw))))
        return raw

    def peek(self, contract: str, key: str) -> Any:
        """Another contract's state value (None if absent) read without a gas charge: for a
        native contract only (the sandbox's proxy has no such method), to choose which of
        its rules is in force at this height before it does anything else, so that a chain
        made before a rule existed replays with the gas it used then
        (`tianfu.contracts.staking.possession_required`)."""
        k = self._key(contract, key)
        writes = self.writes
        try:
            raw = writes[k] if k in writes else self._reader(k)
        except Exception as exc:  # the host's read failed: no outcome of the transaction
            failure = HostReadError(f"reading state failed: {type(exc).__name__}: {exc}")
            self._gas.host_failure = failure
            raise failure from exc
        return None if raw is None else decode_value(raw)

    def _decode(self, raw: bytes) -> Any:
        value = decode_value(raw)
        if len(raw) > 9:  # a scalar of up to 9 bytes decodes to a small object
            decoded_mem(self._gas, value)
        return value

    def get(self, key: str, default: Any = None, extra: int = 0) -> Any:
        if type(key) is str and len(key) <= MAX_KEY_BYTES:  # `_key` of this contract's key
            k = self._prefix + key.encode()
            if len(k) > MAX_KEY_BYTES:
                k = self._key(self.contract, key)  # raises
        else:
            k = self._key(self.contract, key)  # raises
        raw = self._raw(k, extra)
        if raw is None:
            return default
        value = decode_value(raw)
        if len(raw) > 9:  # (what `_decode` does, written out here)
            decoded_mem(self._gas, value)
        return value

    def has(self, key: str, extra: int = 0) -> bool:
        return self._raw(self._key(self.contract, key), extra) is not None

    def read(self, contract: str, key: str, default: Any = None, extra: int = 0) -> Any:
        """Read (only) another contract's state."""
        if type(contract) is not str:
            raise ContractError("contract name must be a string")
        raw = self._raw(self._key(contract, key), extra)
        return default if raw is None else self._decode(raw)

    def put(self, key: str, value: Any) -> None:
        if self._read_only:
            raise ContractError("a read-only call cannot write state")
        if type(key) is not str or not key:
            raise ContractError("state keys must be non-empty strings")
        try:
            check_value(value)
        except ValueTypeError as exc:
            raise ContractError(f"cannot store value: {exc}") from None
        self.put_checked(key, value)

    def put_checked(self, key: str, value: Any, extra: int = 0, floor: int = 0) -> None:
        """`put` of a value known to pass `check_value` (the sandbox's copy of it, see
        `tianfu.execution.proxy`): the same checks, charges and failures otherwise. `floor`,
        a lower bound of the size of the value's encoding (`walk.encoded_floor`), refuses a
        value surely too big before it is encoded (the same failure, no encoding made)."""
        if self._read_only:
            raise ContractError("a read-only call cannot write state")
        if type(key) is not str or not key:
            raise ContractError("state keys must be non-empty strings")
        k = self._key(self.contract, key)
        if floor > MAX_VALUE_BYTES:
            raise ContractError(f"stored value larger than {MAX_VALUE_BYTES} bytes")
        raw = encode(value)
        if len(raw) > MAX_VALUE_BYTES:
            raise ContractError(f"stored value larger than {MAX_VALUE_BYTES} bytes")
        self._write(k, raw, len(raw), extra)

    def _write(self, k: bytes, raw: bytes | None, nbytes: int, extra: int) -> None:
        written = self.written + len(k) + nbytes
        if written > MAX_TX_WRITE_BYTES:
            raise ContractError(f"the transaction writes more than {MAX_TX_WRITE_BYTES} bytes")
        self._gas.charge(extra + write_gas(len(k), nbytes))
        self.written = written
        self.writes[k] = raw

    def delete(self, key: str, extra: int = 0) -> None:
        if self._read_only:
            raise ContractError("a read-only call cannot write state")
        self._write(self._key(self.contract, key), None, 0, extra)

    # -- events, checks, helpers ------------------------------------------------------------
    def emit(self, event: str, /, **data: Any) -> None:
        try:
            check_value(data)
        except ValueTypeError as exc:
            raise ContractError(f"bad event data: {exc}") from None
        self.emit_checked(event, data)

    def emit_checked(
        self, event: str, data: dict[str, Any], extra: int = 0, floor: int = 0
    ) -> None:
        """`emit(event, **data)` for a fresh dict known to pass `check_value` (the
        sandbox's copy): the same checks, charges and failures otherwise; the event keeps
        `data` itself. `floor`, a lower bound of the size of its encoding, refuses data
        surely too big before it is encoded (as `put_checked`)."""
        if self._read_only:
            return
        if type(event) is not str or not event:
            raise ContractError("event name must be a non-empty string")
        if len(event) > MAX_EVENT_NAME:
            raise ContractError(f"event name longer than {MAX_EVENT_NAME} characters")
        events = self.events
        if len(events) >= MAX_EVENTS:
            raise ContractError(f"more than {MAX_EVENTS} events in one transaction")
        if floor > MAX_EVENT_BYTES:
            raise ContractError(f"event {event} is larger than {MAX_EVENT_BYTES} bytes")
        raw = encode(data)
        if len(raw) > MAX_EVENT_BYTES:
            raise ContractError(f"event {event} is larger than {MAX_EVENT_BYTES} bytes")
        name_bytes = len(event.encode())
        total = self.receipt_bytes + EVENT_OVERHEAD_BYTES + name_bytes + len(raw)
        if total > MAX_RECEIPT_BYTES:
            raise ContractError(f"the receipt would be larger than {MAX_RECEIPT_BYTES} bytes")
        self._gas.charge(extra + event_gas(name_bytes, len(raw)))
        self.receipt_bytes = total
        events.append(Event(self.contract, event, data))

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise ContractError(str(message))

    def has_role(self, role: str) -> bool:
        return self.sender.has_role(role)

    def require_role(self, role: str) -> None:
        if not self.sender.has_role(role):
            raise ContractError(
                f"caller {self.sender.address} ({self.sender.org}) lacks role {role!r}"[:300]
            )

    def sha256(self, data: bytes | str) -> str:
        if type(data) is str:
            self._gas.charge(sha256_gas(len(data) * (1 if data.isascii() else 4)))
            try:
                data = data.encode()
            except UnicodeEncodeError:
                raise ContractError("sha256: text with a lone surrogate") from None
        elif type(data) is bytes:
            self._gas.charge(sha256_gas(len(data)))
        else:
            raise ContractError("sha256 takes bytes or str")
        return hashlib.sha256(data).hexdigest()


__all__ = [
    "CallContext",
    "GAS_EVENT",
    "GAS_PER_BYTE",
    "GAS_READ",
    "GAS_WRITE",
    "GasMeter",
    "MAX_EVENTS",
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "Meter",
    "RawReader",
]
