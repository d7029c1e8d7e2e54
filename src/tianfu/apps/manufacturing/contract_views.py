# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The manufacturing contract's views: `source()` puts this file after contract.py and the
# shared contract library, whose names are in scope here.

# -- views ------------------------------------------------------------------------------------
@view
def order(ctx, order_id):
    _str_arg(ctx, order_id, "order_id")
    return ctx.get("order:" + order_id)


def _records(ctx, order_id, kind, prefix, start, limit):
    """Records `start`.. (at most `limit`) of an order's `kind` (its supplier adds
    milestones and every independent inspector inspections, without bound), and how many."""
    _str_arg(ctx, order_id, "order_id")
    n = _order(ctx, order_id)[kind]
    if limit is None:  # the whole list, while it has at most MAX_RECORDS
        _whole_list(ctx, "order " + order_id, n, kind, MAX_RECORDS, kind + "_page")
        return _numbered(ctx, prefix + order_id + ":", 1, n)
    _check_page(ctx, start, limit, MAX_RECORDS)
    head = {"order": order_id}
    return _log_page(ctx, head, kind, prefix + order_id + ":", n, start, limit)


@view
def milestones(ctx, order_id):
    """An order's milestones, while it has at most MAX_RECORDS (`milestones_page` reads a
    page)."""
    return _records(ctx, order_id, "milestones", "ms:", 1, None)


@view
def milestones_page(ctx, order_id, start, limit):
    """Milestones `start`.. (1-based, at most `limit` <= MAX_RECORDS) of an order: {"order",
    "count", "start", "milestones": [...], "next"}."""
    return _records(ctx, order_id, "milestones", "ms:", start, limit)


@view
def inspections(ctx, order_id):
    """An order's inspections, while it has at most MAX_RECORDS (`inspections_page` reads a
    page)."""
    return _records(ctx, order_id, "inspections", "insp:", 1, None)


@view
def inspections_page(ctx, order_id, start, limit):
    """Inspections `start`.. (1-based, at most `limit` <= MAX_RECORDS) of an order: {"order",
    "count", "start", "inspections": [...], "next"}."""
    return _records(ctx, order_id, "inspections", "insp:", start, limit)


@view
def alerts(ctx, order_id):
    """The alerts of the whole tree `order_id` belongs to (late, overdue, rejected), while it
    has at most MAX_ALERTS; past that it is refused (`alerts_page` reads a page): every
    party of the tree, and anyone flagging its orders overdue, adds to them."""
    root = _order(ctx, _order(ctx, order_id)["root"])
    n = root["alerts"]
    _whole_list(ctx, "the tree", n, "alerts", MAX_ALERTS, "alerts_page")
    return _numbered(ctx, "alert:" + root["id"] + ":", 1, n)


@view
def alerts_page(ctx, order_id, start, limit):
    """Alerts `start`.. (1-based, at most `limit` <= MAX_ALERTS) of the tree `order_id`
    belongs to: {"root", "count", "start", "alerts": [...], "next"}."""
    root = _order(ctx, _order(ctx, order_id)["root"])
    _check_page(ctx, start, limit, MAX_ALERTS)
    n = root["alerts"]
    head = {"root": root["id"]}
    return _log_page(ctx, head, "alerts", "alert:" + root["id"] + ":", n, start, limit)


def _text_bytes(s):
    return 0 if s is None else (len(s) if s.isascii() else 4 * len(s))


def _tree_row_bytes(row):
    """At least the bytes a row of `tree` takes when returned: its texts, and 250 for its
    keys, numbers and headers."""
    texts = (row["id"], row["parent"], row["buyer_org"], row["supplier_org"], row["status"])
    return 250 + sum([_text_bytes(t) for t in texts])


def _tree_row(ctx, o):
    return {
        "id": o["id"],
        "parent": o["parent"],
        "depth": o["depth"],
        "buyer_org": o["buyer_org"],
        "supplier_org": o["supplier_org"],
        "status": o["status"],
        "total": o["total"],
        "settled": o["settled"],
        "due_ms": o["due_ms"],
        "delivered_ms": o["delivered_ms"],
        "late": o["late"],
        "overdue": o["status"] in ("placed", "in_production", "rejected")
        and ctx.time_ms > o["due_ms"],
    }


@view
def tree(ctx, order_id):
    """Every order of the tree `order_id` belongs to, root first (breadth first), each with
    whether it is overdue now (open past its due time, by block time); refused for a tree
    of more than MAX_TREE orders, or more than one view returns (read it with `tree_page`):
    every party of the tree adds sub-orders, each named by an id of up to 64 characters."""
    out = []
    queue = [_order(ctx, order_id)["root"]]
    size = 0
    while queue:
        ctx.require(
            len(out) < MAX_TREE,
            f"the tree has more than {MAX_TREE} orders: read it a page at a time with tree_page",
        )
        o = _order(ctx, queue.pop(0))
        queue.extend(o["children"])
        row = _tree_row(ctx, o)
        size += _tree_row_bytes(row)
        ctx.require(
            size <= _SIZED_BUDGET,
            "the tree is more than one view returns: read it a page at a time with tree_page",
        )
        out.append(row)
    return out


@view
def tree_page(ctx, order_id, start, limit):
    """Orders `start`.. (1-based, at most `limit` <= MAX_PAGE) of the tree `order_id` belongs
    to, in the order they were placed (root first, a parent before its children), as in
    `tree`: {"root", "count", "start", "orders": [...], "next"}; "next" is the `start` of
    the following page, or None after the last."""
    root = _order(ctx, order_id)["root"]
    _check_page(ctx, start, limit, MAX_PAGE)
    n = ctx.get("nt:" + root)
    ctx.require(n is not None, f"the tree of {root} was placed before the paged index: use tree")
    ids = _numbered(ctx, "t:" + root + ":", start, min(n, start + limit - 1))
    return {
        "root": root,
        "count": n,
        "start": start,
        "orders": [_tree_row(ctx, _order(ctx, i)) for i in ids],
        "next": _next_page(start, limit, n),
    }


@view
def orders_of(ctx, address, start, limit):
    """Orders `start`.. (1-based, at most `limit` <= 200) that `address` buys or supplies."""
    ctx.require(isinstance(address, str), "address is a string")
    _check_page(ctx, start, limit)
    return _page(ctx, "po:" + address + ":", ctx.get("npo:" + address, 0), start, limit)
