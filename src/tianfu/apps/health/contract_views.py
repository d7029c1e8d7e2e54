# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The health contract's views: `source()` puts this file after contract.py and the shared
# contract library, whose names are in scope here (the view makers of the table: ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
record = view(_record_view("rec:"))
prescription = view(_record_view("rx:"))
suspended = view(_record_view("suspended:"))


# -- views ------------------------------------------------------------------------------------
# Access-log entries a view returns in one call: an entry's purpose is up to 200 characters
# and its reader's name and organisation up to 64 and 61, four bytes each at the most
# (about 1.5 KB: 150 take about 220 KB, 175 fit).
MAX_LOG_SHOWN = 150
# Records or prescriptions a view returns in one call: a record holds up to MAX_VERSIONS
# hashes and MAX_READERS organisation names, a prescription up to MAX_READERS organisations
# and a 200-character reason (about 6 KB at the most: 45 of the largest records fit in
# 256 KiB, 42 of the largest prescriptions).
MAX_RECORDS_SHOWN = 40


def _patient_list(ctx, address, index, prefix, noun, page_view):
    _str_arg(ctx, address, "address")
    n = _set_count(ctx, index + address)
    _whole_list(ctx, address, n, noun, MAX_RECORDS_SHOWN, page_view)
    return _listed(ctx, prefix, _set_all(ctx, index + address))


def _patient_page(ctx, address, index, prefix, field, start, limit):
    _str_arg(ctx, address, "address")
    _check_page(ctx, start, limit, MAX_RECORDS_SHOWN)
    entries, after = _set_page(ctx, index + address, start, limit)
    return {
        "patient": address,
        "count": _set_count(ctx, index + address),
        "start": start,
        field: _listed(ctx, prefix, [x for _, x in entries]),
        "next": after,
    }


@view
def records_of(ctx, address):
    """The records on a patient's list (a purged record leaves it), oldest first, while
    there are at most MAX_RECORDS_SHOWN; past that it is refused (`records_of_page` reads
    a page)."""
    return _patient_list(ctx, address, "recs:", "rec:", "records", "records_of_page")


@view
def records_of_page(ctx, address, start, limit):
    """The records on a patient's list from slot `start` (1 for the first page), at most
    `limit` (<= MAX_RECORDS_SHOWN), oldest first: {"patient", "count", "start", "records":
    [...], "next"}; "next" is the `start` of the following page, or None after the last. A
    record on the list from the first page to the last is in exactly one page."""
    return _patient_page(ctx, address, "recs:", "rec:", "records", start, limit)


@view
def prescriptions_of(ctx, address):
    """The prescriptions on a patient's list (a dismissed one leaves it), oldest first,
    while there are at most MAX_RECORDS_SHOWN; past that it is refused
    (`prescriptions_of_page` reads a page)."""
    return _patient_list(ctx, address, "rxs:", "rx:", "prescriptions", "prescriptions_of_page")


@view
def prescriptions_of_page(ctx, address, start, limit):
    """The prescriptions on a patient's list from slot `start`, as `records_of_page`:
    {"patient", "count", "start", "prescriptions": [...], "next"}."""
    return _patient_page(ctx, address, "rxs:", "rx:", "prescriptions", start, limit)


@view
def access_log(ctx, ref):
    """Every logged access to a record or a prescription's details, while it has at most
    MAX_LOG_SHOWN; past that it is refused (`access_log_page` reads a page): every reader
    logs its own accesses, as many as it makes."""
    _str_arg(ctx, ref, "ref")
    n = ctx.get("nlog:" + ref, 0)
    _whole_list(ctx, ref, n, "logged accesses", MAX_LOG_SHOWN, "access_log_page")
    return _numbered(ctx, "log:" + ref + ":", 1, n)


@view
def access_log_page(ctx, ref, start, limit):
    """Logged accesses `start`.. (1-based, at most `limit` <= MAX_LOG_SHOWN) to a record or a
    prescription's details, oldest first: {"ref", "count", "start", "entries": [...],
    "next"}; "next" is the `start` of the following page, or None after the last."""
    _str_arg(ctx, ref, "ref")
    _check_page(ctx, start, limit, MAX_LOG_SHOWN)
    n = ctx.get("nlog:" + ref, 0)
    return _log_page(ctx, {"ref": ref}, "entries", "log:" + ref + ":", n, start, limit)


@view
def patient(ctx, address):
    _str_arg(ctx, address, "address")
    p = ctx.get("patient:" + address)
    if p is None:
        return None
    shown = dict(p)
    shown["consents"] = ctx.get("consent:" + address, [])
    return shown


def _claimable(ctx, ids):
    out = []
    for r in ids:
        rx = ctx.get("rx:" + r)
        if rx["status"] == "dispensed" and rx["reimbursed"] is None:
            out.append(rx)
    return out


@view
def claimable(ctx, org):
    """Dispensed prescriptions shared with insurer `org` and not reimbursed yet, while it has
    at most MAX_CLAIMS_SHOWN; past that it is refused (`claimable_page` reads a page)."""
    _str_arg(ctx, org, "org")
    n = _set_count(ctx, "claims:" + org)
    _whole_list(ctx, org, n, "outstanding claims", MAX_CLAIMS_SHOWN, "claimable_page")
    return _claimable(ctx, _set_all(ctx, "claims:" + org))


@view
def claim_count(ctx, org):
    """How many outstanding claims insurer `org` has."""
    _str_arg(ctx, org, "org")
    return _set_count(ctx, "claims:" + org)


@view
def claimable_page(ctx, org, start, limit):
    """The claims of insurer `org` from slot `start` (1 for the first page), at most `limit`
    (<= MAX_CLAIMS_SHOWN), as `claimable`: {"org", "claims", "start", "claimable": [...], "next"}; "next"
    is the `start` of the following page, or None after the last. A claim outstanding from
    the first page to the last is in exactly one page, whatever is shared or reimbursed
    meanwhile."""
    _str_arg(ctx, org, "org")
    _check_page(ctx, start, limit, MAX_CLAIMS_SHOWN)
    name = "claims:" + org
    entries, after = _set_page(ctx, name, start, limit)
    return {
        "org": org,
        "claims": _set_count(ctx, name),
        "start": start,
        "claimable": _claimable(ctx, [x for _, x in entries]),
        "next": after,
    }


@view
def statistics(ctx):
    return ctx.get("stats", {})


@view
def private_can_read(ctx, h, address):
    """The read policy nodes apply: an access logged by `address` within the window."""
    _str_arg(ctx, h, "h")
    _str_arg(ctx, address, "address")
    rec = ctx.get("pd:" + h)
    if rec is None or rec["purged"]:
        return False
    seen = ctx.get("seen:" + h + ":" + address)
    return seen is not None and ctx.time_ms - seen <= ACCESS_WINDOW_MS
