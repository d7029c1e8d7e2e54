"""SDK helpers for fund supervision: one method per contract operation and query."""

from __future__ import annotations

import hashlib
from typing import Any

from tianfu.apps.common.sdk import ContractSDK, view
from tianfu.apps.fund_supervision import NAME

POOL = ""  # the source account meaning "the fund's own pool"


def beneficiary_hash(identity_number: str, salt: str) -> str:
    """The salted SHA-256 (hex) under which a beneficiary is registered. The salt is a secret
    kept by the registering office; only the hash goes on chain."""
    if not salt:
        raise ValueError("a non-empty salt is required: an unsalted ID number hash is guessable")
    return hashlib.sha256(f"tianfu/beneficiary/v1|{salt}|{identity_number}".encode()).hexdigest()


def doc_hash(data: bytes | str) -> str:
    """The SHA-256 (hex) of a supporting document."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


class FundSupervision(ContractSDK):
    """Calls the `fund_supervision` contract; a refused call raises
    `tianfu.client.errors.TxFailed`, except the `attempt_*` calls, which record a refusal and
    return {"ok": False, "code", "reason", "refusal"}."""

    CONTRACT = NAME

    # -- operations ------------------------------------------------------------------------
    def enrol(self, display_name: str) -> dict[str, Any]:
        return dict(self._invoke("enrol", display_name))

    def register_account(
        self, account_id: str, name: str, level: str, parent_id: str, manager: str
    ) -> dict[str, Any]:
        return dict(self._invoke("register_account", account_id, name, level, parent_id, manager))

    def register_beneficiary(
        self, account_id: str, id_hash: str, purposes: list[str]
    ) -> dict[str, Any]:
        return dict(self._invoke("register_beneficiary", account_id, id_hash, list(purposes)))

    def create_fund(
        self, fund_id: str, purpose: str, total: int, start_ms: int, end_ms: int
    ) -> dict[str, Any]:
        return dict(self._invoke("create_fund", fund_id, purpose, total, start_ms, end_ms))

    def allocate(
        self, fund_id: str, from_id: str, to_id: str, amount: int, memo: str = ""
    ) -> dict[str, Any]:
        return dict(self._invoke("allocate", fund_id, from_id, to_id, amount, memo))

    def attempt_allocate(
        self, fund_id: str, from_id: str, to_id: str, amount: int, memo: str = ""
    ) -> dict[str, Any]:
        return dict(self._invoke("attempt_allocate", fund_id, from_id, to_id, amount, memo))

    def disburse(
        self, fund_id: str, account_id: str, id_hash: str, amount: int, purpose: str, doc: str
    ) -> dict[str, Any]:
        """Pay a beneficiary (once per fund, or its next planned instalment) for `purpose`,
        with the SHA-256 `doc` of the supporting document."""
        return dict(self._invoke("disburse", fund_id, account_id, id_hash, amount, purpose, doc))

    def attempt_disburse(self, *args: Any) -> dict[str, Any]:
        """`disburse(...)`, but a refusal is recorded on chain and returned, not raised."""
        return dict(self._invoke("attempt_disburse", *args))

    def plan_instalments(
        self, fund_id: str, account_id: str, id_hash: str, instalments: list[int]
    ) -> dict[str, Any]:
        """Allow paying a beneficiary from a fund in these instalments (in order, each of its
        amount) instead of once; only before its first payment from that fund."""
        args = (fund_id, account_id, id_hash, list(instalments))
        return dict(self._invoke("plan_instalments", *args))

    # -- queries ---------------------------------------------------------------------------
    def party(self, address: str) -> dict[str, Any] | None:
        result = self._query("party", address)
        return None if result is None else dict(result)

    account = view("account_id", returns=dict)
    accounts = view(returns=list)
    fund = view("fund_id", returns=dict)
    funds = view(returns=list)
    balance = view("fund_id", "account_id", returns=dict)

    def beneficiary(self, id_hash: str) -> dict[str, Any] | None:
        result = self._query("beneficiary", id_hash)
        return None if result is None else dict(result)

    def payments(self, fund_id: str, id_hash: str) -> dict[str, Any]:
        """A beneficiary's plan (None: one payment) and the amounts paid from a fund."""
        return dict(self._query("payments", fund_id, id_hash))

    movements = view("fund_id", returns=list, start=1, limit=200)
    trace = view("fund_id", "id_hash", returns=dict)
    allocations_into = view("fund_id", "account_id", returns=list, start=1, limit=200)
    refusals = view("fund_id", returns=list)
    refusal_count = view("fund_id", returns=int)
    refusal_page = view("fund_id", returns=list, start=1, limit=200)
    report = view("fund_id", returns=dict, idle_ms=None)


__all__ = ["POOL", "FundSupervision", "beneficiary_hash", "doc_hash"]
