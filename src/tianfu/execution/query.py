"""Queries: a view run read-only on committed state, outside any block.

A query gets a meter of its own, with the gas limit a transaction of the next block would
have, and an anonymous caller; only a view may run. Its result leaves as a transaction's
does: a sandboxed view's is the sandbox's checked copy (`copy_value`, paid with the view's
gas, at most `MAX_RESULT_BYTES`), a native view's is checked here. A state read the host
fails — the chain's parameters or the contract's record before the call, or the view's
own reads — raises `StateUnreadable` ("the node cannot read its state now; try again
later"), which the API answers with 503.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tianfu.execution.block_result import FLAT_RESULTS
from tianfu.execution.context import CallContext, RawReader
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.errors import HostResourceError, StateUnreadable, host_read_failure
from tianfu.execution.meter import Meter
from tianfu.types import ValueTypeError, check_value

if TYPE_CHECKING:
    from tianfu.execution.executor import Executor


def run_query(
    ex: Executor,
    contract: str,
    method: str,
    args: list[Any],
    reader: RawReader,
    height: int,
    time_ms: int,
) -> Any:
    """`Executor.query`: the view `contract.method(*args)` read-only on the state `reader`
    reads (that of block `height`, made at `time_ms`). Raises ContractError
    (`StateUnreadable` if the host fails a state read)."""
    try:
        check_value(args)
    except ValueTypeError as exc:
        raise ContractError(f"bad argument: {exc}") from None
    try:
        return _run(ex, contract, method, args, reader, height, time_ms)
    except ContractError:
        raise
    except Exception as exc:
        if host_read_failure(exc):  # a read before the call: the chain's parameters, the contract
            raise StateUnreadable() from None
        raise


def _run(
    ex: Executor,
    contract: str,
    method: str,
    args: list[Any],
    reader: RawReader,
    height: int,
    time_ms: int,
) -> Any:
    try:  # a view gets the gas limit of the next block
        limit = ex.params_for(height + 1).max_gas_per_tx
    except ValueError:  # a height the ledger cannot tell the parameters of
        limit = ex.params.max_gas_per_tx
    gas = Meter(limit)
    ctx = CallContext(
        contract=contract,
        sender=Caller(address="", org="", name="query", kind="query"),
        height=height,
        time_ms=time_ms,
        tx_hash="",
        reader=reader,
        gas=gas,
        read_only=True,
    )
    methods, views = ex._methods(contract, reader)
    if method not in methods:
        raise ContractError(f"contract {contract!r} has no method {method!r}")
    if method not in views:
        raise ContractError(f"{contract}.{method} changes state; only views can be queried")
    try:
        result, _ = ex._call(ctx, contract, method, args, gas, reader)
    except HostResourceError:
        raise ContractError("the query ran out of the node's memory or stack") from None
    except Exception:
        if gas.host_failure is None:
            raise
        raise StateUnreadable() from None
    # As in a transaction: a sandboxed view's result is the sandbox's checked copy
    # (`copy_value`, paid with the view's gas, at most `MAX_RESULT_BYTES`), not walked
    # again; a native view's is checked here (built from state reads paid by the byte).
    if type(result) not in FLAT_RESULTS and contract in ex.native:
        try:
            check_value(result)
        except ValueTypeError as exc:
            raise ContractError(f"bad return value: {exc}") from None
    return result
