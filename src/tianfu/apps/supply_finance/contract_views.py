# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The supply_finance contract's audit and views: `source()` puts this file after contract.py
# and the shared contract library, whose names are in scope here.

# -- audit --------------------------------------------------------------------------------
def _part_count(ctx, root_id):
    """How many receivables and parts the tree `root_id` has (None: issued before the log)."""
    return ctx.get("pn:" + root_id)


def _walk_tree(ctx, root):
    """The records of the tree of `root` issued before the log, breadth first: at most
    MAX_TREE of them, and whether there are more."""
    out = [root]
    i = 0
    while i < len(out):
        for child in out[i]["children"]:
            if len(out) == MAX_TREE:
                return out, True
            out.append(_load(ctx, child))
        i += 1
    return out, False


def _tree_parts(ctx, root, what):
    """Every record of the tree of `root` (in the order made, or breadth first for a tree
    issued before the log), refused past MAX_TREE (`what` reads a page)."""
    n = _part_count(ctx, root["id"])
    if n is None:
        out, more = _walk_tree(ctx, root)
        ctx.require(
            not more,
            f"the tree of {root['id']} has more than {MAX_TREE} parts: read it a page at a "
            f"time with {what}",
        )
        return out
    ctx.require(
        n <= MAX_TREE,
        f"the tree of {root['id']} has {n} parts, more than {MAX_TREE}: read it a page at a "
        f"time with {what}",
    )
    return [_load(ctx, x) for x in _numbered(ctx, "pi:" + root["id"] + ":", 1, n)]


def _node_row(n):
    return {
        "id": n["id"],
        "parent": n["parent"],
        "depth": n["depth"],
        "amount": n["amount"],
        "holder": n["holder"],
        "status": n["status"],
        "pledge": n["pledge"],
        "pledges": n["pledges"],
        "pledge_count": n.get("pledge_count", len(n["pledges"])),
        "transfers": n["transfers"],
        "transfer_count": n.get("transfer_count", len(n["transfers"])),
        "payment": n["payment"],
    }


def _figures(ctx, nodes, by_id):
    """The conservation figures of `nodes`: {"conserved" (each split one's parts sum to
    it), "outstanding", "paid", "financed", "leaves" (the unrejected unsplit amounts)};
    `by_id` holds records already read, the parts of a split one are read when missing."""
    conserved = True
    outstanding = 0
    paid = 0
    financed = 0
    leaves = 0
    for n in nodes:
        if n["children"]:
            parts = [by_id[c] if c in by_id else _load(ctx, c) for c in n["children"]]
            if sum(p["amount"] for p in parts) != n["amount"]:
                conserved = False
            continue
        if n["status"] != "rejected":
            leaves += n["amount"]
        if n["status"] == "paid":
            paid += n["amount"]
        elif n["status"] == "active":
            outstanding += n["amount"]
            if n["pledge"] is not None and n["pledge"]["status"] == "disbursed":
                financed += n["pledge"]["amount"]
    return {
        "conserved": conserved,
        "outstanding": outstanding,
        "paid": paid,
        "financed": financed,
        "leaves": leaves,
    }


def _tree_summary(ctx, rid, what):
    record = _load(ctx, rid)
    root = _load(ctx, record["root"])
    nodes = _tree_parts(ctx, root, what)
    by_id = {}
    for n in nodes:
        by_id[n["id"]] = n
    f = _figures(ctx, nodes, by_id)
    conserved = f["conserved"] and (root["status"] == "rejected" or f["leaves"] == root["amount"])
    return {
        "root": root["id"],
        "issuer": root["issuer"],
        "amount": root["amount"],
        "maturity_ms": root["maturity_ms"],
        "doc_hash": root["doc_hash"],
        "conserved": conserved,
        "outstanding": f["outstanding"],
        "paid": f["paid"],
        "financed": f["financed"],
        "nodes": [_node_row(n) for n in nodes],
    }


def _tree_page(ctx, rid, start, limit):
    """Parts `start`.. (1-based, at most `limit` <= MAX_TREE_PAGE, in the order made) of the
    tree `rid` belongs to, with their figures (`_figures`): the tree is conserved when every
    page is and the pages' "leaves" sum to its "amount" (a rejected original: no leaves)."""
    _page_args(ctx, start, limit, MAX_TREE_PAGE)
    root = _load(ctx, _load(ctx, rid)["root"])
    n = _part_count(ctx, root["id"])
    if n is None:  # a tree issued before the log: walked, at most MAX_TREE parts
        walked = _tree_parts(ctx, root, "tree_page")
        n = len(walked)
        nodes = walked[start - 1 : start - 1 + limit]
    else:
        last = min(n, start + limit - 1)
        nodes = [_load(ctx, x) for x in _numbered(ctx, "pi:" + root["id"] + ":", start, last)]
    page = {"root": root["id"], "amount": root["amount"], "parts": n, "start": start}
    page.update(_figures(ctx, nodes, {}))
    page["nodes"] = [_node_row(x) for x in nodes]
    page["next"] = _next_page(start, limit, n)
    return page


def audit(ctx, rid):
    """A regulator's recorded audit of the whole tree that `rid` belongs to, while it has
    at most MAX_TREE parts (`audit_page` audits a page of a larger one)."""
    ctx.require_role("regulator")
    summary = _tree_summary(ctx, rid, "audit_page")
    ctx.emit("Audited", root=summary["root"], by=ctx.sender.address, conserved=summary["conserved"])
    return summary


def audit_page(ctx, rid, start, limit):
    """A regulator's recorded audit of parts `start`.. of the tree `rid` belongs to (as the
    view `tree_page`)."""
    ctx.require_role("regulator")
    page = _tree_page(ctx, rid, start, limit)
    ctx.emit(
        "AuditedPage",
        root=page["root"],
        start=start,
        parts=len(page["nodes"]),
        by=ctx.sender.address,
        conserved=page["conserved"],
        leaves=page["leaves"],
    )
    return page


# -- invoice claims by organisation --------------------------------------------------------
def _file_claims(ctx, last):
    """File the invoice claims of the receivables "docidx".."last" under their issuer's
    organisation (from their record, or the issuer's certificate for a receivable issued
    before records named it); how many claims were filed."""
    start = ctx.get("docidx", 1)
    filed = 0
    for n in range(start, last + 1):
        record = ctx.get("r:" + PREFIX + str(n))
        if record is None or record["status"] == "rejected":
            continue
        org = record.get("issuer_org")
        if org is None:
            cert = ctx.read("governance", "cert/" + record["issuer"])
            if cert is None:
                continue
            org = cert["org"]
            record["issuer_org"] = org  # whose claim a rejection frees
            _save(ctx, record)
        key = "doc:" + org + ":" + record["doc_hash"]
        if ctx.get(key) is None:
            ctx.put(key, record["id"])
            filed += 1
    ctx.put("docidx", last + 1)
    ctx.emit("ClaimsIndexed", start=start, last=last, filed=filed)
    return filed


def index_claims(ctx, limit):
    """File the invoice claims of up to `limit` (1..200) more receivables under their
    issuer's organisation. Anyone may call it; `issue` files the last MAX_LAZY_CLAIMS
    itself and is refused while more are unfiled. Returns {"indexed", "filed", "next"}:
    "next" is None when done."""
    ctx.require(
        isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 200,
        "limit must be 1..200",
    )
    issued = ctx.get("seq", 0)
    last = min(issued, ctx.get("docidx", 1) + limit - 1)
    filed = _file_claims(ctx, last)
    return {"indexed": last, "filed": filed, "next": None if last >= issued else last + 1}


# -- views --------------------------------------------------------------------------------
@view
def invoice_claim(ctx, org, doc_hash):
    """The receivable that backs invoice `doc_hash` for the organisation `org` (its claim,
    or one kept for everyone by a deployment before), or None."""
    _str_arg(ctx, org, "org")
    _str_arg(ctx, doc_hash, "doc_hash")
    return ctx.get("doc:" + org + ":" + doc_hash) or ctx.get("doc:" + doc_hash)


@view
def claims_indexed(ctx):
    """{"indexed", "issued"}: receivables 1..indexed have their invoice claim filed by
    organisation (`index_claims` files the rest; `issue` waits for it)."""
    return {"indexed": ctx.get("docidx", 1) - 1, "issued": ctx.get("seq", 0)}


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


def _page_args(ctx, start, limit, most=200):
    ctx.require(
        isinstance(start, int) and not isinstance(start, bool) and start >= 1,
        "start must be an integer >= 1",
    )
    ctx.require(
        isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= most,
        f"limit must be 1..{most}",
    )


@view
def holdings(ctx, address):
    """What `address` holds now (issued, active, pledged or paid parts), while it holds at
    most MAX_HOLDINGS; past that it is refused: `holdings_page` reads them a page at a time."""
    _str_arg(ctx, address, "address")
    name = "held:" + address
    n = _set_count(ctx, name)
    ctx.require(
        n <= MAX_HOLDINGS,
        f"{address} holds {n} receivables and parts, more than {MAX_HOLDINGS}: "
        "read them a page at a time with holdings_page",
    )
    return [_load(ctx, x) for x in _set_all(ctx, name)]


@view
def holding_count(ctx, address):
    """How many receivables and parts `address` holds now."""
    _str_arg(ctx, address, "address")
    return _set_count(ctx, "held:" + address)


@view
def holdings_page(ctx, address, start, limit):
    """The holdings of `address` from slot `start` (1 for the first page), at most `limit`
    (<= 200): {"address", "held", "start", "holdings": [...], "next"}; "next" is the `start`
    of the following page, or None after the last. A part held from the first page to the
    last is in exactly one page, whatever is transferred meanwhile (a page may hold fewer
    than `limit` only after passing a long stretch of emptied slots)."""
    _page_args(ctx, start, limit)
    _str_arg(ctx, address, "address")
    name = "held:" + address
    entries, after = _set_page(ctx, name, start, limit)
    return {
        "address": address,
        "held": _set_count(ctx, name),
        "start": start,
        "holdings": [_load(ctx, x) for _, x in entries],
        "next": after,
    }


def _overdue_parts(ctx, rid):
    """The unpaid parts past maturity of the open receivable `rid`, with who is owed, and
    how many records that read. A tree of more than MAX_TREE parts is one row naming its
    "parts" (`tree_page` reads them)."""
    root = _load(ctx, rid)
    if root["maturity_ms"] >= ctx.time_ms or root["status"] == "issued":
        return [], 1
    n = _part_count(ctx, rid)
    if n is None:
        parts, more = _walk_tree(ctx, root)
        n = MAX_TREE + 1 if more else len(parts)
    elif n <= MAX_TREE:
        parts = [_load(ctx, x) for x in _numbered(ctx, "pi:" + rid + ":", 1, n)]
    if n > MAX_TREE:
        large = {
            "id": rid,
            "root": rid,
            "issuer": root["issuer"],
            "holder": None,
            "payee": None,
            "amount": None,
            "maturity_ms": root["maturity_ms"],
            "overdue_ms": ctx.time_ms - root["maturity_ms"],
            "parts": n,
            "read_with": "tree_page",
        }
        return [large], 1
    out = []
    for part in parts:
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
    return out, len(parts)


def _open_walk(ctx, what):
    """The ids of every open receivable, refused past MAX_OPEN (`what` reads a page)."""
    n = _set_count(ctx, "open")
    ctx.require(
        n <= MAX_OPEN,
        f"{n} receivables are open, more than {MAX_OPEN}: read them a page at a time with {what}",
    )
    return _set_all(ctx, "open")


@view
def overdue(ctx):
    """Unpaid parts past their maturity (by block time), with who is owed, while at most
    MAX_OPEN receivables are open; past that it is refused (`overdue_page` pages)."""
    out = []
    read = 0
    for rid in _open_walk(ctx, "overdue_page"):
        rows, cost = _overdue_parts(ctx, rid)
        out += rows
        read += cost
        ctx.require(
            read <= MAX_OVERDUE_READ,
            f"the open receivables have more than {MAX_OVERDUE_READ} parts: read them a page "
            "at a time with overdue_page",
        )
    return out


@view
def overdue_page(ctx, start, limit):
    """The overdue parts of the open receivables from slot `start` (1 for the first page),
    at most `limit` (<= 200) receivables: {"open", "start", "overdue": [...], "next"}; "next"
    is the `start` of the following page, or None after the last. A page ends early once it
    read MAX_OVERDUE_READ parts, and a tree of more than MAX_TREE parts is one row naming its
    "parts" (`tree_page` reads them). A receivable open from the first page to the last is
    read by exactly one page, whatever is issued or repaid meanwhile."""
    _page_args(ctx, start, limit)
    entries, after = _set_page(ctx, "open", start, limit)
    out = []
    read = 0
    taken = 0
    for slot, rid in entries:
        size = _part_count(ctx, rid)  # the most the tree can cost (a large one is one row)
        cost = MAX_TREE if size is None else (1 if size > MAX_TREE else size)
        if taken > 0 and read + cost > MAX_OVERDUE_READ:
            after = slot  # the page ends early: its trees are large
            break
        rows, cost = _overdue_parts(ctx, rid)
        out += rows
        read += cost
        taken += 1
    return {
        "open": _set_count(ctx, "open"),
        "start": start,
        "overdue": out,
        "next": after,
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
    """The open receivables from slot `start` (1 for the first page), at most `limit`
    (<= 200): {"open", "start", "ids": [...], "next"}; "next" is the `start` of the following
    page, or None after the last. A receivable open from the first page to the last is in
    exactly one page, whatever is issued or repaid meanwhile."""
    _page_args(ctx, start, limit)
    entries, after = _set_page(ctx, "open", start, limit)
    return {
        "open": _set_count(ctx, "open"),
        "start": start,
        "ids": [x for _, x in entries],
        "next": after,
    }


@view
def tree_page(ctx, rid, start, limit):
    """Parts `start`.. (1-based, at most `limit` <= MAX_TREE_PAGE, in the order made: the
    original, then each split's parts) of the tree `rid` belongs to, with their figures:
    {"root", "amount", "parts", "start", "conserved", "outstanding", "paid", "financed",
    "leaves", "nodes", "next"}. Parts are only added at the end, so consecutive pages
    neither skip nor repeat one; the tree is conserved when every page is and the pages'
    "leaves" sum to "amount" (or the original was rejected)."""
    return _tree_page(ctx, rid, start, limit)


def _history_page(ctx, rid, field, log, start, limit):
    _page_args(ctx, start, limit)
    record = _load(ctx, rid)
    n = record.get(field[:-1] + "_count")
    if n is None:  # a record made before the log: its list holds every entry
        n = len(record[field])
        entries = record[field][start - 1 : start - 1 + limit]
    else:
        entries = _page(ctx, log + rid + ":", n, start, limit)
    return {
        "id": rid,
        "count": n,
        "start": start,
        field: entries,
        "next": _next_page(start, limit, n),
    }


@view
def transfers_page(ctx, rid, start, limit):
    """Transfers `start`.. (1-based, at most `limit` <= 200, oldest first) of a receivable or
    part: {"id", "count", "start", "transfers": [...], "next"} (its record carries the newest
    MAX_KEPT). Transfers are only appended, so pages neither skip nor repeat one."""
    return _history_page(ctx, rid, "transfers", "tf:", start, limit)


@view
def pledges_page(ctx, rid, start, limit):
    """Closed pledges `start`.. (1-based, at most `limit` <= 200, oldest first) of a
    receivable or part: {"id", "count", "start", "pledges": [...], "next"} (its record
    carries the newest MAX_KEPT)."""
    return _history_page(ctx, rid, "pledges", "pl:", start, limit)


@view
def tree_totals(ctx, rid):
    """Conservation figures of a receivable's tree (no holders or pledge details), while it
    has at most MAX_TREE parts (`tree_page` pages a larger one)."""
    s = _tree_summary(ctx, rid, "tree_page")
    return {
        "root": s["root"],
        "amount": s["amount"],
        "conserved": s["conserved"],
        "outstanding": s["outstanding"],
        "paid": s["paid"],
        "parts": len(s["nodes"]),
    }
