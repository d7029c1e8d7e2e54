# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The health contract's views: `source()` puts this file after contract.py and the shared
# contract library, whose names are in scope here (the view makers of the table: ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
record = view(_record_view("rec:"))
records_of = view(_listed_view("rec:", "recs:"))
access_log = view(_counted_log_view("log:", "nlog:"))
prescription = view(_record_view("rx:"))
prescriptions_of = view(_listed_view("rx:", "rxs:"))
suspended = view(_record_view("suspended:"))


# -- views ------------------------------------------------------------------------------------
@view
def patient(ctx, address):
    p = ctx.get("patient:" + address)
    if p is None:
        return None
    shown = dict(p)
    shown["consents"] = ctx.get("consent:" + address, [])
    return shown


def _claims(ctx, org, start, limit):
    out = []
    for r in _set_items(ctx, "claims:" + org, start, limit):
        rx = ctx.get("rx:" + r)
        if rx["status"] == "dispensed" and rx["reimbursed"] is None:
            out.append(rx)
    return out


@view
def claimable(ctx, org):
    """Dispensed prescriptions shared with insurer `org` and not reimbursed yet, while it has
    at most MAX_CLAIMS_SHOWN; past that it is refused (`claimable_page` reads a page)."""
    n = _set_count(ctx, "claims:" + org)
    ctx.require(
        n <= MAX_CLAIMS_SHOWN,
        f"{org} has {n} outstanding claims, more than {MAX_CLAIMS_SHOWN}: "
        "read them a page at a time with claimable_page",
    )
    return _claims(ctx, org, 1, n)


@view
def claim_count(ctx, org):
    """How many outstanding claims insurer `org` has."""
    return _set_count(ctx, "claims:" + org)


@view
def claimable_page(ctx, org, start, limit):
    """Claims `start`.. (1-based, at most `limit` <= 200) of insurer `org`, as `claimable`."""
    _check_page(ctx, start, limit)
    return _claims(ctx, org, start, limit)


@view
def statistics(ctx):
    return ctx.get("stats", {})


@view
def private_can_read(ctx, h, address):
    """The read policy nodes apply: an access logged by `address` within the window."""
    rec = ctx.get("pd:" + h)
    if rec is None or rec["purged"]:
        return False
    seen = ctx.get("seen:" + h + ":" + address)
    return seen is not None and ctx.time_ms - seen <= ACCESS_WINDOW_MS
