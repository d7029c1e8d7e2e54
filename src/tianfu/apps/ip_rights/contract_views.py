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
history = view(_record_log_view("work:", "history", "hist:", 6))


# -- views ------------------------------------------------------------------------------------
@view
def ownership_history(ctx, work_id):
    return [h for h in history(ctx, work_id) if h["event"] in ("registered", "transferred")]
