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
    return len(ctx.get("hash:" + file_hash, [])) + ctx.get("nhash:" + file_hash, 0)


def _hash_ids(ctx, file_hash, start, limit):
    listed = ctx.get("hash:" + file_hash, [])
    before = len(listed)
    last = min(_hash_count(ctx, file_hash), start + limit - 1)
    out = []
    for k in range(start, last + 1):
        out.append(listed[k - 1] if k <= before else ctx.get(f"hash:{file_hash}:{k - before}"))
    return out


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
    ok = isinstance(start, int) and isinstance(limit, int) and start >= 1 and limit in range(1, 201)
    ctx.require(ok, "start >= 1, limit 1..200")
    return _hash_ids(ctx, file_hash, start, limit)


@view
def count(ctx):
    return ctx.get("seq", 0)
