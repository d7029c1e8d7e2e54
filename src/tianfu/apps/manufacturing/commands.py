"""`tianfu app manufacturing ...`: purchase orders, subcontracts, milestones, inspections,
deliveries and settlements; the tree of orders and its alerts.

A bill of materials is given as PART=QTY@UNIT_PRICE_FEN items (`brake-disc=200@4500`).
Amounts are typed in integer fen and printed in yuan; a SUPPLIER is an address or an
identity directory.
"""

from __future__ import annotations

import re
from typing import Any

from tianfu.apps.common import inputs
from tianfu.apps.common.commands import (
    NUMBER,
    TIME,
    CommandTable,
    arg,
    opt,
    record_view,
    table_view,
    tx,
    view,
)
from tianfu.apps.common.errors import BadInput
from tianfu.apps.common.params import AMOUNT, address, document
from tianfu.apps.common.readable import Readable
from tianfu.apps.manufacturing import NAME

ITEM_RE = re.compile(r"^([A-Za-z0-9._-]{1,64})=(\d+)@(\d+)\Z")


def items(texts: list[str]) -> list[dict[str, Any]]:
    """PART=QTY@UNIT_PRICE_FEN items as a bill of materials."""
    out = []
    for text in texts:
        m = ITEM_RE.match(text)
        if m is None:
            raise BadInput(f"item {text!r} must look like PART=QTY@UNIT_PRICE_FEN")
        out.append({"part": m.group(1), "qty": int(m.group(2)), "unit_price_fen": int(m.group(3))})
    return out


ORDER = arg("order_id", help="Order id.")
SUPPLIER = address("supplier", "Supplier: address or identity directory.")
ITEMS = arg("items", list[str], "Bill of materials: PART=QTY@UNIT_PRICE_FEN ...", parse=items)
DUE = opt("due", help="Due time: ms, YYYY-MM-DD[THH:MM], or +N d|h|m|s.", parse=inputs.time_ms)
SUPPLIER_ORG = ("supplier_org", "supplier")  # the column of a supplier's organisation
INSPECTION = opt(
    "inspection",
    bool,
    "Whether acceptance needs a passing inspection.",
    default=True,
    flag="--inspection/--no-inspection",
)

COMMANDS = CommandTable(
    contract=NAME,
    help="Manufacturing: purchase orders, subcontracting trees, inspections, deliveries.",
    readable=Readable(money=frozenset({"total", "settled", "amount"})),
    wrap_json=True,
    commands=(
        tx(
            "place",
            "(buyer) Place a purchase order with a supplier for a bill of materials.",
            ORDER,
            SUPPLIER,
            ITEMS,
            DUE,
            INSPECTION,
            method="place_order",
        ),
        tx(
            "subcontract",
            "(the parent order's supplier) Order parts of PARENT from another supplier.",
            arg("parent_id", help="The order whose parts are subcontracted."),
            ORDER,
            SUPPLIER,
            ITEMS,
            DUE,
            INSPECTION,
        ),
        tx("accept", "(supplier) Accept a placed order.", ORDER, method="accept_order"),
        tx(
            "decline",
            "(supplier) Decline a placed order.",
            ORDER,
            arg("reason"),
            method="decline_order",
        ),
        tx(
            "cancel",
            "(buyer) Cancel an order not accepted yet.",
            ORDER,
            arg("reason"),
            method="cancel_order",
        ),
        tx(
            "milestone",
            "(supplier) Report a production milestone.",
            ORDER,
            arg("name"),
            opt("note", default=""),
            method="report_milestone",
        ),
        tx(
            "inspect",
            "(inspector, of neither party's organisation) Record a quality inspection.",
            ORDER,
            arg("result", help="pass or fail."),
            document("report", "The report", option=True),
            opt("note", default=""),
            method="record_inspection",
        ),
        tx(
            "deliver",
            "(supplier) Deliver an order (again, after a rejection).",
            ORDER,
            document("note", "The delivery note"),
        ),
        tx("accept-delivery", "(buyer) Accept a delivery.", ORDER),
        tx(
            "reject-delivery",
            "(buyer) Reject a delivery; every party of the tree sees it.",
            ORDER,
            arg("reason"),
        ),
        tx("flag-overdue", "Record that an order is past its due time undelivered.", ORDER),
        tx(
            "settle",
            "(buyer) Record a payment; payments never exceed the order's total.",
            ORDER,
            AMOUNT,
            opt("ref", help="Payment reference."),
        ),
        record_view("show", "Show an order.", ORDER, method="order", title="order {order_id}"),
        table_view(
            "tree",
            "The whole tree of orders ORDER belongs to, with late and overdue flags.",
            ORDER,
            columns=("id", "parent", ("buyer_org", "buyer"), SUPPLIER_ORG, "status", "total")
            + ("settled", ("due_ms", "due"), "late", "overdue"),
            title="orders of the tree of {order_id}",
        ),
        view(
            "tree-page",
            "A page of the orders of ORDER's tree, in the order they were placed (for trees "
            "past 500 orders, or too large, which 'tree' refuses); 'next' is the --start of the "
            "following page.",
            ORDER,
            opt("start", int, default=1),
            opt("limit", int, default=150),
        ),
        table_view(
            "alerts",
            "Late, overdue and rejected deliveries anywhere in ORDER's tree (refused past "
            "75: use alerts-page).",
            ORDER,
            columns=(NUMBER, "order", "kind", "detail", SUPPLIER_ORG, TIME),
            title="alerts of the tree of {order_id}",
        ),
        view(
            "alerts-page",
            "A page of the alerts of ORDER's tree; 'next' is the --start of the following page.",
            ORDER,
            opt("start", int, default=1),
            opt("limit", int, default=75),
            method="alerts_page",
        ),
        table_view(
            "milestones",
            "An order's milestones (refused past 100: use milestones-page).",
            ORDER,
            columns=("n", "name", "note", "time_ms"),
        ),
        view(
            "milestones-page",
            "A page of an order's milestones; 'next' is the --start of the following page.",
            ORDER,
            opt("start", int, default=1),
            opt("limit", int, default=100),
            method="milestones_page",
        ),
        table_view(
            "inspections",
            "An order's inspection reports (refused past 100: use inspections-page).",
            ORDER,
            columns=("n", "result", "org", "report_hash", "time_ms"),
        ),
        view(
            "inspections-page",
            "A page of an order's inspection reports; 'next' is the --start of the following page.",
            ORDER,
            opt("start", int, default=1),
            opt("limit", int, default=100),
            method="inspections_page",
        ),
        view(
            "orders",
            "The orders an address buys or supplies.",
            address("who"),
            opt("start", int, default=1),
            opt("limit", int, default=200),
            method="orders_of",
        ),
    ),
)
