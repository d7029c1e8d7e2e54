# ruff: noqa: F821  (a sandboxed contract part: `view` is provided by the sandbox)
# mypy: ignore-errors
# Parties enrolled under a display name, shared by the contracts that keep them (supply
# finance, fund supervision): `contract_source(..., PARTIES)` adds this part to their source.

# -- parties ----------------------------------------------------------------------------------
def enrol(ctx, display_name):
    """Enrol the caller (a company, an office or an officer) under a display name."""
    _bounded_text(ctx, display_name, "display name", 100)
    ctx.require(len(display_name) > 0, "display name must not be empty")
    me = ctx.sender.address
    record = {
        "address": me,
        "org": ctx.sender.org,
        "name": ctx.sender.name,
        "display_name": display_name,
        "height": ctx.height,
    }
    ctx.put("party:" + me, record)
    ctx.emit("Enrolled", address=me, org=ctx.sender.org, display_name=display_name)
    return record


@view
def party(ctx, address):
    _str_arg(ctx, address, "address")
    return ctx.get("party:" + address)
