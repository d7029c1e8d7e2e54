# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The supply_finance contract's audit and views: `source()` puts this file after contract.py
# and the shared contract library, whose names are in scope here.

# -- audit --------------------------------------------------------------------------------
def _tree_summary(ctx, rid):
    record = _load(ctx, rid)
    root = _load(ctx, record["root"])
    nodes = _subtree(ctx, root)
    conserved = True
    outstanding = 0
    paid = 0
    financed = 0
    by_id = {}
    for n in nodes:
        by_id[n["id"]] = n
    flat = []
    for n in nodes:
        if n["children"]:
            if sum(by_id[c]["amount"] for c in n["children"]) != n["amount"]:
                conserved = False
        elif n["status"] == "paid":
            paid += n["amount"]
        elif n["status"] == "active":
            outstanding += n["amount"]
            if n["pledge"] is not None and n["pledge"]["status"] == "disbursed":
                financed += n["pledge"]["amount"]
        flat.append(
            {
                "id": n["id"],
                "parent": n["parent"],
                "depth": n["depth"],
                "amount": n["amount"],
                "holder": n["holder"],
                "status": n["status"],
                "pledge": n["pledge"],
                "pledges": n["pledges"],
                "transfers": n["transfers"],
                "payment": n["payment"],
            }
        )
    leaves = sum(n["amount"] for n in nodes if not n["children"] and n["status"] != "rejected")
    if root["status"] != "rejected" and leaves != root["amount"]:
        conserved = False
    return {
        "root": root["id"],
        "issuer": root["issuer"],
        "amount": root["amount"],
        "maturity_ms": root["maturity_ms"],
        "doc_hash": root["doc_hash"],
        "conserved": conserved,
        "outstanding": outstanding,
        "paid": paid,
        "financed": financed,
        "nodes": flat,
    }


def audit(ctx, rid):
    """A regulator's recorded audit of the whole tree that `rid` belongs to."""
    ctx.require_role("regulator")
    summary = _tree_summary(ctx, rid)
    ctx.emit("Audited", root=summary["root"], by=ctx.sender.address, conserved=summary["conserved"])
    return summary


# -- views --------------------------------------------------------------------------------
@view
def get(ctx, rid):
    return _load(ctx, rid)


@view
def lineage(ctx, rid):
    """The chain of parts from the original receivable down to `rid`."""
    out = [_load(ctx, rid)]
    while out[-1]["parent"] is not None:
        out.append(_load(ctx, out[-1]["parent"]))
    return [
        {"id": r["id"], "amount": r["amount"], "holder": r["holder"], "status": r["status"]}
        for r in reversed(out)
    ]


def _page_args(ctx, start, limit):
    ctx.require(
        isinstance(start, int) and not isinstance(start, bool) and start >= 1,
        "start must be an integer >= 1",
    )
    ctx.require(
        isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 200,
        "limit must be 1..200",
    )


@view
def holdings(ctx, address):
    """What `address` holds now (issued, active, pledged or paid parts), while it holds at
    most MAX_HOLDINGS; past that it is refused: `holdings_page` reads them a page at a time."""
    if not isinstance(address, str):
        return []
    name = "held:" + address
    n = _set_count(ctx, name)
    ctx.require(
        n <= MAX_HOLDINGS,
        f"{address} holds {n} receivables and parts, more than {MAX_HOLDINGS}: "
        "read them a page at a time with holdings_page",
    )
    return [_load(ctx, x) for x in _set_items(ctx, name, 1, n)]


@view
def holding_count(ctx, address):
    """How many receivables and parts `address` holds now."""
    return _set_count(ctx, "held:" + address) if isinstance(address, str) else 0


@view
def holdings_page(ctx, address, start, limit):
    """Holdings `start`.. (1-based) of `address`, at most `limit` (<= 200)."""
    _page_args(ctx, start, limit)
    if not isinstance(address, str):
        return []
    return [_load(ctx, x) for x in _set_items(ctx, "held:" + address, start, limit)]


def _overdue_parts(ctx, rid):
    """The unpaid parts past maturity of the open receivable `rid`, with who is owed."""
    root = _load(ctx, rid)
    if root["maturity_ms"] >= ctx.time_ms or root["status"] == "issued":
        return []
    out = []
    for part in _subtree(ctx, root):
        if part["status"] != "active":
            continue
        pledge = part["pledge"]
        financed = pledge is not None and pledge["status"] == "disbursed"
        out.append(
            {
                "id": part["id"],
                "root": rid,
                "issuer": part["issuer"],
                "holder": part["holder"],
                "payee": pledge["bank"] if financed else part["holder"],
                "amount": part["amount"],
                "maturity_ms": part["maturity_ms"],
                "overdue_ms": ctx.time_ms - part["maturity_ms"],
            }
        )
    return out


def _open_walk(ctx, what):
    """The ids of every open receivable, refused past MAX_OPEN (`what` reads a page)."""
    n = _set_count(ctx, "open")
    ctx.require(
        n <= MAX_OPEN,
        f"{n} receivables are open, more than {MAX_OPEN}: read them a page at a time with {what}",
    )
    return _set_items(ctx, "open", 1, n)


@view
def overdue(ctx):
    """Unpaid parts past their maturity (by block time), with who is owed, while at most
    MAX_OPEN receivables are open; past that it is refused (`overdue_page` pages)."""
    out = []
    for rid in _open_walk(ctx, "overdue_page"):
        out += _overdue_parts(ctx, rid)
    return out


@view
def overdue_page(ctx, start, limit):
    """The overdue parts of the open receivables `start`.. (1-based, at most `limit` <= 200):
    {"open", "start", "overdue": [...], "next"}; "next" is the `start` of the following page,
    or None after the last. A receivable closed between two pages may move another within
    the open set (read again from 1 for an exact list)."""
    _page_args(ctx, start, limit)
    n = _set_count(ctx, "open")
    out = []
    for rid in _set_items(ctx, "open", start, limit):
        out += _overdue_parts(ctx, rid)
    return {
        "open": n,
        "start": start,
        "overdue": out,
        "next": _next_page(start, limit, n),
    }


@view
def open_receivables(ctx):
    """The original receivables not yet fully repaid, while at most MAX_OPEN; past that it
    is refused (`open_page` pages, `open_count` counts)."""
    return _open_walk(ctx, "open_page")


@view
def open_count(ctx):
    return _set_count(ctx, "open")


@view
def open_page(ctx, start, limit):
    """Open receivables `start`.. (1-based, at most `limit` <= 200)."""
    _page_args(ctx, start, limit)
    return _set_items(ctx, "open", start, limit)


@view
def tree_totals(ctx, rid):
    """Conservation figures of a receivable's tree (no holders or pledge details)."""
    s = _tree_summary(ctx, rid)
    return {
        "root": s["root"],
        "amount": s["amount"],
        "conserved": s["conserved"],
        "outstanding": s["outstanding"],
        "paid": s["paid"],
        "parts": len(s["nodes"]),
    }
