"""SDK for the manufacturing contract: orders, subcontracts, milestones, inspections,
deliveries, settlements and the views every party of an order tree reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from tianfu.apps.common.sdk import ContractSDK, view
from tianfu.apps.manufacturing import NAME


@dataclass(frozen=True)
class Item:
    """One line of a bill of materials: a part number, a quantity and a unit price in fen."""

    part: str
    qty: int
    unit_price_fen: int

    def encode(self) -> dict[str, Any]:
        return {"part": self.part, "qty": self.qty, "unit_price_fen": self.unit_price_fen}


def bom(*items: Item | tuple[str, int, int]) -> list[dict[str, Any]]:
    """A bill of materials from Items or (part, qty, unit_price_fen) tuples."""
    return [(i if isinstance(i, Item) else Item(*i)).encode() for i in items]


def document_hash(data: bytes | str) -> str:
    """The SHA-256 (hex) of a delivery note or an inspection report."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


class Manufacturing(ContractSDK):
    """Operations and queries of the `manufacturing` contract; a refused call raises
    `tianfu.client.errors.TxFailed`. Suppliers are named by address; their organisation is
    the one their certificate on chain names."""

    CONTRACT = NAME

    # -- operations -------------------------------------------------------------------------
    def place_order(
        self,
        order_id: str,
        supplier: str,
        items: list[dict[str, Any]],
        due_ms: int,
        inspection_required: bool = True,
    ) -> dict[str, Any]:
        args = (order_id, supplier, items, due_ms, inspection_required)
        return dict(self._invoke("place_order", *args))

    def subcontract(
        self,
        parent_id: str,
        order_id: str,
        supplier: str,
        items: list[dict[str, Any]],
        due_ms: int,
        inspection_required: bool = True,
    ) -> dict[str, Any]:
        args = (parent_id, order_id, supplier, items, due_ms, inspection_required)
        return dict(self._invoke("subcontract", *args))

    def accept_order(self, order_id: str) -> dict[str, Any]:
        return dict(self._invoke("accept_order", order_id))

    def decline_order(self, order_id: str, reason: str) -> dict[str, Any]:
        return dict(self._invoke("decline_order", order_id, reason))

    def cancel_order(self, order_id: str, reason: str) -> dict[str, Any]:
        return dict(self._invoke("cancel_order", order_id, reason))

    def report_milestone(self, order_id: str, name: str, note: str = "") -> int:
        return int(self._invoke("report_milestone", order_id, name, note))

    def record_inspection(
        self, order_id: str, result: str, report_hash: str, note: str = ""
    ) -> int:
        return int(self._invoke("record_inspection", order_id, result, report_hash, note))

    def deliver(self, order_id: str, note_hash: str) -> dict[str, Any]:
        return dict(self._invoke("deliver", order_id, note_hash))

    def accept_delivery(self, order_id: str) -> dict[str, Any]:
        return dict(self._invoke("accept_delivery", order_id))

    def reject_delivery(self, order_id: str, reason: str) -> dict[str, Any]:
        return dict(self._invoke("reject_delivery", order_id, reason))

    def flag_overdue(self, order_id: str) -> dict[str, Any]:
        return dict(self._invoke("flag_overdue", order_id))

    def settle(self, order_id: str, amount: int, payment_ref: str) -> dict[str, Any]:
        return dict(self._invoke("settle", order_id, amount, payment_ref))

    # -- queries ----------------------------------------------------------------------------
    def order(self, order_id: str) -> dict[str, Any] | None:
        found = self._query("order", order_id)
        return None if found is None else dict(found)

    tree = view("order_id", returns=list)
    alerts = view("order_id", returns=list)
    milestones = view("order_id", returns=list)
    inspections = view("order_id", returns=list)
    orders_of = view("address", returns=list, start=1, limit=200)


__all__ = ["Item", "Manufacturing", "bom", "document_hash"]
