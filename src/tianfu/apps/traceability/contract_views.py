# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The traceability contract's views: `source()` puts this file after contract.py and the
# shared contract library, whose names are in scope here (the view makers of the table:
# ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
product = view(_record_view("product:"))
batch = view(_record_view("batch:"))
recall_progress = view(_record_view("rc:"))


@view
def code_prefix(ctx, prefix):
    """The grant of a code prefix ({"prefix", "org", ...}), or None when none was granted."""
    return ctx.get("pfx:" + _prefix(ctx, prefix))


# -- views ------------------------------------------------------------------------------------
@view
def events(ctx, code):
    """A batch's events, while it has at most MAX_EVENTS and they fit in what one view
    returns; past that it is refused (`events_page` reads a page): any member holding an
    event's role may add to them, each with up to 20 fields of 500 characters."""
    _str_arg(ctx, code, "code")
    b = ctx.get("batch:" + code)
    if b is None:
        return []
    n = b["events"]
    _whole_list(ctx, "batch " + code, n, "events", MAX_EVENTS, "events_page")
    refusal = (
        f"the events of batch {code} are more than one view returns: read them a page at a "
        "time with events_page"
    )
    return _sized_whole(ctx, "ev:" + code + ":", n, 5, refusal, 8)[0]


@view
def events_page(ctx, code, start, limit):
    """Events `start`.. (1-based, at most `limit` <= MAX_PAGE) of a batch:
    {"code", "count", "start", "events": [...], "next"}; the page ends early where its
    events would pass what one view returns ("next" is then the first left out). Events
    are only appended, so pages read one after the other neither skip nor repeat one."""
    _check_page(ctx, start, limit, MAX_PAGE)
    _code(ctx, code)
    b = _load(ctx, code)
    n = b["events"]
    return _sized_page(ctx, {"code": code}, "events", "ev:" + code + ":", n, start, limit, 8)


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
    MAX_LINEAGE batches and MAX_EVENTS events and they fit in what one view returns; past
    that it is refused (`provenance_page` pages the lineage, `events_page` each batch's
    events)."""
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
    refusal = (
        f"the lineage of batch {code} is more than one view returns: read it with "
        "provenance_page and events_page"
    )
    out = []
    size = 0
    for cur in batches:  # refused as soon as what it read passes what a view returns
        product = ctx.get("product:" + cur["product"])
        size += _size_bound(cur) + _size_bound(product) + 5
        ctx.require(size <= _SIZED_BUDGET, refusal)
        events, size = _sized_whole(ctx, "ev:" + cur["code"] + ":", cur["events"], size, refusal, 8)
        out.append({"batch": cur, "product": product, "events": events})
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


def _descendants(ctx, code, most):
    """The batch `code` and every batch made from it, breadth first, each once: at most
    `most` of them (records) and whether there are more."""
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
        b = _load(ctx, c)
        out.append(b)
        queue.extend(b["children"])
    return out, False


@view
def descendants(ctx, code):
    """The batch and every batch made from it (breadth first), while they are at most
    MAX_DESCENDANTS; past that it is refused (`descendants_page` reads a page, `children_of`
    walks any number): every holder below may split and merge what it holds."""
    _code(ctx, code)
    found, more = _descendants(ctx, code, MAX_DESCENDANTS)
    ctx.require(
        not more,
        f"batch {code} has more than {MAX_DESCENDANTS} descendants: read them a page at a "
        f"time with descendants_page (up to {MAX_DESCENDANT_WALK}), or walk any number "
        "with children_of",
    )
    return [b["code"] for b in found]


@view
def descendants_page(ctx, code, start, limit):
    """Codes `start`.. (1-based, at most `limit` <= MAX_PAGE) of the batch and every batch
    made from it, in the order they were recorded (height, then transaction, then code):
    {"code", "start", "descendants": [...], "next"}. A batch made later is recorded in a
    later block, so it comes after every batch a page before listed: consecutive pages
    neither skip nor repeat one. A page walks at most MAX_DESCENDANT_WALK batches (refused
    past them: `children_of` walks any number, a page of batches at a time)."""
    _check_page(ctx, start, limit, MAX_PAGE)
    _code(ctx, code)
    found, more = _descendants(ctx, code, MAX_DESCENDANT_WALK)
    ctx.require(
        not more,
        f"batch {code} has more than {MAX_DESCENDANT_WALK} descendants, more than a page walks: "
        "walk them a page of batches at a time with children_of",
    )
    order = sorted([[b["height"], b["tx"], b["code"]] for b in found])
    n = len(order)
    return {
        "code": code,
        "count": n,
        "start": start,
        "descendants": [x[2] for x in order[start - 1 : start - 1 + limit]],
        "next": _next_page(start, limit, n),
    }


@view
def children_of(ctx, codes):
    """The children of each of `codes` (1..MAX_PAGE batch codes), in the order asked:
    [[code, [child codes]], ...]; it reads those batches and nothing else. A batch's
    children are set once, when it is split or merged, and never change, so a walk from a
    batch that asks for the children of the codes it has queued, a page of them at a time,
    and queues each child it has not seen, lists every batch made from it exactly once
    (the SDK's `all_descendants`), whatever the holders split meanwhile: each page costs in
    proportion to the page, however many batches there are below."""
    ctx.require(
        isinstance(codes, list) and len(codes) >= 1 and len(codes) <= MAX_PAGE,
        f"codes must be a list of 1..{MAX_PAGE} batch codes",
    )
    out = []
    for c in codes:
        _code(ctx, c)
        out.append([c, _load(ctx, c)["children"]])
    return out
