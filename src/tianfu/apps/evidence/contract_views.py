# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The evidence contract's views: `source()` puts this file after contract.py and the shared
# contract library, whose names are in scope here (the view makers of the table: ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
get = view(_record_view("dep:"))
attestations = view(_counted_log_view("att:", "natt:"))
verifications = view(_counted_log_view("cv:", "ncv:"))


# -- views ------------------------------------------------------------------------------------
@view
def by_hash(ctx, file_hash):
    return ctx.get("hash:" + file_hash, [])


@view
def count(ctx):
    return ctx.get("seq", 0)
