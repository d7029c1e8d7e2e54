"""SDK for the manufacturing contract: orders, subcontracts, milestones, inspections,
deliveries, settlements and the views every party of an order tree reads."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from tianfu.apps.common.sdk import ContractSDK, operation, view
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
    # items: a bill of materials (`bom`); due_ms: a block time in ms
    place_order = operation(
        "order_id", "supplier", "items", "due_ms", inspection_required=True, returns=dict
    )
    subcontract = operation(
        "parent_id",
        "order_id",
        "supplier",
        "items",
        "due_ms",
        inspection_required=True,
        returns=dict,
    )
    accept_order = operation("order_id", returns=dict)
    decline_order = operation("order_id", "reason", returns=dict)
    cancel_order = operation("order_id", "reason", returns=dict)
    report_milestone = operation("order_id", "name", note="", returns=int)
    record_inspection = operation("order_id", "result", "report_hash", note="", returns=int)
    deliver = operation("order_id", "note_hash", returns=dict)
    accept_delivery = operation("order_id", returns=dict)
    reject_delivery = operation("order_id", "reason", returns=dict)
    flag_overdue = operation("order_id", returns=dict)
    settle = operation("order_id", "amount", "payment_ref", returns=dict)

    # -- queries ----------------------------------------------------------------------------
    def order(self, order_id: str) -> dict[str, Any] | None:
        found = self._query("order", order_id)
        return None if found is None else dict(found)

    tree = view("order_id", returns=list)
    tree_page = view("order_id", returns=dict, start=1, limit=150)
    alerts = view("order_id", returns=list)
    alerts_page = view("order_id", returns=dict, start=1, limit=75)
    milestones = view("order_id", returns=list)
    milestones_page = view("order_id", returns=dict, start=1, limit=100)
    inspections = view("order_id", returns=list)
    inspections_page = view("order_id", returns=dict, start=1, limit=100)
    orders_of = view("address", returns=list, start=1, limit=200)


__all__ = ["Item", "Manufacturing", "bom", "document_hash"]
