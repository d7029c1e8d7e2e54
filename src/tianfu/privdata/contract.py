# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
"""Private data keys: each member organisation's X25519 public key for private content.

A sandboxed contract, deployed by a governance vote as `privdata` (docs/adr/0023).
Writers wrap a record's content key for the public key registered here; the private key
stays on the organisation's nodes. Only an admin of an organisation sets its key; a new key
replaces the old one for new records (its nodes keep the old private key, so older records
still open).

State:
  key:<org>   {"org", "public_key" (32 bytes), "version", "by", "height", "time_ms"}
  orgs        sorted list of the organisations that registered a key
"""

KEY_BYTES = 32


def set_key(ctx, public_key):
    ctx.require(
        ctx.sender.kind == "admin",
        f"only an organisation admin registers its data key ({ctx.sender.name} is {ctx.sender.kind})",
    )
    ctx.require(
        isinstance(public_key, bytes) and len(public_key) == KEY_BYTES,
        "a data key is a 32-byte X25519 public key",
    )
    org = ctx.sender.org
    prev = ctx.get("key:" + org)
    ctx.require(
        prev is None or prev["public_key"] != public_key,
        f"this key is registered for {org} already",
    )
    version = 1 if prev is None else prev["version"] + 1
    ctx.put(
        "key:" + org,
        {
            "org": org,
            "public_key": public_key,
            "version": version,
            "by": ctx.sender.address,
            "height": ctx.height,
            "time_ms": ctx.time_ms,
        },
    )
    if prev is None:
        ctx.put("orgs", sorted(ctx.get("orgs", []) + [org]))
    ctx.emit("DataKeyRegistered", org=org, version=version, by=ctx.sender.address)
    return version


@view
def key(ctx, org):
    return ctx.get("key:" + org)


@view
def keys(ctx):
    return [ctx.get("key:" + org) for org in ctx.get("orgs", [])]
