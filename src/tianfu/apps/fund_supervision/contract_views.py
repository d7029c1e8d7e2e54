# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The fund_supervision contract's views: `source()` puts this file after contract.py and the
# shared contract library, whose names are in scope here.

# -- beneficiaries, registered per organisation (used by contract.py too) ----------------
def _org_of(ctx, address):
    cert = ctx.read("governance", "cert/" + address)
    return None if cert is None else cert["org"]


def _beneficiary(ctx, org, id_hash):
    """(record, key suffix of its payments) of the beneficiary `id_hash` registered by
    organisation `org`, or (None, None). A "ben:<hash>" of a deployment before counts as
    registered by the organisation of its account's manager."""
    if not (_is_hash(id_hash) and isinstance(org, str)):
        return None, None
    record = ctx.get("bo:" + org + ":" + id_hash)
    if record is not None:
        return record, org + ":" + id_hash
    legacy = ctx.get("ben:" + id_hash)
    if legacy is not None:
        account = ctx.get("acct:" + legacy["account"])
        if account is not None and _org_of(ctx, account["manager"]) == org:
            return legacy, id_hash
    return None, None


def _save_beneficiary(ctx, record, suffix):
    if suffix == record["hash"]:
        ctx.put("ben:" + suffix, record)
    else:
        ctx.put("bo:" + suffix, record)


# -- views --------------------------------------------------------------------------------
@view
def fund(ctx, fund_id):
    return _fund(ctx, fund_id)


@view
def funds(ctx):
    return ctx.get("funds", [])


@view
def balance(ctx, fund_id, account_id):
    """An account's books for a fund ("" = the fund's pool: its balance only)."""
    f = _fund(ctx, fund_id)
    if account_id == POOL:
        return {"balance": f["pool"], "allocated_out": f["allocated"]}
    _account(ctx, account_id)
    return _books(ctx, fund_id, account_id)


def _payments_of(ctx, fund_id, id_hash, org):
    ctx.require(_is_hash(id_hash), "id_hash must be a SHA-256 of 64 lowercase hex characters")
    ctx.require(isinstance(org, str), "org is the name of the registering organisation")
    _, suffix = _beneficiary(ctx, org, id_hash)
    return _payments(ctx, fund_id, suffix or (org + ":" + id_hash))


@view
def payments(ctx, fund_id, id_hash, org):
    """The payments from a fund of the beneficiary `id_hash` registered by organisation
    `org`: its plan (None: at most one payment), the amounts paid, their movement numbers."""
    _fund(ctx, fund_id)
    return _payments_of(ctx, fund_id, id_hash, org)


@view
def payee(ctx, fund_id, id_hash):
    """The organisation that pays the household `id_hash` from a fund: {"org", "account",
    "move"} (its first payment), or None before any payment recorded with it."""
    _fund(ctx, fund_id)
    return ctx.get("payee:" + fund_id + ":" + id_hash) if _is_hash(id_hash) else None


@view
def beneficiary(ctx, id_hash, org):
    """The beneficiary `id_hash` registered by organisation `org` (None if there is none)."""
    _str_arg(ctx, id_hash, "id_hash")
    _str_arg(ctx, org, "org")
    return _beneficiary(ctx, org, id_hash)[0]


@view
def movements(ctx, fund_id, start, limit):
    """Movements `start`.. (1-based) of a fund, at most `limit` (<= 200), fewer when they
    would pass what a view returns (`_sized_moves`): the next read starts after the last."""
    f = _fund(ctx, fund_id)
    ctx.require(_is_int(start) and start >= 1, "start must be an integer >= 1")
    ctx.require(_is_int(limit) and limit >= 1 and limit <= 200, "limit must be 1..200")
    last = min(f["moves"], start + limit - 1)
    return _sized_moves(ctx, fund_id, [str(k) for k in range(start, last + 1)])


def _sized_moves(ctx, fund_id, seqs):
    """The movements `seqs` of a fund, in order, up to the first that would take them past
    `_SIZED_BUDGET` bytes (by `_size_bound`; at least one): a caller reads the rest from the
    position after the last it got (a movement's memo, organisation and ids may take 1.6 KB,
    so 200 of the largest were past what a view returns)."""
    out = []
    used = 0
    for n in seqs:
        entry = ctx.get("mv:" + fund_id + ":" + str(n))
        used += _size_bound(entry)
        if len(out) > 0 and used > _SIZED_BUDGET:
            break
        out.append(entry)
    return out


def _path(ctx, account_id):
    chain = []
    cur = account_id
    while cur != POOL:
        a = _account(ctx, cur)
        chain.append(a)
        cur = a["parent"]
    return list(reversed(chain))


def _allocation_row(m):
    return {"seq": m["seq"], "from": m["from"], "amount": m["amount"], "height": m["height"]}


def _allocations_before(ctx, fund_id, account_id, seq):
    """How many allocations into an account (its log `ai:`) came before movement `seq`, by
    bisection over the log (movement numbers only grow), and the newest MAX_TRACE_IN of them."""
    prefix = "ai:" + fund_id + ":" + account_id + ":"
    lo, hi = 0, ctx.get("ain:" + fund_id + ":" + account_id, 0)
    while lo < hi:  # the number of log entries below seq lies in lo..hi
        mid = (lo + hi + 1) // 2
        if ctx.get(prefix + str(mid)) < seq:
            lo = mid
        else:
            hi = mid - 1
    first = max(1, lo - MAX_TRACE_IN + 1)
    seqs = [ctx.get(prefix + str(k)) for k in range(first, lo + 1)]
    return lo, [_allocation_row(ctx.get("mv:" + fund_id + ":" + str(n))) for n in seqs]


def _scanned_before(moves, account_id, seq):
    """As `_allocations_before`, from the movements of a fund created before the log."""
    found = [
        _allocation_row(m)
        for m in moves
        if m["kind"] == "allocate" and m["to"] == account_id and m["seq"] < seq
    ]
    return len(found), found[max(0, len(found) - MAX_TRACE_IN) :]


@view
def trace(ctx, fund_id, id_hash, org):
    """Every fen a beneficiary received from a fund, with the account path from the fund
    and, for each account on that path, how many allocations fed it before the payment
    ("allocations_in_count") and the newest MAX_TRACE_IN of them ("allocations_in";
    `allocations_into` pages all). What it reads is bounded: a beneficiary's payments are
    at most MAX_INSTALMENTS, a path at most one account per level, and the allocations are
    found by bisection of the account's allocation log."""
    f = _fund(ctx, fund_id)
    record = _payments_of(ctx, fund_id, id_hash, org)
    moves = None
    if f.get("alloc_log", False):
        seqs = record["moves"]
        payments = [ctx.get("mv:" + fund_id + ":" + str(n)) for n in seqs]
    else:  # a fund created before the allocation log: its movements are read
        ctx.require(
            f["moves"] <= MAX_TRACE_SCAN,
            f"fund {fund_id} has {f['moves']} movements, more than {MAX_TRACE_SCAN}, and was "
            "created before the allocation log: read them with movements",
        )
        moves = _numbered(ctx, "mv:" + fund_id + ":", 1, f["moves"])
        payments = [
            m
            for m in moves
            if m["kind"] == "disburse"
            and m["to"] == id_hash
            and m.get("to_org") == record.get("org")
        ]
    out = []
    paths = {}  # each paying account's path, read once (a beneficiary is paid at one account)
    for p in payments:
        if p["from"] not in paths:
            paths[p["from"]] = [(a["id"], a["level"]) for a in _path(ctx, p["from"])]
        hops = []
        for aid, level in paths[p["from"]]:
            if moves is None:
                n, shown = _allocations_before(ctx, fund_id, aid, p["seq"])
            else:
                n, shown = _scanned_before(moves, aid, p["seq"])
            hops.append(
                {
                    "account": aid,
                    "level": level,
                    "allocations_in_count": n,
                    "allocations_in": shown,
                }
            )
        out.append({"payment": p, "path": hops})
    return {
        "fund": fund_id,
        "purpose": f["purpose"],
        "beneficiary": id_hash,
        "org": org,
        "total": sum(p["amount"] for p in payments),
        "payments": out,
    }


@view
def allocations_into(ctx, fund_id, account_id, start, limit):
    """Allocations `start`.. (1-based, oldest first, at most `limit` <= 200) an account
    received from a fund (those recorded in its allocation log), fewer when they would pass
    what a view returns (`_sized_moves`): the next read starts after the last."""
    _fund(ctx, fund_id)
    _account(ctx, account_id)
    ctx.require(_is_int(start) and start >= 1, "start must be an integer >= 1")
    ctx.require(_is_int(limit) and limit >= 1 and limit <= 200, "limit must be 1..200")
    prefix = "ai:" + fund_id + ":" + account_id + ":"
    n = ctx.get("ain:" + fund_id + ":" + account_id, 0)
    seqs = [ctx.get(prefix + str(k)) for k in range(start, min(n, start + limit - 1) + 1)]
    return _sized_moves(ctx, fund_id, seqs)


def _refusal_count(ctx, fund_id):
    if not isinstance(fund_id, str):
        return 0
    return _log_count(ctx, "rf_fund:" + fund_id, "rfn:" + fund_id)


def _refusal_range(ctx, fund_id, first, last):
    """Refusals first..last of a fund: those listed under "rf_fund:<fund>" (the one list a
    deployment before the numbered log kept; never written now), then the numbered log."""
    seqs = _log_items(
        ctx, "rf_fund:" + fund_id, "rfn:" + fund_id, "rfi:" + fund_id + ":", first, last - first + 1
    )
    return [ctx.get("rf:" + str(n)) for n in seqs]


def _refusals(ctx, fund_id):
    """The newest MAX_REFUSALS_SHOWN refusals of a fund, oldest of them first."""
    n = _refusal_count(ctx, fund_id)
    return _refusal_range(ctx, fund_id, max(1, n - MAX_REFUSALS_SHOWN + 1), n)


@view
def refusals(ctx, fund_id):
    """The newest refused attempts recorded for a fund ("" = attempts naming no known fund),
    at most MAX_REFUSALS_SHOWN, oldest of them first (`refusal_count`, `refusal_page`: all)."""
    _str_arg(ctx, fund_id, "fund_id")
    return _refusals(ctx, fund_id)


@view
def refusal_count(ctx, fund_id):
    """How many refused attempts are recorded for a fund ("" = naming no known fund)."""
    _str_arg(ctx, fund_id, "fund_id")
    return _refusal_count(ctx, fund_id)


@view
def refusal_page(ctx, fund_id, start, limit):
    """Refusals `start`.. (1-based, oldest first) of a fund, at most `limit` (<=
    MAX_REFUSAL_PAGE: that many of the largest refusals fit in what a view returns)."""
    ctx.require(_is_int(start) and start >= 1, "start must be an integer >= 1")
    ctx.require(
        _is_int(limit) and limit >= 1 and limit <= MAX_REFUSAL_PAGE,
        f"limit must be 1..{MAX_REFUSAL_PAGE}",
    )
    _str_arg(ctx, fund_id, "fund_id")
    n = _refusal_count(ctx, fund_id)
    return _refusal_range(ctx, fund_id, start, min(n, start + limit - 1))


def _idle_ms(ctx, idle_ms):
    if idle_ms is None:
        return DEFAULT_IDLE_MS
    ctx.require(_is_int(idle_ms) and idle_ms >= 0, "idle_ms must be a non-negative integer")
    return idle_ms


def _fund_account_ids(ctx, fund_id, f, start, limit):
    """The ids of the accounts `start`.. (at most `limit`) that received from the fund: those
    of a fund record of a deployment before (its "accounts"), then "fac:<fund>:<k>"."""
    listed = f.get("accounts", [])
    out = listed[start - 1 : start - 1 + limit]
    first = max(1, start - len(listed))
    last = min(f.get("naccounts", 0), start + limit - 1 - len(listed))
    return out + [ctx.get(f"fac:{fund_id}:{k}") for k in range(first, last + 1)]


def _books_rows(ctx, fund_id, f, aids, idle_ms, used, gas, refusal):
    """The report's part for the accounts `aids`: {"levels", "accounts", "idle", "held",
    "conserved", "read"} (held: their balances; conserved: each account's books balance;
    read: how many of `aids` it holds). `used` bytes counted before, plus each account's
    row and idle entry (by `_fields_size_bound`), stay within `_SIZED_BUDGET`, and `gas`
    estimated before, plus each account's (`_REPORT_ROW_GAS`, `_CHILD_GAS`), within
    `_GAS_BUDGET`: past either it is refused with `refusal`, or (refusal None) it holds the
    accounts before (at least one)."""
    now = ctx.time_ms
    ended = now > f["end_ms"]
    levels = {}
    for lv in LEVELS:
        levels[lv] = {
            "level": lv,
            "accounts": 0,
            "received": 0,
            "allocated_out": 0,
            "disbursed": 0,
            "balance": 0,
        }
    rows = []
    idle = []
    conserved = True
    held = 0
    cost = gas
    for aid in aids:
        a = ctx.get("acct:" + aid)  # an account the fund's list holds: it is registered
        b = _books(ctx, fund_id, aid)
        row = {
            "account": aid,
            "name": a["name"],
            "level": a["level"],
            "parent": a["parent"],
            "received": b["received"],
            "allocated_out": b["allocated_out"],
            "disbursed": b["disbursed"],
            "balance": b["balance"],
            "last_move_ms": b["last_move_ms"],
        }
        entry = None
        if b["balance"] > 0 and (ended or now - b["last_move_ms"] >= idle_ms):
            entry = {
                "account": aid,
                "level": a["level"],
                "balance": b["balance"],
                "since_ms": b["last_move_ms"],
                "idle_for_ms": now - b["last_move_ms"],
                "why": "fund period ended" if ended else "not moved for at least idle_ms",
            }
        size = _ROW_BYTES + len(aid) + len(a["level"]) + len(a["parent"]) + _text_bytes(a["name"])
        if entry is not None:
            size += _IDLE_BYTES + len(aid) + len(a["level"]) + len(entry["why"])
        used += size
        cost += _REPORT_ROW_GAS + size * 5 // 4 + _CHILD_GAS * len(_listed_children(a))
        if used > _SIZED_BUDGET or cost > _GAS_BUDGET:
            ctx.require(refusal is None, refusal)
            if len(rows) > 0:
                break
        if b["received"] != b["balance"] + b["allocated_out"] + b["disbursed"]:
            conserved = False
        held += b["balance"]
        lv = levels[a["level"]]
        lv["accounts"] = lv["accounts"] + 1
        for k in ["received", "allocated_out", "disbursed", "balance"]:
            lv[k] = lv[k] + b[k]
        rows.append(row)
        if entry is not None:
            idle.append(entry)
    return {
        "levels": [levels[lv] for lv in LEVELS if levels[lv]["accounts"] > 0],
        "accounts": rows,
        "idle": idle,
        "held": held,
        "conserved": conserved,
        "read": len(rows),
    }


def _fund_head(ctx, fund_id, f, idle_ms):
    """The report's fund-wide figures, and the pool's idle entry (or None)."""
    now = ctx.time_ms
    ended = now > f["end_ms"]
    pool_idle = None
    if f["pool"] > 0 and (ended or now - f["last_move_ms"] >= idle_ms):
        pool_idle = {
            "account": POOL,
            "level": "fund",
            "balance": f["pool"],
            "since_ms": f["last_move_ms"],
            "idle_for_ms": now - f["last_move_ms"],
            "why": "fund period ended" if ended else "not moved for at least idle_ms",
        }
    head = {
        "fund": fund_id,
        "purpose": f["purpose"],
        "total": f["total"],
        "pool": f["pool"],
        "allocated": f["allocated"],
        "disbursed": f["disbursed"],
        "moves": f["moves"],
        "now_ms": now,
        "period_ended": ended,
    }
    return head, pool_idle


def _text_bytes(text):
    """At least the bytes a text takes when a view returns it: 5 and a byte a character
    if it is ASCII, else four."""
    return 5 + (len(text) if text.isascii() else 4 * len(text))


def _fields_size_bound(record):
    """At least the bytes a dict of texts, numbers and other values takes when a view
    returns it: its header, each key and text by `_text_bytes`, a number, a boolean or None
    9, any other value its `_size_bound`. Each text counts as wide only if it is, not the
    whole dict (as `_size_bound` of it does), and a number counts what it takes."""
    n = 5
    for k, v in record.items():
        n += _text_bytes(k) if isinstance(k, str) else _size_bound(k)
        if isinstance(v, str):
            n += _text_bytes(v)
        elif v is None or isinstance(v, int):
            n += 9
        else:
            n += _size_bound(v)
    return n


_REPORT_HEAD_BYTES = 4000  # at least what a report's or a page's fund-wide figures take


@view
def report(ctx, fund_id, idle_ms):
    """The regulator's report: per-level balances, conservation, idle funds, refusals,
    while at most MAX_REPORT_ACCOUNTS accounts received from the fund (so that it spends at
    most half of a view's gas) and its figures, the newest refusals, accounts and idle
    entries take at most `_SIZED_BUDGET` bytes (each entry counted by `_fields_size_bound`);
    past either it is refused (`report_page` reads the accounts' part a page at a time,
    `refusal_page` the refusals).

    A balance is idle when the fund's period has ended, or when it has not moved for
    `idle_ms` milliseconds of block time (None = 30 days)."""
    f = _fund(ctx, fund_id)
    idle_ms = _idle_ms(ctx, idle_ms)
    n = len(f.get("accounts", [])) + f.get("naccounts", 0)
    ctx.require(
        n <= MAX_REPORT_ACCOUNTS,
        f"{n} accounts received from fund {fund_id}, more than {MAX_REPORT_ACCOUNTS}: read "
        "it a page at a time with report_page",
    )
    head, pool_idle = _fund_head(ctx, fund_id, f, idle_ms)
    too_large = (
        f"the report of fund {fund_id} is larger than one view returns: read it a page at "
        "a time with report_page (and its refusals with refusal_page)"
    )
    refusals = _refusals(ctx, fund_id)
    idle = [pool_idle] if pool_idle is not None else []
    size = _REPORT_HEAD_BYTES
    gas = 0
    for entry in refusals + idle:
        bytes_ = _fields_size_bound(entry) if isinstance(entry, dict) else _size_bound(entry)
        size += bytes_
        gas += _REFUSAL_GAS + bytes_ * 5 // 4
        ctx.require(size <= _SIZED_BUDGET, too_large)
    aids = _fund_account_ids(ctx, fund_id, f, 1, n)
    part = _books_rows(ctx, fund_id, f, aids, idle_ms, size, gas, too_large)
    held = f["pool"] + part["held"]
    conserved = (
        part["conserved"]
        and f["pool"] + f["allocated"] == f["total"]
        and held + f["disbursed"] == f["total"]
    )
    return {
        "fund": fund_id,
        "purpose": f["purpose"],
        "total": f["total"],
        "pool": f["pool"],
        "disbursed": f["disbursed"],
        "held_in_accounts": part["held"],
        "conserved": conserved,
        "now_ms": head["now_ms"],
        "period_ended": head["period_ended"],
        "levels": part["levels"],
        "accounts": part["accounts"],
        "idle": idle + part["idle"],
        "refusals": refusals,
        "refusal_count": _refusal_count(ctx, fund_id),
    }


@view
def report_page(ctx, fund_id, idle_ms, start, limit):
    """The report a page at a time: the fund's figures ("head": total, pool, allocated,
    disbursed, moves, now_ms, period_ended; "pool_idle"), and for the accounts `start`..
    (1-based, at most `limit` <= 200, in the order they first received from the fund) their
    "levels", "accounts", "idle", "held" (their balances) and "conserved" (each account's
    books balance); "count" accounts in all, "next" the `start` of the following page.
    Accounts are only added at the end, so consecutive pages neither skip nor repeat one;
    the fund is conserved when every page is, and pool + the pages' held + disbursed =
    total, read while "head"."moves" stays the same."""
    f = _fund(ctx, fund_id)
    idle_ms = _idle_ms(ctx, idle_ms)
    _check_page(ctx, start, limit)
    n = len(f.get("accounts", [])) + f.get("naccounts", 0)
    head, pool_idle = _fund_head(ctx, fund_id, f, idle_ms)
    aids = _fund_account_ids(ctx, fund_id, f, start, limit)
    part = _books_rows(ctx, fund_id, f, aids, idle_ms, _REPORT_HEAD_BYTES, 0, None)
    read = part.pop("read")
    part.update(
        {
            "head": head,
            "pool_idle": pool_idle,
            "count": n,
            "start": start,
            "next": start + read if start + read <= n else None,
        }
    )
    return part
