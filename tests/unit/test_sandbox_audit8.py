"""Regression tests of the eighth hostile audit of the sandbox: a transaction whose outcome
(gas, error) depended on a node's caches, and work a contract could make the host do that
its gas did not pay for.

Each fails on the code before its fix.
"""

from __future__ import annotations

from typing import Any

from tianfu.execution.context import CallContext
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.meter import Meter
from tianfu.execution.sandbox import compile_contract

_SENDER = Caller("c" * 40, "org1", "audit", "member", frozenset())


def _call(compiled: Any, args: list[Any], gas: int, memory: int) -> tuple[str, int]:
    """(outcome, gas used) of `f(ctx, *args)` under a meter of `gas` and `memory`."""
    meter = Meter(gas, memory=memory)
    store: dict[bytes, bytes] = {}
    ctx = CallContext(
        contract="t",
        sender=_SENDER,
        height=1,
        time_ms=1,
        tx_hash="00",
        reader=store.get,
        gas=meter,
    )
    try:
        result, used = compiled.call(ctx, "f", args, meter)
    except ContractError as exc:
        return f"error: {exc}", exc.gas_used  # type: ignore[attr-defined]
    return f"ok: {result!r}", used


# -- a shared module instance and a call that cannot pay for the module's top level -------------

# A top level that allocates ~1.6 MB of tracked memory, then works ~200,000 gas: the values it
# binds are immutable, so its instance is kept and reused.
_HEAVY_TOP = """
A = len((0,) * 100_000)
B = sum(range(200_000))

def f(ctx, *args):
    return len(args)
"""


def test_a_warm_instance_gives_the_outcome_of_a_fresh_module_when_the_top_level_runs_out() -> None:
    """A reused module instance charged its whole recorded setup at once (`Meter.spend`),
    while a module executed afresh stops at the charge that runs out: a call whose memory
    ran out inside the top level (its arguments' copy took the room) used ~200,000 more gas
    on a node holding an idle instance (warmed by an earlier call or query) than on one
    without (restarted, or its instance busy with a query), and a gas budget between the two
    failed with "out of gas" on one and "memory limit exceeded" on the other: receipts, and
    so blocks, differed between nodes. A call that cannot pay the setup now runs the module
    afresh."""
    memory = 2_000_000
    arg = [list(range(40_000))]  # its copy takes ~640 KB of the 2 MB
    cold = compile_contract(_HEAVY_TOP + "\n# cold\n")
    warm = compile_contract(_HEAVY_TOP + "\n# warm\n")
    assert _call(warm, [], 10**7, memory)[0] == "ok: 0"  # sets up the instance kept
    assert len(warm.instances._free) == 1
    for gas in (10**7, 150_000):
        expected = _call(cold, arg, gas, memory)
        assert not cold.instances._free  # never set up: every call runs the module afresh
        assert "memory limit exceeded" in expected[0]
        assert expected[1] < 100_000  # it stops before the top level's sum
        assert _call(warm, arg, gas, memory) == expected
    assert len(warm.instances._free) == 1  # kept for the calls that can pay the setup
    outcome, used = _call(warm, [], 10**7, memory)
    assert outcome == "ok: 0" and used > 200_000
