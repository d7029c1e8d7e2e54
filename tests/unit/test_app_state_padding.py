"""No account can make another account's later calls slower or fail by writing into state
those calls read: each application's lists that other parties add to stay out of the paths of
the victim's calls (the gas of the victim's call is the same before and after the padding)."""

from __future__ import annotations

import secrets
from typing import Any

from tianfu.apps import fund_supervision
from tianfu.execution.contract_api import Caller, ContractError
from tianfu.execution.sandbox import CompiledContract, compile_contract

ALICE, BOB, CAROL = "a" * 40, "b" * 40, "c" * 40


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
        return self.state.get(key, default)

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

    def call(self, sender: str, method: str, *args: Any) -> Any:
        return self.gas(sender, method, *args)[0]

    def gas(self, sender: str, method: str, *args: Any) -> tuple[Any, int]:
        self.ctx.sender = Caller(sender, "org1", sender[:3], "member")
        self.ctx.height += 1
        self.ctx.time_ms += 1000
        self.ctx.tx_hash = secrets.token_hex(32)
        before = dict(self.ctx.state)
        try:
            return self.c.call(self.ctx, method, list(args), 5_000_000)
        except ContractError:
            self.ctx.state = before
            raise


# -- fund_supervision: the refusal log -----------------------------------------------------------
def _funds() -> Local:
    app = Local(
        compile_contract(fund_supervision.source()),
        Ctx("fund_supervision", {ALICE: ["fund_authority"]}),
    )
    now = app.ctx.time_ms
    app.call(ALICE, "create_fund", "f1", "relief", 1_000, now - 1, now + 10**9)
    return app


def test_a_strangers_refused_attempts_do_not_slow_another_partys_attempts() -> None:
    app = _funds()
    _, first = app.gas(ALICE, "attempt_allocate", "f1", "", "nowhere", 5, "")
    _, first_unknown = app.gas(CAROL, "attempt_allocate", "no-fund", "", "x", 5, "")
    for _ in range(300):  # a stranger's refused attempts, on the fund and on no fund
        app.call(BOB, "attempt_allocate", "f1", "", "nowhere", 5, "")
        app.call(BOB, "attempt_allocate", "no-fund", "", "x", 5, "")
    _, later = app.gas(ALICE, "attempt_allocate", "f1", "", "nowhere", 5, "")
    _, later_unknown = app.gas(CAROL, "attempt_allocate", "no-fund", "", "x", 5, "")
    assert (later, later_unknown) == (first, first_unknown)
    assert app.call(BOB, "refusal_count", "f1") == 302
    shown = app.call(BOB, "refusals", "f1")
    assert len(shown) == 200 and shown[-1]["by"] == ALICE and shown[0]["seq"] < shown[-1]["seq"]
    page = app.call(BOB, "refusal_page", "f1", 1, 3)
    assert [r["by"] for r in page] == [ALICE, BOB, BOB]
    report = app.call(BOB, "report", "f1", None)
    assert report["refusal_count"] == 302 and report["refusals"] == shown
