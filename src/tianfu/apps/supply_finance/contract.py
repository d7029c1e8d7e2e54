# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The helpers it uses and does not define come from the shared contract library
# (apps/common/contract_library.py), which its deployed source ends with.
"""Supply-chain finance: receivables issued by a core enterprise, split, transferred, pledged, repaid.

A sandboxed contract (see docs/contracts.md and docs/apps/supply_finance.md). Amounts are
integer fen. Roles (granted on chain by each organisation's admin): "core_enterprise"
issues and repays, "bank" finances pledged receivables, "regulator" audits. Suppliers
need no role but must enrol (`enrol`) before they can receive a receivable, and be an active
member identity when they receive one (a certificate standing, its organisation a member).

State:
  "party:<address>"  -> enrolment record of a participant (`enrol`, `party`: the shared
                        parties part, apps/common/contract_parties.py)
  "seq"              -> number of receivables issued so far
  "r:<id>"           -> a receivable or a part of one (ids "RCV-7", "RCV-7.2", "RCV-7.2.1")
  "doc:<org>:<hash>" -> id of the receivable an issuer of that organisation backed with that
                     contract or invoice hash: an invoice binds its debtor, the issuer's
                     organisation, so the hash is claimed per organisation: no other member
                     can take it first to block the real issuer, and no second account of the
                     issuer's organisation can back it again (a "doc:<hash>" and a
                     "doc:<issuer address>:<hash>" of a deployment before count too)
  "docidx"           -> the receivables 1..docidx-1 have their invoice claim filed under
                     their issuer's organisation: receivables issued before the claims were
                     kept per organisation are indexed by `index_claims` (anyone may call
                     it) or, while at most MAX_LAZY_CLAIMS are left, by `issue` itself
                     (refused, naming the command, while more are), so an invoice an
                     account claimed before is found for its whole organisation
  "held:<address>"   -> ids held by that address (parts that were split are removed), an
                        indexed set (below): anyone may transfer to an address
  "open"             -> ids of the original receivables not yet fully repaid, an indexed set
  An indexed set (the shared library's `_set_*`) keeps each id in a slot that does not
  change while it is a member ("NAME#i:<k>", "NAME#k:<id>"), its live slots linked in slot
  order: adding or removing an id writes at most nine keys however many it holds, so
  nobody's calls get dearer as another party's set grows, and the pages (`holdings_page`,
  `open_page`, `overdue_page`) never skip or repeat an id present for the whole walk. A
  deployment before the indexed sets kept each as one list under NAME; such a list is no
  longer added to, and its ids come first in the set.
  "pn:<root id>", "pi:<root id>:<k>" -> how many receivables and parts a tree has, and the
                        k-th (k = 1..pn, in the order made: the original first, then each
                        split's parts): the audit and `tree_page` read a tree by it (a tree
                        issued before this log is walked from its root, at most MAX_TREE)
  "unpaid:<root id>" -> how many parts of that receivable's tree are not repaid (unsplit
                        parts issued or active), so repaying one part reads no other part
  "tf:<id>:<n>", "pl:<id>:<n>" -> the n-th transfer / closed pledge of a receivable (n =
                        1.."transfer_count" / "pledge_count" of its record, which carries
                        only the newest MAX_KEPT in "transfers" / "pledges"): a holder
                        moving or pledging a part back and forth no longer grows the record
                        every later call of its tree reads (a record made before the logs
                        holds all of them in its lists; they move to the log at its next one)
"""

MAX_AMOUNT = 10**18
MAX_PARTS = 20
MAX_DEPTH = 40
MAX_HOLDINGS = 200  # holdings the `holdings` view reads in one call (`holdings_page` pages)
MAX_TREE = 500  # parts of a tree `audit`, `tree_totals` and `overdue` read (`tree_page` pages)
MAX_TREE_PAGE = 100  # parts one `tree_page` / `audit_page` reads (and each split part's parts)
MAX_OVERDUE_READ = 600  # parts one `overdue_page` reads (a page ends early before more)
MAX_OPEN = 1000  # open receivables `open_receivables` and `overdue` read (their `_page`s page)
# One `repay` pays at most MAX_REPAY unpaid parts and reads at most MAX_REPAY_READ parts (more:
# it names the parts below to repay one at a time). A part its holder passed on and pledged
# again and again carries up to MAX_KEPT transfers and pledges (about 5.5 KB): paying one
# costs about 9,000 gas (read, closing its pledge, writing it, its `Repaid` event) and
# reading one about 1,000, so at these bounds a repayment stays under half of the 1,000,000
# gas of a transaction (200 such parts spent 1.7 million).
MAX_REPAY = 30
MAX_REPAY_READ = 100
MAX_RATE_BP = 10000
MAX_LAZY_CLAIMS = 50  # unfiled invoice claims `issue` files itself (more: run index_claims)
MAX_KEPT = 10  # newest transfers / closed pledges a record carries (`*_page` views read all)
HEX = "0123456789abcdef"
PREFIX = "RCV-"


# -- checks -------------------------------------------------------------------------------
def _amount(ctx, value, what):
    ctx.require(
        isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_AMOUNT,
        f"{what} must be a positive integer number of fen (at most {MAX_AMOUNT})",
    )


def _address(ctx, who, what):
    ctx.require(
        isinstance(who, str) and len(who) == 40 and all(c in HEX for c in who),
        f"{what} must be an address of 40 lowercase hex characters",
    )


def _hash(ctx, value, what):
    ctx.require(
        isinstance(value, str) and len(value) == 64 and all(c in HEX for c in value),
        f"{what} must be a SHA-256 hash of 64 lowercase hex characters",
    )


def _load(ctx, rid):
    record = ctx.get("r:" + rid) if isinstance(rid, str) and len(rid) <= 200 else None
    if record is None:
        raise ContractError(f"unknown receivable {rid}")
    return record


def _save(ctx, record):
    ctx.put("r:" + record["id"], record)


def _enrolled(ctx, address, what):
    _address(ctx, address, what)
    if ctx.get("party:" + address) is None:
        raise ContractError(f"{what} {address} has not enrolled in supply_finance (enrol first)")


def _recipient(ctx, address, what):
    """Enrolled, and an active member identity: one revoked or gone could not act on it."""
    _enrolled(ctx, address, what)
    _active_member_org(ctx, address)


def _holder_only(ctx, record, action):
    if record["holder"] != ctx.sender.address:
        raise ContractError(
            f"only the holder of {record['id']} may {action} it; it is held by {record['holder']}"
        )


def _movable(ctx, record, action):
    """The receivable is accepted, unsplit, unpaid, unpledged and not yet mature."""
    rid = record["id"]
    status = record["status"]
    if status == "issued":
        raise ContractError(f"{rid} has not been accepted yet; it cannot be {action}")
    if status == "split":
        raise ContractError(
            f"{rid} was already split into {', '.join(record['children'])}; act on its parts"
        )
    if status == "paid":
        raise ContractError(f"{rid} has already been repaid; it cannot be {action}")
    if status == "rejected":
        raise ContractError(f"{rid} was rejected by its supplier; it cannot be {action}")
    pledge = record["pledge"]
    if pledge is not None:
        raise ContractError(
            f"{rid} is pledged to bank {pledge['bank']} ({pledge['status']}); "
            f"it cannot be {action} until the pledge is released"
        )
    if ctx.time_ms >= record["maturity_ms"]:
        raise ContractError(f"{rid} matured at {record['maturity_ms']}; it cannot be {action}")


def _held_add(ctx, address, rid):
    _set_add(ctx, "held:" + address, rid)


def _held_remove(ctx, address, rid):
    _set_remove(ctx, "held:" + address, rid)


def _unpaid_add(ctx, root_id, delta):
    """Count `delta` more parts of a tree to be repaid (called once its records are saved);
    a tree issued before the count existed is counted once from its records."""
    n = ctx.get("unpaid:" + root_id)
    if n is None:
        parts = _subtree(ctx, _load(ctx, root_id))
        n = len([x for x in parts if x["status"] in ["issued", "active"]])
    else:
        n = n + delta
    ctx.put("unpaid:" + root_id, n)
    return n


def _append_history(ctx, record, field, log, entry):
    """Append `entry` to the numbered log `log` of the record (its count under the record's
    `field` count) and keep the newest MAX_KEPT in `record[field]`."""
    counter = field[:-1] + "_count"
    prefix = log + record["id"] + ":"
    n = record.get(counter)
    if n is None:  # a record made before the log: its list holds every entry so far
        n = 0
        for old in record[field]:
            n += 1
            ctx.put(prefix + str(n), old)
    n += 1
    ctx.put(prefix + str(n), entry)
    record[counter] = n
    record[field] = (record[field] + [entry])[-MAX_KEPT:]


def _subtree(ctx, record):
    """Every record under `record` (itself included), parents before children."""
    return _breadth_first(ctx, _load, [record])


def _new_receivable(
    ctx, rid, root, parent, depth, issuer, holder, amount, maturity_ms, doc_hash, status
):
    """A receivable as it is created now: no parts, transfers, pledges or payment yet."""
    return {
        "id": rid,
        "root": root,
        "parent": parent,
        "children": [],
        "depth": depth,
        "issuer": issuer,
        "holder": holder,
        "amount": amount,
        "maturity_ms": maturity_ms,
        "doc_hash": doc_hash,
        "status": status,
        "created_height": ctx.height,
        "created_ms": ctx.time_ms,
        "transfers": [],
        "pledge": None,
        "pledges": [],
        "payment": None,
    }


# -- issuance -----------------------------------------------------------------------------
def _doc_claim(ctx, org, issuer, doc_hash):
    """The receivable that already backs `doc_hash` for an issuer of `org`: claimed by the
    organisation, or by this issuer or for everyone under a deployment before (else None)."""
    for key in ("doc:" + org + ":" + doc_hash, "doc:" + issuer + ":" + doc_hash):
        used = ctx.get(key)
        if used is not None:
            return used
    return ctx.get("doc:" + doc_hash)


def issue(ctx, supplier, amount, maturity_ms, doc_hash):
    """A core enterprise issues a receivable to its tier-1 supplier, who must accept it."""
    ctx.require_role("core_enterprise")
    me = ctx.sender.address
    _enrolled(ctx, me, "the issuer")
    _recipient(ctx, supplier, "supplier")
    ctx.require(supplier != me, "a core enterprise cannot issue a receivable to itself")
    _amount(ctx, amount, "amount")
    ctx.require(
        isinstance(maturity_ms, int) and not isinstance(maturity_ms, bool),
        "maturity_ms must be an integer time in milliseconds",
    )
    ctx.require(
        maturity_ms > ctx.time_ms, f"maturity {maturity_ms} must be after now ({ctx.time_ms})"
    )
    _hash(ctx, doc_hash, "doc_hash")
    last = ctx.get("seq", 0)
    pending = last - ctx.get("docidx", 1) + 1
    ctx.require(
        pending <= MAX_LAZY_CLAIMS,
        f"{pending} receivables issued before this contract version have not had their "
        "invoice claims filed by organisation, so an invoice another account of this "
        "organisation backed could be backed again: run `tianfu app supply_finance "
        "index-claims` (anyone may; the SDK's index_all_claims) until `claims-indexed` shows "
        "every receivable, then issue",
    )
    if pending > 0:  # a few left after an upgrade: this call files them first
        _file_claims(ctx, last)
    org = ctx.sender.org
    used = _doc_claim(ctx, org, me, doc_hash)
    if used is not None:
        raise ContractError(f"the contract/invoice {doc_hash} already backs receivable {used}")
    seq = last + 1
    ctx.put("seq", seq)
    ctx.put("docidx", seq + 1)  # this one's claim is filed by organisation below
    rid = PREFIX + str(seq)
    record = _new_receivable(
        ctx, rid, rid, None, 0, me, supplier, amount, maturity_ms, doc_hash, "issued"
    )
    record["issuer_org"] = org  # whose claim on doc_hash a rejection frees
    _save(ctx, record)
    ctx.put("unpaid:" + rid, 1)
    ctx.put("pn:" + rid, 1)
    ctx.put("pi:" + rid + ":1", rid)
    ctx.put("doc:" + org + ":" + doc_hash, rid)
    _held_add(ctx, supplier, rid)
    _set_add(ctx, "open", rid)
    ctx.emit("Issued", id=rid, issuer=me, supplier=supplier, amount=amount, maturity_ms=maturity_ms)
    return rid


def accept(ctx, rid):
    """The supplier accepts an issued receivable; it becomes active."""
    record = _load(ctx, rid)
    _holder_only(ctx, record, "accept")
    ctx.require(
        record["status"] == "issued", f"{rid} is {record['status']}, not awaiting acceptance"
    )
    record["status"] = "active"
    _save(ctx, record)
    ctx.emit("Accepted", id=rid, holder=record["holder"])
    return rid


def reject(ctx, rid, reason):
    """The supplier refuses an issued receivable (e.g. wrong amount); the invoice is freed."""
    _bounded_text(ctx, reason, "reason", 200)
    record = _load(ctx, rid)
    _holder_only(ctx, record, "reject")
    ctx.require(
        record["status"] == "issued", f"{rid} is {record['status']}, not awaiting acceptance"
    )
    record["status"] = "rejected"
    record["rejected_reason"] = reason
    _save(ctx, record)
    h = record["doc_hash"]
    for owner in (record.get("issuer_org"), record["issuer"], None):  # this and earlier keys
        key = "doc:" + h if owner is None else "doc:" + owner + ":" + h
        if ctx.get(key) == rid:
            ctx.delete(key)
    _held_remove(ctx, record["holder"], rid)
    _set_remove(ctx, "open", rid)
    ctx.emit("Rejected", id=rid, holder=record["holder"], reason=reason)
    return rid


# -- holder actions -----------------------------------------------------------------------
def _split(ctx, record, amounts):
    rid = record["id"]
    ctx.require(
        isinstance(amounts, list) and len(amounts) >= 2 and len(amounts) <= MAX_PARTS,
        f"amounts must be a list of 2 to {MAX_PARTS} parts",
    )
    for a in amounts:
        _amount(ctx, a, "every part")
    total = sum(amounts)
    if total != record["amount"]:
        raise ContractError(
            f"the parts sum to {total} but {rid} is {record['amount']}; parts must sum exactly to the whole"
        )
    ctx.require(record["depth"] < MAX_DEPTH, f"{rid} is split {MAX_DEPTH} levels deep already")
    holder = record["holder"]
    children = []
    for i, a in enumerate(amounts):
        cid = rid + "." + str(i + 1)
        child = _new_receivable(
            ctx,
            cid,
            record["root"],
            rid,
            record["depth"] + 1,
            record["issuer"],
            holder,
            a,
            record["maturity_ms"],
            record["doc_hash"],
            "active",
        )
        _save(ctx, child)
        children.append(cid)
    record["status"] = "split"
    record["children"] = children
    _save(ctx, record)
    _held_remove(ctx, holder, rid)
    for cid in children:
        _held_add(ctx, holder, cid)
    _unpaid_add(ctx, record["root"], len(children) - 1)
    root_id = record["root"]
    n = ctx.get("pn:" + root_id)
    if n is not None:  # a tree issued before the log has none: it is walked instead
        for cid in children:
            n += 1
            ctx.put("pi:" + root_id + ":" + str(n), cid)
        ctx.put("pn:" + root_id, n)
    ctx.emit("Split", id=rid, holder=holder, parts=children, amounts=amounts)
    return children


def _transfer(ctx, record, to):
    rid = record["id"]
    _recipient(ctx, to, "the recipient")
    ctx.require(to != record["holder"], f"{rid} is already held by {to}")
    old = record["holder"]
    record["holder"] = to
    _append_history(
        ctx,
        record,
        "transfers",
        "tf:",
        {"from": old, "to": to, "height": ctx.height, "time_ms": ctx.time_ms},
    )
    _save(ctx, record)
    _held_remove(ctx, old, rid)
    _held_add(ctx, to, rid)
    ctx.emit("Transferred", id=rid, sender=old, to=to, amount=record["amount"])
    return rid


def split(ctx, rid, amounts):
    """Split a receivable into parts that sum exactly to it; returns the new part ids."""
    record = _load(ctx, rid)
    _holder_only(ctx, record, "split")
    _movable(ctx, record, "split")
    return _split(ctx, record, amounts)


def transfer(ctx, rid, to):
    """Transfer a whole receivable (or part) to another enrolled participant."""
    record = _load(ctx, rid)
    _holder_only(ctx, record, "transfer")
    _movable(ctx, record, "transferred")
    return _transfer(ctx, record, to)


def split_transfer(ctx, rid, amount, to):
    """Split off `amount` and transfer that part to `to` in one step (the whole if equal)."""
    record = _load(ctx, rid)
    _holder_only(ctx, record, "transfer")
    _movable(ctx, record, "transferred")
    _amount(ctx, amount, "amount")
    ctx.require(
        amount <= record["amount"], f"amount {amount} exceeds {rid}'s amount {record['amount']}"
    )
    _recipient(ctx, to, "the recipient")
    ctx.require(to != record["holder"], f"{rid} is already held by {to}")
    if amount == record["amount"]:
        return {"transferred": _transfer(ctx, record, to), "kept": None}
    first, rest = _split(ctx, record, [amount, record["amount"] - amount])
    _transfer(ctx, _load(ctx, first), to)
    return {"transferred": first, "kept": rest}


# -- repayment ----------------------------------------------------------------------------
def _unpaid_under(ctx, record):
    """The unpaid parts under `record` (itself included), parents before children; refused,
    naming its parts to repay one at a time instead, past MAX_REPAY of them or
    MAX_REPAY_READ parts read: a holder may split its parts into thousands."""
    rid = record["id"]
    known = ctx.get("unpaid:" + rid) if record["root"] == rid else None
    count = "" if known is None else f"{known} unpaid parts, "
    refusal = (
        f"{rid} has {count}more than the {MAX_REPAY} unpaid parts one repayment pays or the "
        f"{MAX_REPAY_READ} parts it reads (within a transaction's gas): repay its parts one at "
        f"a time: "
        f"{', '.join(record['children'])}"
    )
    ctx.require(known is None or known <= MAX_REPAY, refusal)
    out = []
    queue = [record]
    i = 0
    while i < len(queue):
        part = queue[i]
        i += 1
        if part["status"] == "active":
            out.append(part)
        ctx.require(len(out) <= MAX_REPAY and len(queue) <= MAX_REPAY_READ, refusal)
        for child in part["children"]:
            queue.append(_load(ctx, child))
    return out


def repay(ctx, rid, payment_ref):
    """The core enterprise repays every unpaid part under `rid`; payee = holder, or the bank
    for parts whose financing was disbursed. Returns the payments."""
    ctx.require_role("core_enterprise")
    _bounded_text(ctx, payment_ref, "payment reference", 128)
    record = _load(ctx, rid)
    ctx.require(
        record["issuer"] == ctx.sender.address,
        f"only the issuer {record['issuer']} of {rid} may repay it",
    )
    ctx.require(
        record["status"] in ["active", "split"],
        f"{rid} is {record['status']}; nothing to repay",
    )
    payments = []
    late = ctx.time_ms > record["maturity_ms"]
    for part in _unpaid_under(ctx, record):
        pledge = part["pledge"]
        if pledge is not None and pledge["status"] == "disbursed":
            payee, kind = pledge["bank"], "bank"
            _close_pledge(ctx, part, "repaid_to_bank")
        else:
            payee, kind = part["holder"], "holder"
            if pledge is not None:
                _close_pledge(ctx, part, "closed_by_repayment")
        payment = {
            "id": part["id"],
            "payee": payee,
            "payee_kind": kind,
            "amount": part["amount"],
            "height": ctx.height,
            "time_ms": ctx.time_ms,
            "late": late,
            "ref": payment_ref,
        }
        part["status"] = "paid"
        part["payment"] = payment
        _save(ctx, part)
        payments.append(payment)
        ctx.emit("Repaid", id=part["id"], payee=payee, payee_kind=kind, amount=part["amount"])
    ctx.require(len(payments) > 0, f"every part of {rid} is already repaid")
    root_id = record["root"]
    if _unpaid_add(ctx, root_id, -len(payments)) == 0:
        _set_remove(ctx, "open", root_id)
    return payments
