# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The supply_finance contract's pledge financing (a holder pledges a receivable to a bank):
# `source()` puts this file after contract_views.py; the names of contract.py and the shared
# contract library are in scope here.

# -- pledge financing ---------------------------------------------------------------------
def apply_pledge(ctx, rid, bank):
    """The holder applies to `bank` to finance the receivable; it is locked from now on."""
    record = _load(ctx, rid)
    _holder_only(ctx, record, "pledge")
    _movable(ctx, record, "pledged again")
    _address(ctx, bank, "bank")
    roles = ctx.read("governance", "roles/" + bank, [])
    ctx.require("bank" in roles, f"{bank} does not hold the on-chain role 'bank'")
    ctx.require(bank != record["holder"], "a holder cannot pledge to itself")
    record["pledge"] = {
        "bank": bank,
        "status": "applied",
        "applied_height": ctx.height,
        "applied_ms": ctx.time_ms,
        "amount": None,
        "rate_bp": None,
        "payment_ref": None,
    }
    _save(ctx, record)
    ctx.emit("PledgeApplied", id=rid, holder=record["holder"], bank=bank, amount=record["amount"])
    return rid


def _close_pledge(ctx, record, outcome):
    pledge = record["pledge"]
    pledge["outcome"] = outcome
    pledge["closed_height"] = ctx.height
    _append_history(ctx, record, "pledges", "pl:", pledge)
    record["pledge"] = None


def cancel_pledge(ctx, rid):
    """The holder withdraws a pledge application the bank has not approved yet."""
    record = _load(ctx, rid)
    _holder_only(ctx, record, "cancel a pledge of")
    pledge = record["pledge"]
    ctx.require(pledge is not None, f"{rid} is not pledged")
    ctx.require(
        pledge["status"] == "applied",
        f"the pledge of {rid} is {pledge['status']}; only the bank can release it now",
    )
    _close_pledge(ctx, record, "cancelled")
    _save(ctx, record)
    ctx.emit("PledgeCancelled", id=rid)
    return rid


def _bank_pledge(ctx, rid, wanted):
    ctx.require_role("bank")
    record = _load(ctx, rid)
    pledge = record["pledge"]
    ctx.require(pledge is not None, f"{rid} has no pledge")
    ctx.require(
        pledge["bank"] == ctx.sender.address,
        f"the pledge of {rid} was made to bank {pledge['bank']}, not to you",
    )
    ctx.require(
        pledge["status"] in wanted,
        f"the pledge of {rid} is {pledge['status']}; expected {' or '.join(wanted)}",
    )
    return record


def approve_pledge(ctx, rid, amount, rate_bp):
    """The bank approves financing of `amount` fen at `rate_bp` basis points a year."""
    record = _bank_pledge(ctx, rid, ["applied"])
    _amount(ctx, amount, "financing amount")
    ctx.require(
        amount <= record["amount"],
        f"financing amount {amount} exceeds the receivable's {record['amount']}",
    )
    ctx.require(
        isinstance(rate_bp, int) and not isinstance(rate_bp, bool) and 0 <= rate_bp <= MAX_RATE_BP,
        f"rate_bp must be an integer from 0 to {MAX_RATE_BP} basis points",
    )
    pledge = record["pledge"]
    pledge["status"] = "approved"
    pledge["amount"] = amount
    pledge["rate_bp"] = rate_bp
    pledge["approved_height"] = ctx.height
    _save(ctx, record)
    ctx.emit("PledgeApproved", id=rid, bank=ctx.sender.address, amount=amount, rate_bp=rate_bp)
    return rid


def reject_pledge(ctx, rid, reason):
    """The bank declines a pledge application; the receivable is unlocked."""
    _bounded_text(ctx, reason, "reason", 200)
    record = _bank_pledge(ctx, rid, ["applied"])
    record["pledge"]["reason"] = reason
    _close_pledge(ctx, record, "rejected")
    _save(ctx, record)
    ctx.emit("PledgeRejected", id=rid, bank=ctx.sender.address, reason=reason)
    return rid


def disburse(ctx, rid, payment_ref):
    """The bank records that it paid the financing amount to the holder."""
    _bounded_text(ctx, payment_ref, "payment reference", 128)
    record = _bank_pledge(ctx, rid, ["approved"])
    pledge = record["pledge"]
    pledge["status"] = "disbursed"
    pledge["payment_ref"] = payment_ref
    pledge["disbursed_height"] = ctx.height
    pledge["disbursed_ms"] = ctx.time_ms
    _save(ctx, record)
    ctx.emit(
        "Disbursed", id=rid, bank=ctx.sender.address, to=record["holder"], amount=pledge["amount"]
    )
    return rid


def release_pledge(ctx, rid):
    """The bank releases the pledge (its loan was settled); the receivable is unlocked."""
    record = _bank_pledge(ctx, rid, ["approved", "disbursed"])
    _close_pledge(ctx, record, "released")
    _save(ctx, record)
    ctx.emit("PledgeReleased", id=rid, bank=ctx.sender.address)
    return rid
