# ruff: noqa: F821  (a sandboxed contract: `ContractError` is provided by the sandbox)
# mypy: ignore-errors
# The fund_supervision contract's refused attempts: `attempt_allocate` / `attempt_disburse`
# and the refusal log they write. `source()` puts this file after contract.py, the shared
# contract library and contract_views.py, whose names are in scope here.


def _refusal(code, reason):
    return {"code": code, "reason": reason}


def _said(value):
    """A value the caller sent as a refusal's reason shows it: its text (a non-string's text
    form), cut to its first MAX_SAID characters and then saying how long it was (the
    transaction, the refusal's "tx", holds it whole)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= MAX_SAID:
        return text
    return text[:MAX_SAID] + f"... ({len(text)} characters, cut: the transaction holds them all)"


def _clip(value):
    """A refusal's field for a text the caller sent: its first MAX_SAID characters (an id is
    at most 64), None for a non-string."""
    if isinstance(value, str):
        return value[:MAX_SAID]
    return None


def _logs_refusals(ctx, fund):
    """Whether the sender's refused attempts are recorded: the fund's parties only, its
    authority and the holders of the contract's roles (fund authorities, and the fund
    officers every account manager is); `fund` None for an attempt naming no known fund."""
    if fund is not None and fund["authority"] == ctx.sender.address:
        return True
    return ctx.has_role("fund_authority") or ctx.has_role("fund_officer")


def _record_refusal(ctx, kind, refusal, fund_id, from_id, to_id, amount, purpose):
    fund = ctx.get("fund:" + fund_id) if _is_id(fund_id) else None
    if not _logs_refusals(ctx, fund):
        raise ContractError(
            refusal["reason"] + " (not recorded: only the fund's authority, fund authorities "
            "and fund officers have their refused attempts recorded)"
        )
    seq = ctx.get("rf_seq", 0) + 1
    ctx.put("rf_seq", seq)
    fund_key = "" if fund is None else fund_id
    record = {
        "seq": seq,
        "kind": kind,
        "code": refusal["code"],
        "reason": refusal["reason"],
        "fund": _clip(fund_id),
        "from": _clip(from_id),
        "to": _clip(to_id),
        "amount": amount if _is_int(amount) and abs(amount) <= MAX_AMOUNT else None,
        "purpose": _clip(purpose),
        "by": ctx.sender.address,
        "org": ctx.sender.org,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
        "tx": ctx.tx_hash,
    }
    ctx.put("rf:" + str(seq), record)
    k = ctx.get("rfn:" + fund_key, 0) + 1
    ctx.put("rfn:" + fund_key, k)
    ctx.put("rfi:" + fund_key + ":" + str(k), seq)
    ctx.emit("AttemptRefused", kind=kind, code=refusal["code"], fund=record["fund"], seq=seq)
    return {"ok": False, "code": refusal["code"], "reason": refusal["reason"], "refusal": seq}


def attempt_allocate(ctx, fund_id, from_id, to_id, amount, memo):
    """Like `allocate`, but a refusal is recorded on chain and returned as {"ok": False, ...}."""
    refused = _check_allocate(ctx, fund_id, from_id, to_id, amount)
    if refused is None and not (isinstance(memo, str) and len(memo) <= 200):
        refused = _refusal("invalid", "memo must be text of at most 200 characters")
    if refused is not None:
        return _record_refusal(ctx, "allocate", refused, fund_id, from_id, to_id, amount, None)
    move = _do_allocate(ctx, fund_id, from_id, to_id, amount, memo)
    return {"ok": True, "move": move}


def attempt_disburse(ctx, fund_id, account_id, id_hash, amount, purpose, doc_hash):
    """Like `disburse`, but a refusal is recorded on chain and returned as {"ok": False, ...}."""
    refused = _check_disburse(ctx, fund_id, account_id, id_hash, amount, purpose, doc_hash)
    if refused is not None:
        return _record_refusal(
            ctx, "disburse", refused, fund_id, account_id, id_hash, amount, purpose
        )
    move = _do_disburse(ctx, fund_id, account_id, id_hash, amount, purpose, doc_hash)
    return {"ok": True, "move": move}
