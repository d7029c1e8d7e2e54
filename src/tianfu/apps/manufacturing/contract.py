# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The helpers it uses and does not define come from the shared contract library
# (apps/common/contract_library.py), which its deployed source puts after it, before its
# views (contract_views.py).
"""Manufacturing: purchase orders with bills of materials, subcontracted down a tree of
orders, milestones, independent quality inspections, deliveries accepted or rejected, and
settlements that never exceed an order.

A sandboxed contract (see docs/contracts.md and docs/apps/manufacturing.md). Amounts are
integer fen; times are block times in milliseconds.

Order ids are per organisation: `<organisation>/<id>`, where the organisation is the one
of the member placing the order (the buyer of a top-level order, the supplier that
subcontracts) and <id> is 1-64 letters, digits, - _ or . — an organisation name holds no
'/', so no member of another organisation can take an id first and block its owner.

State:
  order:<id>          an order: buyer, supplier (and their organisations, read from their
                      certificates on chain), bill of materials, total, due time, status,
                      settled amount, parent/root/children, counts of its records
  ms:<id>:<n>         milestone n reported by the order's supplier
  insp:<id>:<n>       inspection report n by an inspector
  alert:<root>:<n>    alert n of the tree under root: a late, overdue or rejected delivery
  po:<address>:<n>    the n-th order an address is the buyer or the supplier of
  nt:<root> / t:<root>:<n>   how many orders the tree under root has; its n-th order id in
                      the order they were placed (root first, a parent before its children)
  npo:<address>       how many orders an address is the buyer or the supplier of

Roles: buyer (places top-level orders), supplier (may be named as an order's supplier; a
supplier subcontracts parts of an order it accepted), inspector (supervisory, granted by a
vote: inspection reports, only on orders of other organisations than its own).

Statuses: placed -> in_production (accepted by the supplier) or declined; placed ->
cancelled (by the buyer); in_production -> delivered -> accepted or rejected; rejected ->
delivered again. A delivery after the due time, an overdue order and a rejected delivery
are recorded as alerts on the tree's root, which every party of the tree reads.
"""

STATUSES = ("placed", "declined", "cancelled", "in_production", "delivered", "rejected", "accepted")
OPEN = ("placed", "in_production", "delivered", "rejected")
SETTLEABLE = ("in_production", "delivered", "rejected", "accepted")
RESULTS = ("pass", "fail")
MAX_ITEMS = 50
MAX_CHILDREN = 50
MAX_DEPTH = 8
MAX_TREE = 500  # orders the `tree` view reads in one call
MAX_RECORDS = 100  # milestones or inspections (notes up to 500 characters) a view returns
# Alerts a view returns: a rejection's reason is up to 500 characters and an alert names its
# order and three organisations (61 characters each), four bytes each at the most: 80 fit
# in the 256 KiB a view returns, 75 take about 245 KB.
MAX_ALERTS = 75
# Orders a `tree_page` returns in one call: a row names its order and parent (an
# organisation of 61 characters, "/", an id of 64) and two organisations, four bytes a
# character at the most (about 1.3 KB: 195 fit in 256 KiB).
MAX_PAGE = 150
MAX_TOTAL = 10**15
ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
HEX = "0123456789abcdef"


def _id(ctx, value, what):
    ctx.require(
        isinstance(value, str) and len(value) in range(1, 65) and all(c in ID_CHARS for c in value),
        f"{what} must be 1-64 letters, digits, - _ or .",
    )


def _count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _member_org(ctx, address):
    """The organisation of a registered member address, from its certificate on chain."""
    ctx.require(
        isinstance(address, str) and len(address) == 40 and all(c in HEX for c in address),
        "an address is 40 lower-case hex characters",
    )
    cert = _member_cert(ctx, address)
    member = ctx.read("governance", "org/" + cert["org"])
    ctx.require(
        member is not None
        and member["status"] == "active"
        and not _cert_revoked(ctx, address, cert),
        f"{address} is not an active member identity (revoked, or its organisation left)",
    )
    return cert["org"]


def _bom(ctx, items):
    """The bill of materials checked: [{"part", "qty", "unit_price_fen"}], and its total."""
    ctx.require(
        isinstance(items, list) and len(items) in range(1, MAX_ITEMS + 1),
        f"a bill of materials has 1 to {MAX_ITEMS} items",
    )
    total = 0
    parts = []
    for item in items:
        ctx.require(isinstance(item, dict), "an item is {part, qty, unit_price_fen}")
        _id(ctx, item.get("part"), "a part number")
        ctx.require(item["part"] not in parts, f"part {item['part']} is listed twice")
        parts.append(item["part"])
        ctx.require(_count(item.get("qty")), f"the quantity of {item['part']} must be positive")
        price = item.get("unit_price_fen")
        ctx.require(
            isinstance(price, int) and not isinstance(price, bool) and price >= 0,
            f"the unit price of {item['part']} must be a non-negative integer of fen",
        )
        total += item["qty"] * price
        ctx.require(total <= MAX_TOTAL, f"an order's total is at most {MAX_TOTAL} fen")
    clean = [
        {"part": i["part"], "qty": i["qty"], "unit_price_fen": i["unit_price_fen"]} for i in items
    ]
    return clean, total


def _order(ctx, order_id):
    return _stored(ctx, "order:", order_id, "order")


def _index(ctx, address, order_id):
    n = ctx.get("npo:" + address, 0) + 1
    ctx.put("npo:" + address, n)
    ctx.put("po:" + address + ":" + str(n), order_id)


def _order_id(ctx, order_id):
    """Refuse an order id that is not `<the caller's organisation>/<id>`."""
    mine = ctx.sender.org + "/"
    ctx.require(
        isinstance(order_id, str) and order_id.startswith(mine),
        f"an order id placed by {ctx.sender.org} starts with '{mine}' (ids are per organisation)",
    )
    _id(ctx, order_id[len(mine) :], "an order id after '" + mine + "'")


def _new_order(ctx, order_id, parent, supplier, items, due_ms, inspection_required):
    _order_id(ctx, order_id)
    ctx.require(not ctx.has("order:" + order_id), f"order {order_id} already exists")
    ctx.require(supplier != ctx.sender.address, "an order's supplier is not its buyer")
    supplier_org = _member_org(ctx, supplier)
    ctx.require(
        "supplier" in ctx.read("governance", "roles/" + supplier, []),
        f"{supplier} does not hold the on-chain role 'supplier'",
    )
    clean, total = _bom(ctx, items)
    ctx.require(
        isinstance(due_ms, int) and not isinstance(due_ms, bool) and due_ms > ctx.time_ms,
        "the due time must be a time (ms) after now",
    )
    ctx.require(isinstance(inspection_required, bool), "inspection_required is true or false")
    order = {
        "id": order_id,
        "parent": None if parent is None else parent["id"],
        "root": order_id if parent is None else parent["root"],
        "depth": 0 if parent is None else parent["depth"] + 1,
        "buyer": ctx.sender.address,
        "buyer_org": ctx.sender.org,
        "supplier": supplier,
        "supplier_org": supplier_org,
        "items": clean,
        "total": total,
        "due_ms": due_ms,
        "inspection_required": inspection_required,
        "status": "placed",
        "settled": 0,
        "subcontracted": {},
        "children": [],
        "milestones": 0,
        "inspections": 0,
        "alerts": 0,
        "late": False,
        "delivered_ms": None,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
    }
    ctx.put("order:" + order_id, order)
    if parent is None or ctx.has("nt:" + order["root"]):  # a tree placed with its log
        n = ctx.get("nt:" + order["root"], 0) + 1
        ctx.put("nt:" + order["root"], n)
        ctx.put("t:" + order["root"] + ":" + str(n), order_id)
    _index(ctx, ctx.sender.address, order_id)
    _index(ctx, supplier, order_id)
    ctx.emit("OrderPlaced", id=order_id, root=order["root"], supplier_org=supplier_org, total=total)
    return order


def _alert(ctx, order, kind, detail):
    """Record an alert on the tree's root, which every party of the tree reads."""
    root = order if order["root"] == order["id"] else _order(ctx, order["root"])
    n = root["alerts"] + 1
    root["alerts"] = n
    ctx.put("order:" + root["id"], root)
    ctx.put(
        "alert:" + root["id"] + ":" + str(n),
        {
            "n": n,
            "order": order["id"],
            "kind": kind,
            "detail": detail,
            "buyer_org": order["buyer_org"],
            "supplier_org": order["supplier_org"],
            "due_ms": order["due_ms"],
            "by_org": ctx.sender.org,
            "height": ctx.height,
            "time_ms": ctx.time_ms,
        },
    )
    ctx.emit("TreeAlert", root=root["id"], order=order["id"], kind=kind)


def _only(ctx, order, who, what):
    ctx.require(
        order[who] == ctx.sender.address,
        f"only the {who} of order {order['id']} ({order[who + '_org']}) may {what}",
    )


def _status(ctx, order, allowed, what):
    ctx.require(
        order["status"] in allowed,
        f"order {order['id']} is {order['status']}: it cannot be {what}",
    )


def _set(ctx, order, status):
    order["status"] = status
    ctx.put("order:" + order["id"], order)
    ctx.emit("OrderStatus", id=order["id"], root=order["root"], status=status)


# -- orders -----------------------------------------------------------------------------------
def place_order(ctx, order_id, supplier, items, due_ms, inspection_required):
    """(buyer) A purchase order to `supplier` for a bill of materials, due at `due_ms`."""
    ctx.require_role("buyer")
    return _new_order(ctx, order_id, None, supplier, items, due_ms, inspection_required)


def subcontract(ctx, parent_id, order_id, supplier, items, due_ms, inspection_required):
    """(the parent's supplier) Order parts of an accepted order from another supplier: only
    parts of the parent's bill of materials, never more of a part than the parent orders,
    due no later than the parent."""
    parent = _order(ctx, parent_id)
    _only(ctx, parent, "supplier", "subcontract it")
    _status(ctx, parent, ("in_production", "rejected"), "subcontracted")
    ctx.require(parent["depth"] + 1 < MAX_DEPTH, f"a tree of orders is at most {MAX_DEPTH} deep")
    ctx.require(len(parent["children"]) < MAX_CHILDREN, "too many sub-orders of one order")
    ordered = {}
    for item in parent["items"]:
        ordered[item["part"]] = item["qty"]
    order = _new_order(ctx, order_id, parent, supplier, items, due_ms, inspection_required)
    ctx.require(due_ms <= parent["due_ms"], "a sub-order is due by its parent's due time")
    taken = parent["subcontracted"]
    for item in order["items"]:
        part = item["part"]
        ctx.require(part in ordered, f"part {part} is not in order {parent_id}'s bill of materials")
        now = taken.get(part, 0) + item["qty"]
        ctx.require(
            now <= ordered[part],
            f"{now} of part {part} subcontracted, more than the {ordered[part]} of {parent_id}",
        )
        taken[part] = now
    parent["subcontracted"] = taken
    parent["children"] = parent["children"] + [order_id]
    ctx.put("order:" + parent_id, parent)
    return order


def accept_order(ctx, order_id):
    """(supplier) Accept a placed order: production starts."""
    order = _order(ctx, order_id)
    _only(ctx, order, "supplier", "accept it")
    _status(ctx, order, ("placed",), "accepted")
    _set(ctx, order, "in_production")
    return order


def _release(ctx, order):
    """A declined or cancelled sub-order gives its parts back to its parent's quota."""
    if order["parent"] is None:
        return
    parent = _order(ctx, order["parent"])
    taken = parent["subcontracted"]
    for item in order["items"]:
        taken[item["part"]] = taken[item["part"]] - item["qty"]
    parent["subcontracted"] = taken
    ctx.put("order:" + parent["id"], parent)


def _withdraw(ctx, order_id, reason, party, status):
    """A placed order ends unaccepted: declined by its supplier or cancelled by its buyer."""
    _nonempty_text(ctx, reason, "reason", 500)
    order = _order(ctx, order_id)
    _only(ctx, order, party, "end it unaccepted")
    _status(ctx, order, ("placed",), status)
    order["reason"] = reason
    _set(ctx, order, status)
    _release(ctx, order)
    return order


def decline_order(ctx, order_id, reason):
    """(supplier) Decline a placed order."""
    return _withdraw(ctx, order_id, reason, "supplier", "declined")


def cancel_order(ctx, order_id, reason):
    """(buyer) Cancel an order its supplier has not accepted yet."""
    return _withdraw(ctx, order_id, reason, "buyer", "cancelled")


def report_milestone(ctx, order_id, name, note):
    """(supplier) A production milestone of an order in production."""
    _nonempty_text(ctx, name, "milestone", 64)
    ctx.require(
        isinstance(note, str) and len(note) <= 500, "note is text of at most 500 characters"
    )
    order = _order(ctx, order_id)
    _only(ctx, order, "supplier", "report its milestones")
    _status(ctx, order, ("in_production", "rejected"), "given milestones")
    n = order["milestones"] + 1
    order["milestones"] = n
    ctx.put("order:" + order_id, order)
    ctx.put(
        "ms:" + order_id + ":" + str(n),
        {"n": n, "name": name, "note": note, "height": ctx.height, "time_ms": ctx.time_ms},
    )
    ctx.emit("Milestone", id=order_id, root=order["root"], n=n, name=name)
    return n


def record_inspection(ctx, order_id, result, report_hash, note):
    """(inspector of another organisation) A quality inspection report: pass or fail, with
    the SHA-256 of the report document."""
    ctx.require_role("inspector")
    ctx.require(result in RESULTS, "result is 'pass' or 'fail'")
    ctx.require(
        isinstance(report_hash, str)
        and len(report_hash) == 64
        and all(c in HEX for c in report_hash),
        "report_hash must be a SHA-256 (64 lower-case hex characters)",
    )
    ctx.require(
        isinstance(note, str) and len(note) <= 500, "note is text of at most 500 characters"
    )
    order = _order(ctx, order_id)
    ctx.require(
        ctx.sender.org != order["buyer_org"] and ctx.sender.org != order["supplier_org"],
        f"an inspector of {ctx.sender.org} is not independent of order {order_id} "
        f"({order['buyer_org']} buys from {order['supplier_org']})",
    )
    _status(ctx, order, ("in_production", "delivered", "rejected"), "inspected")
    n = order["inspections"] + 1
    order["inspections"] = n
    order["inspection"] = result
    ctx.put("order:" + order_id, order)
    ctx.put(
        "insp:" + order_id + ":" + str(n),
        {
            "n": n,
            "result": result,
            "report_hash": report_hash,
            "note": note,
            "inspector": ctx.sender.address,
            "org": ctx.sender.org,
            "height": ctx.height,
            "time_ms": ctx.time_ms,
        },
    )
    ctx.emit("Inspected", id=order_id, root=order["root"], n=n, result=result)
    return n


def deliver(ctx, order_id, note_hash):
    """(supplier) Deliver an order (again after a rejection) once every sub-order is
    accepted, declined or cancelled. A delivery after the due time is recorded as late."""
    ctx.require(
        isinstance(note_hash, str) and len(note_hash) == 64 and all(c in HEX for c in note_hash),
        "note_hash must be the SHA-256 of the delivery note (64 lower-case hex characters)",
    )
    order = _order(ctx, order_id)
    _only(ctx, order, "supplier", "deliver it")
    _status(ctx, order, ("in_production", "rejected"), "delivered")
    for child_id in order["children"]:
        child = _order(ctx, child_id)
        ctx.require(
            child["status"] in ("accepted", "declined", "cancelled"),
            f"sub-order {child_id} is {child['status']}: deliver it first",
        )
    order["delivered_ms"] = ctx.time_ms
    order["delivery_note"] = note_hash
    if ctx.time_ms > order["due_ms"]:
        order["late"] = True
        _alert(ctx, order, "late", f"delivered {ctx.time_ms - order['due_ms']} ms after due")
    _set(ctx, order, "delivered")
    return order


def accept_delivery(ctx, order_id):
    """(buyer) Accept a delivery; an order that requires inspection needs a passing one."""
    order = _order(ctx, order_id)
    _only(ctx, order, "buyer", "accept its delivery")
    _status(ctx, order, ("delivered",), "accepted")
    ctx.require(
        not order["inspection_required"] or order.get("inspection") == "pass",
        f"order {order_id} requires a passing inspection before acceptance",
    )
    _set(ctx, order, "accepted")
    return order


def reject_delivery(ctx, order_id, reason):
    """(buyer) Reject a delivery: the supplier may deliver again; every party of the tree
    sees the rejection. An inspection recorded before the rejection no longer counts: an
    order that requires inspection needs a passing one recorded after it."""
    _nonempty_text(ctx, reason, "reason", 500)
    order = _order(ctx, order_id)
    _only(ctx, order, "buyer", "reject its delivery")
    _status(ctx, order, ("delivered",), "rejected")
    _alert(ctx, order, "rejected", reason)
    order["inspection"] = None  # the goods delivered again need a passing inspection of their own
    _set(ctx, order, "rejected")
    return order


def flag_overdue(ctx, order_id):
    """(anyone) Record that an order not delivered by its due time is overdue."""
    order = _order(ctx, order_id)
    _status(ctx, order, ("placed", "in_production", "rejected"), "flagged overdue")
    ctx.require(
        ctx.time_ms > order["due_ms"],
        f"order {order_id} is due at {order['due_ms']}, not overdue at {ctx.time_ms}",
    )
    ctx.require(not order["late"], f"order {order_id} is flagged late already")
    order["late"] = True
    _alert(ctx, order, "overdue", f"not delivered {ctx.time_ms - order['due_ms']} ms after due")
    ctx.put("order:" + order_id, order)
    return order


def settle(ctx, order_id, amount, payment_ref):
    """(buyer) Record a payment for an order; the payments never exceed its total."""
    ctx.require(_count(amount), "amount must be a positive integer of fen")
    _nonempty_text(ctx, payment_ref, "payment reference", 100)
    order = _order(ctx, order_id)
    _only(ctx, order, "buyer", "settle it")
    _status(ctx, order, SETTLEABLE, "settled")
    left = order["total"] - order["settled"]
    ctx.require(amount <= left, f"{amount} fen exceeds the {left} fen left to pay on {order_id}")
    order["settled"] = order["settled"] + amount
    ctx.put("order:" + order_id, order)
    ctx.emit("Settled", id=order_id, root=order["root"], amount=amount, ref=payment_ref)
    return {"order": order_id, "settled": order["settled"], "total": order["total"]}
