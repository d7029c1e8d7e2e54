# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The traceability contract's views: `source()` puts this file after contract.py and the
# shared contract library, whose names are in scope here (the view makers of the table:
# ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
product = view(_record_view("product:"))
batch = view(_record_view("batch:"))
recall_progress = view(_record_view("rc:"))


# -- views ------------------------------------------------------------------------------------
@view
def events(ctx, code):
    """A batch's events, while it has at most MAX_EVENTS; past that it is refused
    (`events_page` reads a page): any member holding an event's role may add to them."""
    b = ctx.get("batch:" + code) if isinstance(code, str) else None
    if b is None:
        return []
    n = b["events"]
    ctx.require(
        n <= MAX_EVENTS,
        f"batch {code} has {n} events, more than {MAX_EVENTS}: read them a page at a time "
        "with events_page",
    )
    return _numbered(ctx, "ev:" + code + ":", 1, n, 8)


@view
def events_page(ctx, code, start, limit):
    """Events `start`.. (1-based, at most `limit` <= MAX_PAGE) of a batch:
    {"code", "count", "start", "events": [...], "next"}. Events are only appended, so
    pages read one after the other neither skip nor repeat one."""
    _check_page(ctx, start, limit, MAX_PAGE)
    _code(ctx, code)
    b = _load(ctx, code)
    n = b["events"]
    last = min(n, start + limit - 1)
    return {
        "code": code,
        "count": n,
        "start": start,
        "events": _numbered(ctx, "ev:" + code + ":", start, last, 8),
        "next": _next_page(start, limit, n),
    }


def _lineage(ctx, code, most):
    """The batch `code`, then its ancestors breadth first, each once: at most `most` of them
    and whether there are more."""
    out = []
    seen = {}
    queue = [code]
    i = 0
    while i < len(queue):
        c = queue[i]
        i += 1
        if c in seen:
            continue
        if len(out) == most:
            return out, True
        seen[c] = True
        cur = _load(ctx, c)
        out.append(cur)
        queue.extend(cur["parents"])
    return out, False


@view
def provenance(ctx, code):
    """The batch, its ancestors and every event of each, while the lineage has at most
    MAX_LINEAGE batches and MAX_EVENTS events; past that it is refused (`provenance_page`
    pages the lineage, `events_page` each batch's events)."""
    _code(ctx, code)
    b = _load(ctx, code)
    batches, more = _lineage(ctx, code, MAX_LINEAGE)
    ctx.require(
        not more,
        f"the lineage of batch {code} has more than {MAX_LINEAGE} batches: read it a page at "
        "a time with provenance_page",
    )
    n = sum(cur["events"] for cur in batches)
    ctx.require(
        n <= MAX_EVENTS,
        f"the lineage of batch {code} has {n} events, more than {MAX_EVENTS}: read it with "
        "provenance_page and events_page",
    )
    out = [
        {
            "batch": cur,
            "product": ctx.get("product:" + cur["product"]),
            "events": _numbered(ctx, "ev:" + cur["code"] + ":", 1, cur["events"], 8),
        }
        for cur in batches
    ]
    return {
        "code": code,
        "recalled": b["recall"] is not None,
        "recall": b["recall"],
        "lineage": out,
    }


@view
def provenance_page(ctx, code, start, limit):
    """Batches `start`.. (1-based, at most `limit` <= MAX_PAGE) of the lineage of `code` (the
    batch, then its ancestors breadth first), each with its product and its event count
    ("events" of the batch record; `events_page` reads them): {"code", "recalled", "recall",
    "start", "lineage": [...], "next"}. A lineage only grows below a batch, never above,
    so its order does not change between pages; a page is refused past MAX_LINEAGE_WALK."""
    _check_page(ctx, start, limit, MAX_PAGE)
    ctx.require(
        start + limit - 1 <= MAX_LINEAGE_WALK,
        f"a lineage is read up to its {MAX_LINEAGE_WALK}th batch",
    )
    _code(ctx, code)
    b = _load(ctx, code)
    batches, more = _lineage(ctx, code, start + limit - 1)
    page = batches[start - 1 :]
    return {
        "code": code,
        "recalled": b["recall"] is not None,
        "recall": b["recall"],
        "start": start,
        "lineage": [
            {"batch": cur, "product": ctx.get("product:" + cur["product"])} for cur in page
        ],
        "next": start + limit if more else None,
    }


@view
def descendants(ctx, code):
    out = []
    queue = [code]
    while queue:
        c = queue.pop(0)
        if c in out:
            continue
        b = ctx.get("batch:" + c)
        if b is None:
            raise ContractError(f"unknown batch {c}")
        out.append(c)
        queue.extend(b["children"])
    return out
