# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The evidence contract's views: `source()` puts this file after contract.py and the shared
# contract library, whose names are in scope here (the view makers of the table: ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
get = view(_record_view("dep:"))
attestations = view(_counted_log_view("att:", "natt:"))
verifications = view(_counted_log_view("cv:", "ncv:"))


# -- views ------------------------------------------------------------------------------------
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
