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


@view
def ownership_history(ctx, work_id):
    """A work's registration and transfers, oldest first: from its ownership log (nown:,
    own:), which reads no other history entry; a work recorded before the log is read from
    its history (refused past MAX_HISTORY entries)."""
    _str_arg(ctx, work_id, "work_id")
    w = ctx.get("work:" + work_id)
    if w is None:
        return []
    if w.get("own_log", False):
        ns = _numbered(ctx, "own:" + work_id + ":", 1, ctx.get("nown:" + work_id, 0))
        return [ctx.get("hist:" + work_id + ":" + str(n).zfill(6)) for n in ns]
    n = w["history"]
    _whole_list(ctx, "work " + work_id, n, "history entries", MAX_HISTORY, "history_page")
    return [h for h in _history_entries(ctx, w, 1, n) if h["event"] in OWNERSHIP_EVENTS]
