# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The evidence contract's views: `source()` puts this file after contract.py and the shared
# contract library, whose names are in scope here (the view makers of the table: ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
get = view(_record_view("dep:"))


# -- views ------------------------------------------------------------------------------------
def _attached(ctx, deposit_id, log, noun, page_view):
    """Every entry of a deposit's log `log` ("att" or "cv"), while it has at most MAX_SHOWN."""
    _str_arg(ctx, deposit_id, "deposit_id")
    n = ctx.get("n" + log + ":" + deposit_id, 0)
    _whole_list(ctx, "deposit " + deposit_id, n, noun, MAX_SHOWN, page_view)
    return _numbered(ctx, log + ":" + deposit_id + ":", 1, n)


def _attached_page(ctx, deposit_id, log, field, start, limit):
    _str_arg(ctx, deposit_id, "deposit_id")
    _check_page(ctx, start, limit, MAX_SHOWN)
    n = ctx.get("n" + log + ":" + deposit_id, 0)
    head = {"deposit": deposit_id}
    return _log_page(ctx, head, field, log + ":" + deposit_id + ":", n, start, limit)


@view
def attestations(ctx, deposit_id):
    """A deposit's notary attestations, oldest first, while it has at most MAX_SHOWN; past
    that it is refused (`attestations_page` reads a page)."""
    return _attached(ctx, deposit_id, "att", "attestations", "attestations_page")


@view
def attestations_page(ctx, deposit_id, start, limit):
    """Attestations `start`.. (1-based, at most `limit` <= MAX_SHOWN) of a deposit:
    {"deposit", "count", "start", "attestations": [...], "next"}; "next" is the `start` of
    the following page, or None after the last."""
    return _attached_page(ctx, deposit_id, "att", "attestations", start, limit)


@view
def verifications(ctx, deposit_id):
    """A deposit's court verification records, oldest first, while it has at most
    MAX_SHOWN; past that it is refused (`verifications_page` reads a page)."""
    return _attached(ctx, deposit_id, "cv", "verification records", "verifications_page")


@view
def verifications_page(ctx, deposit_id, start, limit):
    """Verification records `start`.. (1-based, at most `limit` <= MAX_SHOWN) of a deposit:
    {"deposit", "count", "start", "verifications": [...], "next"}."""
    return _attached_page(ctx, deposit_id, "cv", "verifications", start, limit)


def _hash_count(ctx, file_hash):
    _str_arg(ctx, file_hash, "file_hash")
    return _log_count(ctx, "hash:" + file_hash, "nhash:" + file_hash)


def _hash_ids(ctx, file_hash, start, limit):
    _str_arg(ctx, file_hash, "file_hash")
    return _log_items(
        ctx, "hash:" + file_hash, "nhash:" + file_hash, "hash:" + file_hash + ":", start, limit
    )


@view
def by_hash(ctx, file_hash):
    """The first MAX_ATTACHED deposit ids with this file hash, oldest first."""
    return _hash_ids(ctx, file_hash, 1, MAX_ATTACHED)


@view
def hash_count(ctx, file_hash):
    """How many deposits have this file hash."""
    return _hash_count(ctx, file_hash)


@view
def by_hash_page(ctx, file_hash, start, limit):
    """Deposit ids `start`.. (1-based, at most `limit` <= 200) with this file hash."""
    _check_page(ctx, start, limit)
    return _hash_ids(ctx, file_hash, start, limit)


@view
def count(ctx):
    return ctx.get("seq", 0)
