"""A compiled application contract called in-process: a dict-backed context with on-chain
roles and governance reads, one block per call, a failed call reverting its writes."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from tianfu.codec import encode
from tianfu.execution.context import CallContext
from tianfu.execution.contract_api import Caller, ContractError, state_key
from tianfu.execution.meter import Meter
from tianfu.execution.sandbox import CompiledContract

ALICE, BOB, CAROL, DAVE = "a" * 40, "b" * 40, "c" * 40, "d" * 40


class Ctx:
    """A dict-backed context with on-chain roles and governance reads."""

    def __init__(self, contract: str, roles: dict[str, list[str]] | None = None) -> None:
        self.contract = contract
        self.sender = Caller(ALICE, "org1", "alice", "member")
        self.height = 1
        self.time_ms = 1_700_000_000_000
        self.tx_hash = "ab" * 32
        self.state: dict[str, Any] = {}
        self.roles = roles or {}
        self.governance: dict[str, Any] = {
            "roles/" + who: list(held) for who, held in self.roles.items()
        }

    def get(self, key: str, default: Any = None) -> Any:
        """A fresh copy, as the chain's context decodes one from the state each time: a
        record a call changes in place and then fails does not stay changed."""
        return copy.deepcopy(self.state.get(key, default))

    def has(self, key: str) -> bool:
        return key in self.state

    def put(self, key: str, value: Any) -> None:
        self.state[key] = value

    def delete(self, key: str) -> None:
        self.state.pop(key, None)

    def emit(self, name: str, **data: Any) -> None:
        pass

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise ContractError(message)

    def has_role(self, role: str) -> bool:
        return role in self.roles.get(self.sender.address, [])

    def require_role(self, role: str) -> None:
        if not self.has_role(role):
            raise ContractError(f"role {role} required")

    def read(self, contract: str, key: str, default: Any = None) -> Any:
        if contract == "governance":
            return self.governance.get(key, default)
        return default


class Local:
    """Calls of one compiled contract as `sender`, one block per call; a failed call
    reverts its writes."""

    def __init__(self, c: CompiledContract, ctx: Ctx) -> None:
        self.c, self.ctx = c, ctx

    def call(self, sender: str, method: str, *args: Any, org: str = "org1") -> Any:
        return self.gas(sender, method, *args, org=org)[0]

    def _signs(self, sender: str, org: str) -> None:
        """As on the chain: a signer's certificate is registered with its first transaction,
        and only an identity of a member organisation transacts."""
        gov = self.ctx.governance
        gov.setdefault("cert/" + sender, {"org": org, "serial": sender[:8], "fingerprint": ""})
        gov.setdefault("org/" + org, {"status": "active"})

    def gas(self, sender: str, method: str, *args: Any, org: str = "org1") -> tuple[Any, int]:
        self._signs(sender, org)
        roles = frozenset(self.ctx.roles.get(sender, []))  # as `ctx.has_role` answers
        self.ctx.sender = Caller(sender, org, sender[:3], "member", roles)
        self.ctx.height += 1
        self.ctx.time_ms += 1000
        self.ctx.tx_hash = secrets.token_hex(32)
        before = dict(self.ctx.state)
        try:
            return self.c.call(self.ctx, method, list(args), 5_000_000)
        except ContractError:
            self.ctx.state = before
            raise

    def chain_gas(
        self, sender: str, method: str, *args: Any, org: str = "org1", limit: int = 1_000_000
    ) -> tuple[Any, int]:
        """`method` run as the chain runs it, on its own `CallContext` over this state (every
        state read, write and event charged by the byte, which `gas` does not charge) with
        `limit` gas (a transaction's or a view's 1,000,000 by default): (result, gas used).
        Its writes are dropped; it raises ContractError (`OutOfGas` past `limit`)."""
        ctx = self.ctx
        self._signs(sender, org)
        raw = {state_key(ctx.contract, k): encode(v) for k, v in ctx.state.items()}
        for k, v in ctx.governance.items():
            raw[state_key("governance", k)] = encode(v)
        roles = frozenset(ctx.roles.get(sender, []))
        meter = Meter(limit)
        call = CallContext(
            contract=ctx.contract,
            sender=Caller(sender, org, sender[:3], "member", roles),
            height=ctx.height + 1,
            time_ms=ctx.time_ms + 1000,
            tx_hash=secrets.token_hex(32),
            reader=raw.get,
            gas=meter,
        )
        return self.c.call(call, method, list(args), meter)
