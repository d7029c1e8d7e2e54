"""SDK helpers for the ip_rights contract: works, transfers, licences, evidence, disputes."""

from __future__ import annotations

from typing import Any

from tianfu.client import Client, Result

CONTRACT = "ip_rights"


class IpRights:
    """Operations and queries of the `ip_rights` contract through an SDK `Client`."""

    def __init__(self, client: Client, contract: str = CONTRACT) -> None:
        self.client = client
        self.contract = contract

    def _invoke(self, method: str, *args: Any) -> Result:
        return self.client.invoke(self.contract, method, *args)

    # -- operations -------------------------------------------------------------------------
    def register_work(
        self, content_hash: str, title: str, authors: list[str], work_type: str
    ) -> str:
        return str(
            self._invoke("register_work", content_hash, title, list(authors), work_type).result
        )

    def transfer_work(self, work_id: str, to: str, to_org: str, price_fen: int = 0) -> bool:
        return bool(self._invoke("transfer_work", work_id, to, to_org, price_fen).result)

    def grant_licence(
        self,
        work_id: str,
        licensee: str,
        licensee_org: str,
        *,
        exclusive: bool,
        scope: str,
        start: str,
        end: str,
        fee_fen: int = 0,
    ) -> str:
        return str(
            self._invoke(
                "grant_licence",
                work_id,
                licensee,
                licensee_org,
                exclusive,
                scope,
                start,
                end,
                fee_fen,
            ).result
        )

    def surrender_licence(self, licence_id: str) -> bool:
        return bool(self._invoke("surrender_licence", licence_id).result)

    def link_evidence(self, work_id: str, deposit_id: str, note: str) -> int:
        return int(self._invoke("link_evidence", work_id, deposit_id, note).result)

    def open_dispute(
        self, work_id: str, kind: str, claim: str, evidence: list[str] | None = None
    ) -> str:
        return str(self._invoke("open_dispute", work_id, kind, claim, list(evidence or [])).result)

    def resolve_dispute(self, dispute_id: str, outcome: str, ruling: str) -> Any:
        return self._invoke("resolve_dispute", dispute_id, outcome, ruling).result

    # -- queries ------------------------------------------------------------------------------
    def work(self, work_id: str) -> Any:
        return self.client.query(self.contract, "work", work_id)

    def work_by_hash(self, content_hash: str) -> str | None:
        return self.client.query(self.contract, "work_by_hash", content_hash)  # type: ignore[no-any-return]

    def licence(self, licence_id: str) -> Any:
        return self.client.query(self.contract, "licence", licence_id)

    def licences(self, work_id: str) -> list[Any]:
        return list(self.client.query(self.contract, "licences", work_id))

    def dispute(self, dispute_id: str) -> Any:
        return self.client.query(self.contract, "dispute", dispute_id)

    def history(self, work_id: str) -> list[Any]:
        return list(self.client.query(self.contract, "history", work_id))

    def ownership_history(self, work_id: str) -> list[Any]:
        return list(self.client.query(self.contract, "ownership_history", work_id))
