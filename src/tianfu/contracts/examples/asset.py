# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
"""Asset: a fungible token with a minter role.

A sandboxed contract (see docs/contracts.md): `ctx` is the only way to the chain; `view`
and `ContractError` are provided, nothing is imported. Amounts are integers.

State: "bal:<address>" -> int, "supply" -> int, "allow:<owner>:<spender>" -> int.
Minting needs the on-chain role "minter" or an organisation admin certificate.
"""

NAME = "Tianfu Asset"
SYMBOL = "TFA"
MAX_SUPPLY = 10**30


def _positive(ctx, amount):
    ctx.require(
        isinstance(amount, int) and not isinstance(amount, bool) and amount > 0,
        "amount must be a positive integer",
    )


def _address(ctx, who):
    ctx.require(isinstance(who, str) and len(who) == 40, "an address is 40 hex characters")


def _move(ctx, source, to, amount):
    have = ctx.get("bal:" + source, 0)
    if have < amount:
        raise ContractError(f"insufficient balance: {have} < {amount}")
    ctx.put("bal:" + source, have - amount)
    ctx.put("bal:" + to, ctx.get("bal:" + to, 0) + amount)
    ctx.emit("Transferred", sender=source, to=to, amount=amount)


def mint(ctx, to, amount):
    ctx.require(
        ctx.has_role("minter") or ctx.sender.kind == "admin", "only a minter or an admin may mint"
    )
    _address(ctx, to)
    _positive(ctx, amount)
    supply = ctx.get("supply", 0) + amount
    ctx.require(supply <= MAX_SUPPLY, "the total supply would exceed its cap")
    ctx.put("bal:" + to, ctx.get("bal:" + to, 0) + amount)
    ctx.put("supply", supply)
    ctx.emit("Minted", to=to, amount=amount)
    return supply


def burn(ctx, amount):
    _positive(ctx, amount)
    me = ctx.sender.address
    have = ctx.get("bal:" + me, 0)
    ctx.require(have >= amount, "insufficient balance")
    ctx.put("bal:" + me, have - amount)
    ctx.put("supply", ctx.get("supply", 0) - amount)
    ctx.emit("Burned", owner=me, amount=amount)


def transfer(ctx, to, amount):
    _address(ctx, to)
    _positive(ctx, amount)
    _move(ctx, ctx.sender.address, to, amount)
    return True


def approve(ctx, spender, amount):
    _address(ctx, spender)
    ctx.require(isinstance(amount, int) and amount >= 0, "amount must be a non-negative integer")
    ctx.put("allow:" + ctx.sender.address + ":" + spender, amount)
    ctx.emit("Approved", owner=ctx.sender.address, spender=spender, amount=amount)


def transfer_from(ctx, owner, to, amount):
    _address(ctx, owner)
    _address(ctx, to)
    _positive(ctx, amount)
    key = "allow:" + owner + ":" + ctx.sender.address
    allowed = ctx.get(key, 0)
    ctx.require(allowed >= amount, f"allowance too small: {allowed} < {amount}")
    ctx.put(key, allowed - amount)
    _move(ctx, owner, to, amount)
    return True


@view
def balance(ctx, owner):
    return ctx.get("bal:" + owner, 0)


@view
def allowance(ctx, owner, spender):
    return ctx.get("allow:" + owner + ":" + spender, 0)


@view
def total_supply(ctx):
    return ctx.get("supply", 0)


@view
def info(ctx):
    return {"name": NAME, "symbol": SYMBOL, "supply": ctx.get("supply", 0)}
