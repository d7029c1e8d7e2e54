"""SDK helpers for the ip_rights contract: works, transfers, licences, evidence, disputes."""

from __future__ import annotations

from typing import Any

from tianfu.apps.common.sdk import ContractSDK, view, walk_log

CONTRACT = "ip_rights"


class IpRights(ContractSDK):
    """Operations and queries of the `ip_rights` contract through an SDK `Client`.

    A new owner or licensee is named by its address only: its organisation is the one its
    certificate on chain names (an address that never transacted is refused)."""

    CONTRACT = CONTRACT

    # -- operations -------------------------------------------------------------------------
    def register_work(
        self, content_hash: str, title: str, authors: list[str], work_type: str
    ) -> str:
        return str(self._invoke("register_work", content_hash, title, list(authors), work_type))

    def transfer_work(self, work_id: str, to: str, price_fen: int = 0) -> bool:
        return bool(self._invoke("transfer_work", work_id, to, price_fen))

    def grant_licence(
        self,
        work_id: str,
        licensee: str,
        *,
        exclusive: bool,
        scope: str,
        start: str,
        end: str,
        fee_fen: int = 0,
    ) -> str:
        args = (work_id, licensee, exclusive, scope, start, end, fee_fen)
        return str(self._invoke("grant_licence", *args))

    def surrender_licence(self, licence_id: str) -> bool:
        return bool(self._invoke("surrender_licence", licence_id))

    def link_evidence(self, work_id: str, deposit_id: str, note: str) -> int:
        return int(self._invoke("link_evidence", work_id, deposit_id, note))

    def open_dispute(
        self, work_id: str, kind: str, claim: str, evidence: list[str] | None = None
    ) -> str:
        return str(self._invoke("open_dispute", work_id, kind, claim, list(evidence or [])))

    def withdraw_dispute(self, dispute_id: str, reason: str) -> bool:
        """The claimant withdraws its open dispute."""
        return bool(self._invoke("withdraw_dispute", dispute_id, reason))

    def resolve_dispute(self, dispute_id: str, outcome: str, ruling: str) -> Any:
        return self._invoke("resolve_dispute", dispute_id, outcome, ruling)

    # -- queries ------------------------------------------------------------------------------
    work = view("work_id")

    def work_by_hash(self, content_hash: str) -> str | None:
        found = self._query("work_by_hash", content_hash)
        return None if found is None else str(found)

    licence = view("licence_id")
    licences = view("work_id", returns=list)
    dispute = view("dispute_id")
    history = view("work_id", returns=list)
    history_page = view("work_id", returns=list, start=1, limit=80)

    def all_history(self, work_id: str, limit: int = 80) -> list[dict[str, Any]]:
        """A work's whole history, oldest first, read a page (`history_page`) at a time."""
        out: list[dict[str, Any]] = []
        while True:
            page = self.history_page(work_id, start=len(out) + 1, limit=limit)
            out.extend(page)
            if len(page) < limit:
                return out

    ownership_history = view("work_id", returns=list)
    ownership_page = view("work_id", returns=dict, start=1, limit=200)

    def all_ownership(self, work_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """A work's registration and transfers, oldest first, read a page
        (`ownership_page`) at a time."""
        return walk_log(lambda s: self.ownership_page(work_id, start=s, limit=limit), "entries")
