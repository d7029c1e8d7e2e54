"""The one gas meter of a transaction: gas left, tracked memory left, contract call depth.

The executor creates one `Meter` per transaction (or query) and charges everything to it:
the transaction's base cost, the context's state access, every step of the contract's code
and every byte it allocates. The sandbox binds it to the contract's module instance for the
call (`Runtime.bind`), so there is no second meter to add up afterwards: an out-of-gas
receipt records everything consumed.

The charge is written once, as source (`charge_source`): the meter's own methods are made
from it, and the sandbox's instrumenter inlines the very same statements into every
function entry (see `tianfu.execution.instrument`). `left` and `mem` may go negative: once
they do, every later charge fails again (even a charge of 0), so a contract that catches
the error cannot buy more time or memory.
"""

from __future__ import annotations

from typing import Any, NoReturn

from tianfu.execution.contract_api import ContractError, OutOfGas
from tianfu.execution.costs import MAX_TX_MEMORY, MEM_BYTES_PER_GAS
from tianfu.execution.limits import MAX_CALL_DEPTH


class MemoryLimitExceeded(ContractError):
    """The call allocated more than `MAX_TX_MEMORY` bytes by the sandbox's memory model."""


class CallTooDeep(ContractError):
    """The call nested more than `MAX_CALL_DEPTH` contract functions."""


def charge_source(meter: str, gas: str, mem: str | None, enter: bool) -> str:
    """Statements that charge `gas` (and `mem` bytes, if given) to the meter named `meter`,
    and with `enter` also enter one level of call depth. `gas`/`mem` are expressions."""
    lines = [f"{meter}.left -= {gas}"]
    if mem is not None:
        lines.append(f"{meter}.mem -= {mem}")
        lines.append(f"if {meter}.left < 0 or {meter}.mem < 0:")
    else:
        lines.append(f"if {meter}.left < 0:")
    lines.append(f"    {meter}.fail()")
    if enter:
        lines.append(f"if {meter}.depth >= {MAX_CALL_DEPTH}:")
        lines.append(f"    {meter}.too_deep()")
        lines.append(f"{meter}.depth += 1")
    return "\n".join(lines) + "\n"


def _method(name: str, params: str, body: str) -> Any:
    src = f"def {name}(self, {params}):\n" + "".join("    " + ln + "\n" for ln in body.splitlines())
    namespace: dict[str, Any] = {}
    exec(compile(src, f"<meter.{name}>", "exec"), namespace)  # noqa: S102 - our own template
    return namespace[name]


class Meter:
    """Gas and memory left, and the contract call depth, of one transaction or query."""

    __slots__ = ("limit", "left", "mem", "depth", "hashed", "dummies", "host_failure")

    def __init__(self, limit: int, memory: int = MAX_TX_MEMORY) -> None:
        if type(limit) is not int or limit < 0:
            raise ValueError("gas_limit must be a non-negative integer")
        self.limit = limit
        self.left = limit
        self.mem = memory
        self.depth = 0
        # Dict keys that can share a hash, stored by this transaction (`keys.store_key`).
        self.hashed: dict[int, list[Any]] | None = None
        # Dicts this transaction deleted keys from, by id (`keys.deleted`).
        self.dummies: dict[int, list[Any]] | None = None
        # A state read the host failed (the store locked, an I/O error): the call ends
        # with it, even if the contract caught it (`CallContext._raw`, the sandbox).
        self.host_failure: BaseException | None = None

    @property
    def used(self) -> int:
        """Gas consumed so far (at most the limit: a failed charge consumed all of it)."""
        left = self.left
        return self.limit - left if left >= 0 else self.limit

    @property
    def exhausted(self) -> bool:
        return self.left < 0 or self.mem < 0

    def out_of_gas(self) -> OutOfGas:
        return OutOfGas(f"out of gas: the call used more than its {self.limit} gas")

    def fail(self) -> NoReturn:
        """Raise what a failed charge raises: out of gas first, else out of memory."""
        if self.left < 0:
            raise self.out_of_gas()
        raise MemoryLimitExceeded(
            f"memory limit exceeded: the call allocated more than {MAX_TX_MEMORY} bytes"
        )

    def too_deep(self) -> NoReturn:
        raise CallTooDeep(f"maximum call depth of {MAX_CALL_DEPTH} exceeded (too deep recursion)")

    # charge(gas); alloc(nbytes) and charge_alloc(gas, nbytes), which also charge the
    # bytes' gas; spend(gas, nbytes) and enter(gas, nbytes), which do not: all made from
    # `charge_source`.
    charge = _method("charge", "gas", charge_source("self", "gas", None, False))
    alloc = _method(
        "alloc",
        "nbytes",
        charge_source("self", f"nbytes // {MEM_BYTES_PER_GAS}", "nbytes", False),
    )
    charge_alloc = _method(
        "charge_alloc",
        "gas, nbytes",
        charge_source("self", f"gas + nbytes // {MEM_BYTES_PER_GAS}", "nbytes", False),
    )
    spend = _method("spend", "gas, nbytes", charge_source("self", "gas", "nbytes", False))
    enter = _method("enter", "gas, nbytes", charge_source("self", "gas", "nbytes", True))

    def leave(self) -> None:
        self.depth -= 1

    def error(self) -> ContractError | None:
        """The error the call ends with if the meter ran out (even if the contract caught
        it), else None."""
        if self.left < 0:
            return self.out_of_gas()
        if self.mem < 0:
            try:
                self.fail()
            except MemoryLimitExceeded as exc:
                return exc
        return None
