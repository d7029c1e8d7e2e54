# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The traceability contract's views: `source()` puts this file after contract.py and the
# shared contract library, whose names are in scope here (the view makers of the table:
# ADR 0029).

# -- views: records as they are stored ---------------------------------------------------------
product = view(_record_view("product:"))
batch = view(_record_view("batch:"))
events = view(_record_log_view("batch:", "events", "ev:", 8))
recall_progress = view(_record_view("rc:"))


# -- views ------------------------------------------------------------------------------------
@view
def provenance(ctx, code):
    b = ctx.get("batch:" + code)
    if b is None:
        raise ContractError(f"unknown batch {code}")
    out = []
    queue = [code]
    while queue:
        c = queue.pop(0)
        if any(x["batch"]["code"] == c for x in out):
            continue
        cur = ctx.get("batch:" + c)
        out.append(
            {
                "batch": cur,
                "product": ctx.get("product:" + cur["product"]),
                "events": _numbered(ctx, "ev:" + c + ":", 1, cur["events"], 8),
            }
        )
        queue.extend(cur["parents"])
    return {
        "code": code,
        "recalled": b["recall"] is not None,
        "recall": b["recall"],
        "lineage": out,
    }


@view
def descendants(ctx, code):
    out = []
    queue = [code]
    while queue:
        c = queue.pop(0)
        if c in out:
            continue
        b = ctx.get("batch:" + c)
        if b is None:
            raise ContractError(f"unknown batch {c}")
        out.append(c)
        queue.extend(b["children"])
    return out
