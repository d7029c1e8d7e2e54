# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The helpers it uses and does not define come from the shared contract library
# (apps/common/contract_library.py), which its deployed source ends with.
"""Fund supervision: earmarked public funds allocated down a hierarchy and paid to beneficiaries.

A sandboxed contract (see docs/contracts.md and docs/apps/fund_supervision.md). Amounts
are integer fen. Roles (granted on chain by each organisation's admin): "fund_authority"
creates funds and registers top-level accounts, "fund_officer" manages an account,
"regulator" reads the report (it is a view, so anyone in the consortium can read it).

Payments to a beneficiary: at most one per fund, unless the account's manager recorded an
instalment plan for that beneficiary in that fund before its first payment
(`plan_instalments`); then exactly the planned instalments, in order, each of its planned
amount, and nothing more. A household (its hash) is paid from a fund by one organisation:
the first to pay it holds it ("payee:<fund>:<hash>"), and another organisation's payment to
the same hash from that fund is refused as `already_paid` (recorded by `attempt_disburse`).

Refused attempts: `allocate` and `disburse` fail (and write nothing) when refused;
`attempt_allocate` and `attempt_disburse` run the same checks but, when refused, record
the refusal on chain and return {"ok": False, "code", "reason"} instead of failing. Only
the fund's parties have refusals recorded (its authority, and the holders of the roles
"fund_authority" and "fund_officer"): anyone else's refused attempt fails, writing nothing.
A refusal keeps at most MAX_SAID characters of each text the caller sent (its reason says
when one was cut, and how long it was; the transaction holds it whole).

State:
  "party:<address>"        -> enrolment record (`enrol`, `party`: the shared parties part,
                              apps/common/contract_parties.py)
  "acct:<id>"              -> a registered account (level, parent, manager): a bounded record
                              (one of a deployment before also lists its first sub-accounts
                              under "children", read first and never grown)
  "ch:<id>#..."            -> the account's sub-accounts registered since: the shared library's
                              indexed set "ch:<id>" (ADR 0037), paged by `children_page`
  "top"                    -> ids of the top-level (province) accounts
  "acn", "acl:<k>"         -> how many accounts are registered, and the k-th (k = 1..acn, in
                              the order registered: parents before children)
  "bo:<org>:<hash>"        -> a beneficiary registered by an office of organisation <org>, known
                              only by a salted SHA-256 of its identity: a hash is registered per
                              organisation, so no other member can take it first and block the
                              office that pays it ("ben:<hash>", one for everyone, of a
                              deployment before is still read for the account it names)
  "fund:<id>"              -> a fund: purpose, total, period, pool balance, totals, and
                              "naccounts": how many accounts have received from it
  "fac:<fund>:<k>"         -> the k-th account that received from the fund (k = 1..naccounts);
                              a fund record of a deployment before this numbered list lists
                              its first accounts under "accounts" (read first, never grown)
  "funds"                  -> ids of every fund
  "fa:<fund>:<account>"    -> an account's books for a fund (received, out, disbursed, balance)
  "mv:<fund>:<n>"          -> movement n of a fund (allocation or disbursement)
  "ain:<fund>:<account>"   -> how many allocations an account received from a fund;
  "ai:<fund>:<account>:<k>" -> the movement number of the k-th (k = 1..ain, oldest first): the
                              `trace` reads the allocations into an account from them (a fund
                              created before this log, without "alloc_log" in its record, is
                              traced from its movements, at most MAX_TRACE_SCAN of them)
  "rf:<n>", "rf_seq"       -> refusal n
  "rfn:<fund>"             -> how many refusals a fund has ("" = attempts naming no known fund)
  "rfi:<fund>:<k>"         -> the refusal number of the fund's k-th refusal (k = 1..rfn): a
                              refusal writes two keys, whatever the number recorded before;
  "rf_fund:<fund>"         -> refusal numbers a deployment before the log listed here (read
                              first by the views, never written)
  "pay:<fund>:<org>:<hash>" -> a beneficiary's payments from a fund: its instalment plan (or
                              None: one payment), the amounts paid and their movements
                              ("pay:<fund>:<hash>" for a beneficiary under "ben:<hash>")
  "payee:<fund>:<hash>"    -> the organisation (and account, first movement) that paid the
                              household `hash` from the fund first: no other organisation
                              pays it from that fund. A fund created before these records
                              (no "payees" in its record) also looks up the payments each
                              member organisation made before them (a bounded number)
"""

LEVELS = ("province", "city", "county", "township", "village")
MAX_AMOUNT = 10**18
HEX = "0123456789abcdef"
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_."
DEFAULT_IDLE_MS = 30 * 24 * 3600 * 1000
POOL = ""
MAX_INSTALMENTS = 24
MAX_REFUSALS_SHOWN = 80  # the newest refusals `refusals` and `report` show (`refusal_page`: all)
MAX_REFUSAL_PAGE = 80  # refusals `refusal_page` returns at most (ADR 0036: the largest fit)
MAX_SAID = 64  # characters of a caller's text a refusal keeps (the transaction holds all)
MAX_TRACE_IN = 20  # allocations into an account a `trace` hop shows (the newest before a payment)
MAX_TRACE_SCAN = 2000  # movements `trace` reads of a fund created before the allocation log
MAX_ACCOUNTS = 500  # accounts `accounts` reads in one call (`accounts_page` pages them)
MAX_REPORT_ACCOUNTS = 200  # accounts `report` reads in one call (`report_page` pages them)
MAX_ACCOUNT_WALK = 5000  # accounts `accounts_page` walks of a deployment before the "acn" log
MAX_CHILDREN_PAGE = 200  # sub-accounts `children_page` returns at most


# -- checks -------------------------------------------------------------------------------
def _is_amount(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_AMOUNT


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_address(who):
    return isinstance(who, str) and len(who) == 40 and all(c in HEX for c in who)


def _is_hash(value):
    return isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value)


def _is_id(value):
    return (
        isinstance(value, str)
        and len(value) > 0
        and len(value) <= 64
        and all(c in ID_CHARS for c in value)
    )


def _has_role(ctx, address, role):
    return role in ctx.read("governance", "roles/" + address, [])


def _account(ctx, account_id):
    record = ctx.get("acct:" + account_id) if _is_id(account_id) else None
    if record is None:
        raise ContractError(f"unknown account {account_id}")
    return record


def _fund(ctx, fund_id):
    record = ctx.get("fund:" + fund_id) if _is_id(fund_id) else None
    if record is None:
        raise ContractError(f"unknown fund {fund_id}")
    return record


def _books(ctx, fund_id, account_id):
    return ctx.get(
        "fa:" + fund_id + ":" + account_id,
        {"received": 0, "allocated_out": 0, "disbursed": 0, "balance": 0, "last_move_ms": 0},
    )


def _balance(ctx, fund, account_id):
    if account_id == POOL:
        return fund["pool"]
    return _books(ctx, fund["id"], account_id)["balance"]


# -- registry ----------------------------------------------------------------------------
def register_account(ctx, account_id, name, level, parent_id, manager):
    """Register an account. Top-level (parent "") accounts are provinces registered by a
    fund authority; a sub-account is registered by the parent's manager or an authority."""
    ctx.require(_is_id(account_id), "account id must be 1-64 characters of a-z 0-9 - _ .")
    ctx.require(ctx.get("acct:" + account_id) is None, f"account {account_id} already exists")
    _bounded_text(ctx, name, "name", 100)
    ctx.require(level in LEVELS, f"level must be one of {', '.join(LEVELS)}")
    ctx.require(_is_address(manager), "manager must be an address of 40 lowercase hex characters")
    ctx.require(
        _has_role(ctx, manager, "fund_officer"),
        f"manager {manager} does not hold the on-chain role 'fund_officer'",
    )
    me = ctx.sender.address
    authority = ctx.has_role("fund_authority")
    if parent_id == POOL:
        ctx.require(authority, "only a fund authority may register a top-level account")
        ctx.require(level == "province", "a top-level account must be at province level")
    else:
        parent = _account(ctx, parent_id)
        ctx.require(
            authority or parent["manager"] == me,
            f"only the manager of {parent_id} or a fund authority may register its sub-accounts",
        )
        ctx.require(
            LEVELS.index(level) > LEVELS.index(parent["level"]),
            f"a sub-account of a {parent['level']} account must be at a lower level, not {level}",
        )
        # the parent's record keeps its size: its sub-accounts are the indexed set
        # "ch:<parent>" (a record of a deployment before lists its first ones in "children")
        _set_add(ctx, "ch:" + parent_id, account_id)
    record = {
        "id": account_id,
        "name": name,
        "level": level,
        "parent": parent_id,
        "manager": manager,
        "beneficiaries": 0,
        "registered_by": me,
        "height": ctx.height,
    }
    ctx.put("acct:" + account_id, record)
    k = ctx.get("acn", 0) + 1
    ctx.put("acn", k)
    ctx.put("acl:" + str(k), account_id)
    if parent_id == POOL:
        top = ctx.get("top", [])
        top.append(account_id)
        ctx.put("top", top)
    ctx.emit("AccountRegistered", id=account_id, level=level, parent=parent_id, manager=manager)
    return record


def register_beneficiary(ctx, account_id, id_hash, purposes):
    """Register a beneficiary at an account by the salted hash of its identity (never the
    identity itself) with the purposes it is eligible for. The hash is registered for the
    manager's organisation: another organisation's registration of it is another beneficiary."""
    account = _account(ctx, account_id)
    ctx.require(
        account["manager"] == ctx.sender.address,
        f"only the manager of {account_id} may register its beneficiaries",
    )
    ctx.require(
        _is_hash(id_hash),
        "id_hash must be a salted SHA-256 of 64 lowercase hex characters (never a plain identity)",
    )
    org = ctx.sender.org
    existing, _ = _beneficiary(ctx, org, id_hash)
    if existing is not None:
        raise ContractError(
            f"beneficiary {id_hash} is already registered by {org} at {existing['account']}"
        )
    ctx.require(
        isinstance(purposes, list) and len(purposes) > 0 and len(purposes) <= 10,
        "purposes must be a list of 1 to 10 purposes",
    )
    for p in purposes:
        ctx.require(_is_id(p), "each purpose must be 1-64 characters of a-z 0-9 - _ .")
    record = {
        "hash": id_hash,
        "org": org,
        "account": account_id,
        "purposes": sorted(purposes),
        "registered_by": ctx.sender.address,
        "height": ctx.height,
        "received": 0,
    }
    ctx.put("bo:" + org + ":" + id_hash, record)
    account["beneficiaries"] = account["beneficiaries"] + 1
    ctx.put("acct:" + account_id, account)
    ctx.emit(
        "BeneficiaryRegistered",
        account=account_id,
        org=org,
        hash=id_hash,
        purposes=record["purposes"],
    )
    return record


# -- funds --------------------------------------------------------------------------------
def create_fund(ctx, fund_id, purpose, total, start_ms, end_ms):
    """A funding authority creates an earmarked fund; its total starts in the fund's pool."""
    ctx.require_role("fund_authority")
    ctx.require(_is_id(fund_id), "fund id must be 1-64 characters of a-z 0-9 - _ .")
    ctx.require(ctx.get("fund:" + fund_id) is None, f"fund {fund_id} already exists")
    ctx.require(_is_id(purpose), "purpose must be 1-64 characters of a-z 0-9 - _ .")
    ctx.require(
        _is_amount(total), f"total must be a positive integer number of fen (at most {MAX_AMOUNT})"
    )
    ctx.require(_is_int(start_ms) and _is_int(end_ms), "start_ms and end_ms must be integers")
    ctx.require(end_ms > start_ms, "the period must end after it starts")
    ctx.require(end_ms > ctx.time_ms, f"the period end {end_ms} is already past")
    fund = {
        "id": fund_id,
        "purpose": purpose,
        "total": total,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "authority": ctx.sender.address,
        "pool": total,
        "allocated": 0,
        "disbursed": 0,
        "naccounts": 0,
        "alloc_log": True,
        "payees": True,
        "moves": 0,
        "created_height": ctx.height,
        "created_ms": ctx.time_ms,
        "last_move_ms": ctx.time_ms,
    }
    ctx.put("fund:" + fund_id, fund)
    funds = ctx.get("funds", [])
    funds.append(fund_id)
    ctx.put("funds", funds)
    ctx.emit(
        "FundCreated", id=fund_id, purpose=purpose, total=total, start_ms=start_ms, end_ms=end_ms
    )
    return fund


def _payments(ctx, fund_id, suffix):
    """The payments record `pay:<fund>:<suffix>` (suffix: "<org>:<hash>", or "<hash>" for a
    beneficiary of a deployment before)."""
    id_hash = suffix[-64:]
    org = suffix[:-65] if len(suffix) > 64 else None
    return ctx.get(
        "pay:" + fund_id + ":" + suffix,
        {
            "fund": fund_id,
            "beneficiary": id_hash,
            "org": org,
            "plan": None,
            "paid": [],
            "moves": [],
        },
    )


def plan_instalments(ctx, fund_id, account_id, id_hash, instalments):
    """Record that a beneficiary is paid from a fund in these instalments (amounts in fen,
    in order), before its first payment from that fund; by the account's manager."""
    fund = _fund(ctx, fund_id)
    account = _account(ctx, account_id)
    ctx.require(
        account["manager"] == ctx.sender.address,
        f"only the manager of {account_id} may plan its payments",
    )
    ben, suffix = _beneficiary(ctx, ctx.sender.org, id_hash)
    ctx.require(ben is not None, "the recipient is not a registered beneficiary")
    ctx.require(
        ben["account"] == account_id,
        f"the beneficiary is registered at {ben['account']}, not at {account_id}",
    )
    ctx.require(
        fund["purpose"] in ben["purposes"], f"the beneficiary is not eligible for {fund['purpose']}"
    )
    count = len(instalments) if isinstance(instalments, list) else 0
    ctx.require(2 <= count <= MAX_INSTALMENTS, f"a plan has 2 to {MAX_INSTALMENTS} instalments")
    ctx.require(
        all(_is_amount(a) for a in instalments) and sum(instalments) <= MAX_AMOUNT,
        "each instalment is a positive integer number of fen",
    )
    other = _paid_by_another(ctx, fund, ctx.sender.org, id_hash, suffix)
    ctx.require(
        other is None,
        f"the household {id_hash} is paid from fund {fund_id} by another organisation "
        f"({other and other['org']})",
    )
    record = _payments(ctx, fund_id, suffix)
    ctx.require(record["plan"] is None, "the beneficiary already has a plan in this fund")
    ctx.require(len(record["paid"]) == 0, "the beneficiary was already paid from this fund")
    record["plan"] = instalments
    ctx.put("pay:" + fund_id + ":" + suffix, record)
    ctx.emit("InstalmentsPlanned", fund=fund_id, beneficiary=id_hash, instalments=instalments)
    return record


def _paid_by_another(ctx, fund, org, id_hash, suffix):
    """The organisation other than `org` that paid the household `id_hash` from `fund`
    (and where), or None."""
    payee = ctx.get("payee:" + fund["id"] + ":" + id_hash)
    if payee is not None:
        return None if payee["org"] == org else payee
    if fund.get("payees"):
        return None
    # a fund created before the payee records: the payments of every member organisation
    for other in [None] + ctx.read("governance", "orgs", []):
        key = id_hash if other is None else other + ":" + id_hash
        if key != suffix:
            paid = ctx.get("pay:" + fund["id"] + ":" + key)
            if paid is not None and len(paid["paid"]) > 0:
                return {"org": paid.get("org") or other, "account": None, "move": paid["moves"][0]}
    return None


def _check_payment_rule(ctx, fund, org, id_hash, suffix, amount):
    fund_id = fund["id"]
    other = _paid_by_another(ctx, fund, org, id_hash, suffix)
    if other is not None:
        where = "" if other["account"] is None else " at " + other["account"]
        return _refusal(
            "already_paid",
            f"the household {id_hash} was already paid from fund {fund_id} by "
            f"{other['org'] or 'another organisation'}{where} (movement {other['move']}): "
            "a household is paid from a fund by one organisation",
        )
    record = _payments(ctx, fund_id, suffix)
    paid = len(record["paid"])
    plan = record["plan"]
    if plan is None:
        if paid > 0:
            return _refusal(
                "already_paid",
                f"the beneficiary was already paid from fund {fund_id} (once per fund "
                "unless an instalment plan was recorded before the first payment)",
            )
        return None
    if paid >= len(plan):
        return _refusal(
            "already_paid", f"all {len(plan)} planned instalments from fund {fund_id} are paid"
        )
    if amount != plan[paid]:
        return _refusal(
            "not_planned",
            f"instalment {paid + 1} of {len(plan)} is {plan[paid]} fen, not {amount}",
        )
    return None


def _open_check(ctx, fund):
    if ctx.time_ms < fund["start_ms"]:
        return _refusal("fund_not_open", f"fund {fund['id']} opens at {fund['start_ms']}")
    if ctx.time_ms > fund["end_ms"]:
        return _refusal("fund_not_open", f"fund {fund['id']} closed at {fund['end_ms']}")
    return None


def _check_allocate(ctx, fund_id, from_id, to_id, amount):
    fund = ctx.get("fund:" + fund_id) if _is_id(fund_id) else None
    if fund is None:
        return _refusal("unknown_fund", f"unknown fund {_said(fund_id)}")
    me = ctx.sender.address
    if from_id == POOL:
        if fund["authority"] != me:
            return _refusal(
                "unauthorized", f"only the fund's authority may allocate from fund {fund_id}'s pool"
            )
    else:
        source = ctx.get("acct:" + from_id) if _is_id(from_id) else None
        if source is None:
            return _refusal("unregistered_account", f"unknown source account {_said(from_id)}")
        if source["manager"] != me:
            return _refusal("unauthorized", f"only the manager of {from_id} may allocate from it")
    if not _is_amount(amount):
        return _refusal("invalid", "amount must be a positive integer number of fen")
    target = ctx.get("acct:" + to_id) if _is_id(to_id) else None
    if target is None:
        return _refusal("unregistered_recipient", f"{_said(to_id)} is not a registered account")
    if target["parent"] != from_id:
        where = "the fund's pool" if from_id == POOL else from_id
        return _refusal(
            "unregistered_recipient", f"{to_id} is not a registered sub-account of {where}"
        )
    closed = _open_check(ctx, fund)
    if closed is not None:
        return closed
    have = _balance(ctx, fund, from_id)
    if amount > have:
        where = "the fund's pool" if from_id == POOL else from_id
        return _refusal(
            "over_allocation",
            f"allocation of {amount} exceeds the balance {have} of {where} in {fund_id}",
        )
    return None


def _record_move(ctx, fund, kind, from_id, to_id, amount, purpose, doc_hash, memo, to_org=None):
    seq = fund["moves"] + 1
    fund["moves"] = seq
    fund["last_move_ms"] = ctx.time_ms
    move = {
        "seq": seq,
        "kind": kind,
        "fund": fund["id"],
        "from": from_id,
        "to": to_id,
        "amount": amount,
        "purpose": purpose,
        "doc_hash": doc_hash,
        "memo": memo,
        "by": ctx.sender.address,
        "org": ctx.sender.org,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
        "tx": ctx.tx_hash,
    }
    if to_org is not None:  # the organisation that registered the beneficiary paid
        move["to_org"] = to_org
    ctx.put("mv:" + fund["id"] + ":" + str(seq), move)
    return move


def _debit(ctx, fund, from_id, amount, field):
    if from_id == POOL:
        fund["pool"] = fund["pool"] - amount
        fund["allocated"] = fund["allocated"] + amount
        return
    books = _books(ctx, fund["id"], from_id)
    books["balance"] = books["balance"] - amount
    books[field] = books[field] + amount
    books["last_move_ms"] = ctx.time_ms
    ctx.put("fa:" + fund["id"] + ":" + from_id, books)


def _do_allocate(ctx, fund_id, from_id, to_id, amount, memo):
    fund = ctx.get("fund:" + fund_id)
    _debit(ctx, fund, from_id, amount, "allocated_out")
    first = not ctx.has("fa:" + fund_id + ":" + to_id)  # no books yet: a new account
    books = _books(ctx, fund_id, to_id)
    books["received"] = books["received"] + amount
    books["balance"] = books["balance"] + amount
    books["last_move_ms"] = ctx.time_ms
    ctx.put("fa:" + fund_id + ":" + to_id, books)
    if first:
        k = fund.get("naccounts", 0) + 1
        fund["naccounts"] = k
        ctx.put("fac:" + fund_id + ":" + str(k), to_id)
    move = _record_move(ctx, fund, "allocate", from_id, to_id, amount, fund["purpose"], None, memo)
    k = ctx.get("ain:" + fund_id + ":" + to_id, 0) + 1
    ctx.put("ain:" + fund_id + ":" + to_id, k)
    ctx.put("ai:" + fund_id + ":" + to_id + ":" + str(k), move["seq"])
    ctx.put("fund:" + fund_id, fund)
    ctx.emit("Allocated", fund=fund_id, source=from_id, to=to_id, amount=amount, seq=move["seq"])
    return move


def _check_disburse(ctx, fund_id, account_id, id_hash, amount, purpose, doc_hash):
    fund = ctx.get("fund:" + fund_id) if _is_id(fund_id) else None
    if fund is None:
        return _refusal("unknown_fund", f"unknown fund {_said(fund_id)}")
    account = ctx.get("acct:" + account_id) if _is_id(account_id) else None
    if account is None:
        return _refusal("unregistered_account", f"unknown account {_said(account_id)}")
    if account["manager"] != ctx.sender.address:
        return _refusal("unauthorized", f"only the manager of {account_id} may disburse from it")
    if not _is_amount(amount):
        return _refusal("invalid", "amount must be a positive integer number of fen")
    if not _is_hash(doc_hash):
        return _refusal("invalid", "doc_hash must be a SHA-256 of 64 lowercase hex characters")
    ben, suffix = _beneficiary(ctx, ctx.sender.org, id_hash)
    if ben is None:
        return _refusal("unregistered_recipient", "the recipient is not a registered beneficiary")
    if ben["account"] != account_id:
        return _refusal(
            "unregistered_recipient",
            f"the beneficiary is registered at {ben['account']}, not at {account_id}",
        )
    if purpose != fund["purpose"]:
        return _refusal(
            "wrong_purpose",
            f"fund {fund_id} is earmarked for {fund['purpose']}, not for {_said(purpose)}",
        )
    if purpose not in ben["purposes"]:
        return _refusal("wrong_purpose", f"the beneficiary is not eligible for {purpose}")
    closed = _open_check(ctx, fund)
    if closed is not None:
        return closed
    rule = _check_payment_rule(ctx, fund, ctx.sender.org, id_hash, suffix, amount)
    if rule is not None:
        return rule
    have = _balance(ctx, fund, account_id)
    if amount > have:
        return _refusal(
            "over_allocation",
            f"disbursement of {amount} exceeds the balance {have} of {account_id} in {fund_id}",
        )
    return None


def _do_disburse(ctx, fund_id, account_id, id_hash, amount, purpose, doc_hash):
    fund = ctx.get("fund:" + fund_id)
    _debit(ctx, fund, account_id, amount, "disbursed")
    fund["disbursed"] = fund["disbursed"] + amount
    ben, suffix = _beneficiary(ctx, ctx.sender.org, id_hash)
    ben["received"] = ben["received"] + amount
    _save_beneficiary(ctx, ben, suffix)
    to_org = None if suffix == id_hash else ben["org"]
    move = _record_move(
        ctx, fund, "disburse", account_id, id_hash, amount, purpose, doc_hash, "", to_org
    )
    record = _payments(ctx, fund_id, suffix)
    record["paid"].append(amount)
    record["moves"].append(move["seq"])
    ctx.put("pay:" + fund_id + ":" + suffix, record)
    if len(record["paid"]) == 1:  # this organisation now pays the household from the fund
        payee = {"org": ctx.sender.org, "account": account_id, "move": move["seq"]}
        ctx.put("payee:" + fund_id + ":" + id_hash, payee)
    ctx.put("fund:" + fund_id, fund)
    ctx.emit(
        "Disbursed", fund=fund_id, account=account_id, to=id_hash, amount=amount, seq=move["seq"]
    )
    return move


def allocate(ctx, fund_id, from_id, to_id, amount, memo):
    """Allocate `amount` of a fund from an account (or "" = the fund's pool) to one of its
    registered sub-accounts. Fails, writing nothing, when refused."""
    _bounded_text(ctx, memo, "memo", 200)
    refused = _check_allocate(ctx, fund_id, from_id, to_id, amount)
    if refused is not None:
        raise ContractError(refused["reason"])
    return _do_allocate(ctx, fund_id, from_id, to_id, amount, memo)


def disburse(ctx, fund_id, account_id, id_hash, amount, purpose, doc_hash):
    """Pay `amount` from an account to a beneficiary registered there, for the fund's
    purpose, with the hash of the supporting documents. Fails, writing nothing, when refused."""
    refused = _check_disburse(ctx, fund_id, account_id, id_hash, amount, purpose, doc_hash)
    if refused is not None:
        raise ContractError(refused["reason"])
    return _do_disburse(ctx, fund_id, account_id, id_hash, amount, purpose, doc_hash)
