"""SDK helpers for supply-chain finance: one method per contract operation and query."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from tianfu.apps.common.sdk import ContractSDK, following, view, walk_pages
from tianfu.apps.supply_finance import NAME
from tianfu.client.errors import ApiError

MAX_LAZY_CLAIMS = 50  # the contract's: unfiled invoice claims `issue` files itself


def doc_hash(data: bytes | str) -> str:
    """The SHA-256 (hex) of a contract or invoice document, as `issue` expects it."""
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


class SupplyFinance(ContractSDK):
    """Calls the `supply_finance` contract; a refused call raises
    `tianfu.client.errors.TxFailed` (its `.error` is the contract's message)."""

    CONTRACT = NAME

    # -- operations ------------------------------------------------------------------------
    def enrol(self, display_name: str) -> dict[str, Any]:
        return dict(self._invoke("enrol", display_name))

    _claims_filed = False  # this SDK saw every invoice claim filed (they stay filed)

    def issue(self, supplier: str, amount: int, maturity_ms: int, document_hash: str) -> str:
        """Issue a receivable; on a chain upgraded from a source before the claims by
        organisation, first file the claims `issue` would not file itself."""
        if not self._claims_filed:
            try:
                done = self.claims_indexed()
            except ApiError:  # e.g. a deployed source before the claims by organisation
                done = None  # `issue` itself refuses, saying what to run, if it must
            if done is not None:
                if done["issued"] - done["indexed"] > MAX_LAZY_CLAIMS:
                    self.index_all_claims()
                self._claims_filed = True
        return str(self._invoke("issue", supplier, amount, maturity_ms, document_hash))

    def accept(self, rid: str) -> str:
        return str(self._invoke("accept", rid))

    def reject(self, rid: str, reason: str) -> str:
        return str(self._invoke("reject", rid, reason))

    def split(self, rid: str, amounts: list[int]) -> list[str]:
        return list(self._invoke("split", rid, list(amounts)))

    def transfer(self, rid: str, to: str) -> str:
        return str(self._invoke("transfer", rid, to))

    def split_transfer(self, rid: str, amount: int, to: str) -> dict[str, Any]:
        return dict(self._invoke("split_transfer", rid, amount, to))

    def apply_pledge(self, rid: str, bank: str) -> str:
        return str(self._invoke("apply_pledge", rid, bank))

    def cancel_pledge(self, rid: str) -> str:
        return str(self._invoke("cancel_pledge", rid))

    def approve_pledge(self, rid: str, amount: int, rate_bp: int) -> str:
        return str(self._invoke("approve_pledge", rid, amount, rate_bp))

    def reject_pledge(self, rid: str, reason: str) -> str:
        return str(self._invoke("reject_pledge", rid, reason))

    def disburse(self, rid: str, payment_ref: str) -> str:
        return str(self._invoke("disburse", rid, payment_ref))

    def release_pledge(self, rid: str) -> str:
        return str(self._invoke("release_pledge", rid))

    def repay(self, rid: str, payment_ref: str = "") -> list[dict[str, Any]]:
        return list(self._invoke("repay", rid, payment_ref))

    def index_claims(self, limit: int = 200) -> dict[str, Any]:
        """File the invoice claims of up to `limit` more receivables issued before the
        claims were kept per organisation (`issue` files the last 50 itself)."""
        return dict(self._invoke("index_claims", limit))

    def index_all_claims(self) -> int:
        """Call `index_claims` until every receivable's claim is filed; how many calls."""
        calls = 0
        while True:
            done = self.claims_indexed()
            if done["indexed"] >= done["issued"]:
                return calls
            self.index_claims()
            calls += 1

    def audit(self, rid: str) -> dict[str, Any]:
        """The regulator's recorded audit of the full tree of `rid` (at most 500 parts)."""
        return dict(self._invoke("audit", rid))

    def audit_page(self, rid: str, start: int = 1, limit: int = 100) -> dict[str, Any]:
        """The regulator's recorded audit of parts `start`.. of the tree of `rid`."""
        return dict(self._invoke("audit_page", rid, start, limit))

    # -- queries ---------------------------------------------------------------------------
    get = view("rid", returns=dict)

    def party(self, address: str) -> dict[str, Any] | None:
        result = self._query("party", address)
        return None if result is None else dict(result)

    lineage = view("rid", returns=list)
    holdings = view("address", returns=list)
    holding_count = view("address", returns=int)
    holdings_page = view("address", returns=dict, start=1, limit=200)
    overdue = view(returns=list)
    overdue_page = view(returns=dict, start=1, limit=200)
    open_receivables = view(returns=list)
    open_count = view(returns=int)
    open_page = view(returns=dict, start=1, limit=200)
    invoice_claim = view("org", "doc_hash")
    claims_indexed = view(returns=dict)
    transfers_page = view("rid", returns=dict, start=1, limit=200)
    pledges_page = view("rid", returns=dict, start=1, limit=200)
    tree_totals = view("rid", returns=dict)
    tree_page = view("rid", returns=dict, start=1, limit=100)

    def all_holdings(self, address: str, limit: int = 200) -> list[dict[str, Any]]:
        """Everything `address` holds, read a page (`holdings_page`) at a time."""
        return walk_pages(
            lambda start: self.holdings_page(address, start=start, limit=limit), "holdings"
        )

    def all_open(self, limit: int = 200) -> list[str]:
        """Every open receivable's id, read a page (`open_page`) at a time."""
        return walk_pages(lambda start: self.open_page(start=start, limit=limit), "ids")

    def paged_totals(self, rid: str) -> dict[str, Any]:
        """`tree_totals` of a tree of any size, read a page (`tree_page`) at a time."""
        return paged_totals(self._query, rid)


def paged_totals(query: Callable[..., Any], rid: str, limit: int = 100) -> dict[str, Any]:
    """The figures of `tree_totals` combined from the pages of `tree_page` (`query(method,
    *args)` asks the node): conserved when every page is and the pages' unsplit unrejected
    amounts sum to the original's (parts are only added, so no page skips or repeats one)."""
    pages: list[dict[str, Any]] = []
    start: int | None = 1
    while start is not None:
        pages.append(query("tree_page", rid, start, limit))
        start = following(pages[-1], start)
    first = pages[0]
    rejected = first["nodes"][0]["status"] == "rejected"
    leaves = sum(p["leaves"] for p in pages)
    return {
        "root": first["root"],
        "amount": first["amount"],
        "conserved": all(p["conserved"] for p in pages) and (rejected or leaves == first["amount"]),
        "outstanding": sum(p["outstanding"] for p in pages),
        "paid": sum(p["paid"] for p in pages),
        "parts": pages[-1]["parts"],
    }


__all__ = ["SupplyFinance", "doc_hash", "paged_totals"]
