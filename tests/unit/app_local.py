"""A compiled application contract called in-process: a dict-backed context with on-chain
roles and governance reads, one block per call, a failed call reverting its writes."""

from __future__ import annotations

import copy
import secrets
from typing import Any

from tianfu.execution.contract_api import Caller, ContractError
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

    def gas(self, sender: str, method: str, *args: Any, org: str = "org1") -> tuple[Any, int]:
        self.ctx.sender = Caller(sender, org, sender[:3], "member")
        self.ctx.height += 1
        self.ctx.time_ms += 1000
        self.ctx.tx_hash = secrets.token_hex(32)
        before = dict(self.ctx.state)
        try:
            return self.c.call(self.ctx, method, list(args), 5_000_000)
        except ContractError:
            self.ctx.state = before
            raise
