# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The ip_rights contract's views: `source()` puts this file after contract.py and the shared
# contract library, whose names are in scope here (the view makers of the table: ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
work = view(_record_view("work:"))
work_by_hash = view(_record_view("hash:"))
licence = view(_record_view("lic:"))
dispute = view(_record_view("dispute:"))
licences = view(_record_listed_view("work:", "licences", "lic:"))


# -- views ------------------------------------------------------------------------------------
def _history_entries(ctx, w, first, last):
    return _numbered(ctx, "hist:" + w["id"] + ":", first, last, 6)


@view
def history(ctx, work_id):
    """A work's history, oldest first, while it has at most MAX_HISTORY_SHOWN entries; past
    that it is refused (`history_page` pages): any member's disputes add to it."""
    _str_arg(ctx, work_id, "work_id")
    w = ctx.get("work:" + work_id)
    if w is None:
        return []
    n = w["history"]
    _whole_list(ctx, "work " + work_id, n, "history entries", MAX_HISTORY_SHOWN, "history_page")
    return _history_entries(ctx, w, 1, n)


@view
def history_page(ctx, work_id, start, limit):
    """History entries `start`.. (1-based, at most `limit` <= MAX_HISTORY_SHOWN) of a work."""
    _check_page(ctx, start, limit, MAX_HISTORY_SHOWN)
    _str_arg(ctx, work_id, "work_id")
    w = ctx.get("work:" + work_id)
    if w is None:
        return []
    return _history_entries(ctx, w, start, min(w["history"], start + limit - 1))


def _ownership_entries(ctx, w, start, limit, refusal):
    """The ownership entries (registration, transfers) of work `w` from `start` (1-based in
    its ownership log, or in its history for a work recorded before the log), at most
    `limit` of them or of the history entries read: (entries, the `start` after the last
    read). They stop where they would pass `_SIZED_BUDGET` bytes (refused with `refusal`
    when it is given, else ending early with at least one entry)."""
    work_id = w["id"]
    logged = w.get("own_log", False)
    n = ctx.get("nown:" + work_id, 0) if logged else w["history"]
    out = []
    used = 0
    k = start
    last = min(n, start + limit - 1)
    while k <= last:
        if logged:
            entry = ctx.get(
                "hist:" + work_id + ":" + str(ctx.get("own:" + work_id + ":" + str(k))).zfill(6)
            )
        else:
            entry = ctx.get("hist:" + work_id + ":" + str(k).zfill(6))
        if logged or entry["event"] in OWNERSHIP_EVENTS:
            used += _size_bound(entry)
            if used > _SIZED_BUDGET:
                ctx.require(refusal is None, refusal)
                if len(out) > 0:
                    break
            out.append(entry)
        k += 1
    return out, k, n


@view
def ownership_history(ctx, work_id):
    """A work's registration and transfers, oldest first: from its ownership log (nown:,
    own:), which reads no other history entry; a work recorded before the log is read from
    its history. Refused, naming `ownership_page`, past MAX_HISTORY entries (of the log, or
    of the history) or where what it returns would pass `_SIZED_BUDGET` bytes: an owner
    may transfer a work between its own addresses without bound."""
    _str_arg(ctx, work_id, "work_id")
    w = ctx.get("work:" + work_id)
    if w is None:
        return []
    logged = w.get("own_log", False)
    n = ctx.get("nown:" + work_id, 0) if logged else w["history"]
    noun = "ownership entries" if logged else "history entries"
    _whole_list(ctx, "work " + work_id, n, noun, MAX_HISTORY, "ownership_page")
    refusal = (
        f"the owners of work {work_id} are more than one view returns: read them a page at a "
        "time with ownership_page"
    )
    return _ownership_entries(ctx, w, 1, n, refusal)[0]


@view
def ownership_page(ctx, work_id, start, limit):
    """A page of a work's registration and transfers, oldest first: {"work", "count",
    "start", "entries", "next"}. "count" and `start` number its ownership log (a work
    recorded before the log: its history, of which the page reads `limit` <= MAX_LIST
    entries and returns the ownership ones); the page ends early where its entries would
    pass what one view returns, and "next" is the `start` of the following page (None
    after the last). Entries are only appended, so pages read one after the other neither
    skip nor repeat one."""
    _check_page(ctx, start, limit, MAX_LIST)
    _str_arg(ctx, work_id, "work_id")
    w = _work(ctx, work_id)
    entries, k, n = _ownership_entries(ctx, w, start, limit, None)
    return {
        "work": work_id,
        "count": n,
        "start": start,
        "entries": entries,
        "next": k if k <= n else None,
    }
