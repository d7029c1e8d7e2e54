"""SDK for the city governance contract: departments, cases and their public statistics."""

from __future__ import annotations

import hashlib
from typing import Any

from tianfu.apps.city_governance import NAME
from tianfu.apps.common.sdk import ContractSDK, view


def reporter_hash(contact: str, salt: str) -> str:
    """The salted SHA-256 (hex) under which a service centre records a citizen. The salt is
    the centre's secret; only the hash goes on chain."""
    if not salt:
        raise ValueError("a non-empty salt is required: an unsalted phone number hash is guessable")
    return hashlib.sha256(f"tianfu/citizen/v1|{salt}|{contact}".encode()).hexdigest()


def details_hash(text: bytes | str) -> str:
    """The SHA-256 (hex) of a complaint's full text, which the service centre keeps."""
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


class CityGovernance(ContractSDK):
    """Operations and queries of the `city_governance` contract; a refused call raises
    `tianfu.client.errors.TxFailed`."""

    CONTRACT = NAME

    # -- operations -------------------------------------------------------------------------
    def register_department(self, dept_id: str, name: str, org: str, sla_ms: int) -> Any:
        return self._invoke("register_department", dept_id, name, org, sla_ms)

    def file_case(
        self,
        case_id: str,
        category: str,
        location: str,
        summary: str,
        *,
        priority: str = "normal",
        details: str = "",
        reporter: str = "",
        sensor_ref: str = "",
    ) -> dict[str, Any]:
        """File a case: `details` is the SHA-256 of the complaint, `reporter` the citizen's
        salted hash (`reporter_hash`); a sensor gives `sensor_ref` instead."""
        args = (case_id, category, priority, location, summary, details, reporter, sensor_ref)
        return dict(self._invoke("file_case", *args))

    def dispatch(self, case_id: str, dept_id: str) -> dict[str, Any]:
        return dict(self._invoke("dispatch", case_id, dept_id))

    def transfer(self, case_id: str, to_dept: str, reason: str) -> dict[str, Any]:
        return dict(self._invoke("transfer", case_id, to_dept, reason))

    def handle(self, case_id: str, result: str, evidence_hash: str) -> dict[str, Any]:
        return dict(self._invoke("handle", case_id, result, evidence_hash))

    def check(self, case_id: str, passed: bool, note: str) -> dict[str, Any]:
        return dict(self._invoke("check", case_id, passed, note))

    def reopen(self, case_id: str, reason: str) -> dict[str, Any]:
        return dict(self._invoke("reopen", case_id, reason))

    def flag_overdue(self, case_id: str) -> dict[str, Any]:
        return dict(self._invoke("flag_overdue", case_id))

    # -- queries ----------------------------------------------------------------------------
    case = view("case_id", returns=dict)
    history = view("case_id", returns=list)
    history_page = view("case_id", returns=dict, start=1, limit=100)
    departments = view(returns=list)
    stats = view(returns=list)
    overdue = view(returns=list)
    overdue_in = view("dept_id", returns=dict, start=1, limit=200)
    cases = view(returns=list, start=1, limit=200)


__all__ = ["CityGovernance", "details_hash", "reporter_hash"]
