# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The fund_supervision contract's account registry after registration: handing an account to a
# new manager, the account views (accounts, their sub-accounts) and the gas estimates its views
# keep within: `source()` puts this file after contract_views.py.

# -- handing an account to a new manager -----------------------------------------------------
# "mhn:<id>" -> how many times the account was handed over; "mh:<id>:<k>" -> the k-th handover
# (k = 1..mhn): {"account", "from", "to", "reason", "by", "name", "org", "height", "time_ms",
# "tx"}. The account's record changes only its "manager": its books, balances and movements
# stay as they are, so nothing is created, moved or lost by a handover.
MAX_HANDOVERS_SHOWN = 100  # handovers a view returns (a 200-character reason: about 1.6 KB each)


def replace_manager(ctx, account_id, manager, reason):
    """Hand an account to a new manager (one whose certificate was revoked, or whose
    organisation left, can no longer act; its balance would be stuck): by a fund authority,
    or for a sub-account by the manager of its parent account, who registered it. The new
    manager holds the role 'fund_officer' and is an active member identity."""
    record = _account(ctx, account_id)
    me = ctx.sender.address
    parent = record["parent"]
    by_parent = parent != POOL and _account(ctx, parent)["manager"] == me
    who = "a fund authority" if parent == POOL else f"a fund authority or the manager of {parent}"
    ctx.require(
        ctx.has_role("fund_authority") or by_parent,
        f"only {who} may hand {account_id} to a new manager",
    )
    ctx.require(_is_address(manager), "manager must be an address of 40 lowercase hex characters")
    ctx.require(manager != record["manager"], f"{manager} manages {account_id} already")
    ctx.require(
        _has_role(ctx, manager, "fund_officer"),
        f"manager {manager} does not hold the on-chain role 'fund_officer'",
    )
    _active_member_org(ctx, manager)
    _nonempty_text(ctx, reason, "reason", 200)
    n = ctx.get("mhn:" + account_id, 0) + 1
    entry = {"account": account_id, "from": record["manager"], "to": manager, "reason": reason}
    entry.update(_signed_stamp(ctx))
    ctx.put("mh:" + account_id + ":" + str(n), entry)
    ctx.put("mhn:" + account_id, n)
    old = record["manager"]
    record["manager"] = manager
    ctx.put("acct:" + account_id, record)
    ctx.emit("ManagerReplaced", id=account_id, old=old, new=manager, by=me, reason=reason)
    return entry


@view
def handovers(ctx, account_id):
    """Every handover of an account to a new manager, oldest first (there are few: each is
    an authority's or the parent's manager's transaction)."""
    _str_arg(ctx, account_id, "account_id")
    n = ctx.get("mhn:" + account_id, 0)
    _whole_list(ctx, account_id, n, "handovers", MAX_HANDOVERS_SHOWN, "handover_page")
    return _numbered(ctx, "mh:" + account_id + ":", 1, n)


@view
def handover_page(ctx, account_id, start, limit):
    """Handovers `start`.. (1-based, at most `limit` <= MAX_HANDOVERS_SHOWN) of an account:
    {"account", "count", "start", "handovers": [...], "next"}."""
    _str_arg(ctx, account_id, "account_id")
    _check_page(ctx, start, limit, MAX_HANDOVERS_SHOWN)
    n = ctx.get("mhn:" + account_id, 0)
    return _log_page(
        ctx, {"account": account_id}, "handovers", "mh:" + account_id + ":", n, start, limit
    )


# -- accounts and sub-accounts ---------------------------------------------------------------
def _shown(record):
    """An account record as the views answer it: without the "children" a record of a
    deployment before lists (`children_page` pages every sub-account)."""
    return {k: v for k, v in record.items() if k != "children"}


def _listed_children(record):
    """The sub-accounts a record of a deployment before lists in it (never grown now)."""
    return record.get("children", [])


@view
def account(ctx, account_id):
    """An account's record and "children_count", how many sub-accounts it has
    (`children_page` reads them)."""
    record = _account(ctx, account_id)
    out = _shown(record)
    out["children_count"] = len(_listed_children(record)) + _set_count(ctx, "ch:" + account_id)
    return out


@view
def children_page(ctx, account_id, start, limit):
    """The sub-accounts of an account, a page at a time: {"account", "count", "start",
    "children": [ids, at most `limit` <= MAX_CHILDREN_PAGE], "next"}, in the order
    registered. `start` / `next` are positions: those its record of a deployment before
    lists come first, then the slots of its indexed set "ch:<id>" after them, so
    consecutive pages neither skip nor repeat one (sub-accounts are never removed)."""
    _check_page(ctx, start, limit, MAX_CHILDREN_PAGE)
    record = _account(ctx, account_id)
    listed = _listed_children(record)
    before = len(listed)
    count = before + _set_count(ctx, "ch:" + account_id)
    out = listed[start - 1 : start - 1 + limit]
    nxt = start + len(out) if start + len(out) <= count else None
    if len(out) < limit:  # the page goes on into the set (no member ever leaves it)
        slot = max(1, start - before)
        found, more = _set_page(ctx, "ch:" + account_id, slot, limit - len(out))
        out = out + [m for _, m in found]
        nxt = None if more is None else before + more
    return {
        "account": account_id,
        "count": count,
        "start": start,
        "children": out,
        "next": nxt,
    }


def _children_ids(ctx, record, most):
    """At most `most` sub-accounts of an account, in the order registered."""
    out = _listed_children(record)[:most]
    if len(out) < most and ctx.get("ch:" + record["id"] + "#n", 0) > 0:
        found, _ = _set_page(ctx, "ch:" + record["id"], 1, most - len(out))
        out = out + [m for _, m in found]
    return out


def _walk(ctx, most):
    """The first `most` accounts breadth first from the top level, and whether there are
    more (each manager may register sub-accounts of its accounts without bound). Refused
    when the gas reading them is estimated (`_ACCOUNT_GAS` a record, `_CHILD_GAS` for each
    id it lists) past `_GAS_BUDGET`."""
    out = []
    cost = 0

    def add(account_id):
        record = ctx.get("acct:" + account_id)  # listed by its parent (or "top"): it is there
        out.append(record)
        return _ACCOUNT_GAS + _CHILD_GAS * len(_listed_children(record))

    refusal = (
        "the accounts registered before the account log are read breadth first up to about "
        f"{_GAS_BUDGET // _ACCOUNT_GAS} of them: read the later ones with account and "
        "children_page"
    )
    for a in ctx.get("top", [])[:most]:
        cost += add(a)
        ctx.require(cost <= _GAS_BUDGET, refusal)
    i = 0
    while i < len(out):
        for child in _children_ids(ctx, out[i], most - len(out) + 1):
            if len(out) == most:
                return out, True
            cost += add(child)
            ctx.require(cost <= _GAS_BUDGET, refusal)
        i += 1
    return out, len(ctx.get("top", [])) > most


def _before_log(ctx):
    """Whether accounts were registered before the "acn" log (which then holds only the
    later ones): the first account ever registered is a top-level one, so the log's first
    entry is not the first top-level account."""
    top = ctx.get("top", [])
    return len(top) > 0 and ctx.get("acl:1") != top[0]


# What reading an account and returning it spends at most, besides 5/4 gas a byte it
# returns (of its row and idle entry, for the report), and for each sub-account its record
# of a deployment before lists: the estimate a whole view (`accounts`, `report`) or a page
# keeps within `_GAS_BUDGET`, so that with the one record a page reads past it (at most
# what one transaction of a deployment before could write: MAX_VALUE_BYTES) it spends at
# most half of a view's gas (tests/unit/test_app_fund_view_gas.py measures the largest).
_ACCOUNT_GAS = 450
_REPORT_ROW_GAS = 600
_CHILD_GAS = 16
_REFUSAL_GAS = 600
_GAS_BUDGET = 440000
# At least the bytes (by `_fields_size_bound`) of a report's account row and idle entry
# besides their texts' characters; of an account record besides its texts.
_ROW_BYTES = 186
_IDLE_BYTES = 118
_ACCOUNT_FIELDS = ("id", "name", "level", "parent", "manager", "registered_by")
_ACCOUNT_BYTES = 101 + 5 * 6 + 9 * 2


def _account_bytes(row):
    """`_fields_size_bound(row)` of an account record (without "children"), counted from
    its texts when it has the eight fields every version of this contract wrote, two of them
    numbers (else counted in full)."""
    if len(row) != 8:
        return _fields_size_bound(row)
    n = _ACCOUNT_BYTES
    for k in _ACCOUNT_FIELDS:
        t = row[k]
        n += len(t) if t.isascii() else 4 * len(t)
    return n


def _sized_accounts(ctx, records, refusal):
    """`records` (records, or ids read one at a time) as the account views answer them,
    while their `_fields_size_bound`s stay within `_SIZED_BUDGET` and the gas reading and
    returning them is estimated (`_ACCOUNT_GAS`, `_CHILD_GAS`) within `_GAS_BUDGET`: past
    either, refused with `refusal`, or (refusal None) the first of them that stay within
    both (at least one)."""
    out = []
    used = 0
    cost = 0
    for item in records:
        # an id of the registration log: its record is there (`_account` checks an id a
        # caller sent, character by character)
        r = ctx.get("acct:" + item) if isinstance(item, str) else item
        row = r
        if "children" in r:
            row = _shown(r)
            cost += _CHILD_GAS * len(r["children"])
        size = _account_bytes(row)
        used += size
        cost += _ACCOUNT_GAS + size * 5 // 4
        if used > _SIZED_BUDGET or cost > _GAS_BUDGET:
            ctx.require(refusal is None, refusal)
            if len(out) > 0:
                return out
        out.append(row)
    return out


@view
def accounts(ctx):
    """Every registered account (in the order registered: parents before children), while
    there are at most MAX_ACCOUNTS and they fit in what a view returns; past that it is
    refused (`accounts_page` reads a page)."""
    if _before_log(ctx):
        out, more = _walk(ctx, MAX_ACCOUNTS)
    else:
        n = ctx.get("acn", 0)
        more = n > MAX_ACCOUNTS
        out = [] if more else _numbered(ctx, "acl:", 1, n)
    ctx.require(
        not more,
        f"more than {MAX_ACCOUNTS} accounts are registered: read them a page at a time with "
        "accounts_page",
    )
    refusal = (
        "the accounts are more than one view reads and returns: read them a page at a time with "
        "accounts_page"
    )
    return _sized_accounts(ctx, out, refusal)


@view
def account_count(ctx):
    """How many accounts are registered (since the "acn" log: see `accounts_page`)."""
    return ctx.get("acn", 0)


@view
def accounts_page(ctx, start, limit):
    """Accounts `start`.. (1-based, at most `limit` <= 200) in the order registered (parents
    before children): {"count", "start", "accounts": [...], "next"}. A page ends early (its
    "next" the first account left out) where its accounts would pass what one view returns
    (`_sized_accounts`). Accounts are only added at the end, so consecutive pages neither
    skip nor repeat one. A deployment whose first accounts were registered before the "acn"
    log (which then holds only the later ones) is read breadth first from the top level,
    every account whenever registered (count None), up to its MAX_ACCOUNT_WALK-th account."""
    _check_page(ctx, start, limit)
    if _before_log(ctx):
        last = start + limit - 1
        ctx.require(last <= MAX_ACCOUNT_WALK, f"accounts are read up to the {MAX_ACCOUNT_WALK}th")
        out, more = _walk(ctx, last)
        shown = _sized_accounts(ctx, out[start - 1 :], None)
        left = start + len(shown) < start + len(out[start - 1 :])
        return {
            "count": None,
            "start": start,
            "accounts": shown,
            "next": start + len(shown) if more or left else None,
        }
    n = ctx.get("acn", 0)
    ids = _numbered(ctx, "acl:", start, min(n, start + limit - 1))
    shown = _sized_accounts(ctx, ids, None)
    return {
        "count": n,
        "start": start,
        "accounts": shown,
        "next": start + len(shown) if start + len(shown) <= n else None,
    }
