# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The helpers it uses and does not define come from the shared contract library
# (apps/common/contract_library.py), which its deployed source ends with.
"""IP rights: works, ownership transfers, licences, infringement evidence, disputes.

A sandboxed contract (see docs/contracts.md and docs/apps/ip_rights.md).

State:
  seq:work / seq:lic / seq:dispute    counters
  work:<id>      {"id", "content_hash", "title", "authors", "type", "owner", "owner_org",
                  "licences", "evidence", "disputes", "open_disputes", "history", "own_log",
                  "height", "time_ms"}  ("open_disputes": the ids of its open disputes; a work
                  recorded without it has them among "disputes"; "own_log": its registration
                  and transfers are logged under nown:/own:)
  hash:<sha256>  the work id registered with that content hash
  lic:<id>       {"id", "work", "licensee", "licensee_org", "exclusive", "scope", "start",
                  "end", "fee_fen", "status", "granted_by", "height", "time_ms"}
  dispute:<id>   {"id", "work", "kind", "claimant", "claimant_org", "claim", "evidence",
                  "status", "outcome", "ruling", "arbiter", ...}
  hist:<work>:<n>  one history entry (registered, transferred, licence_*, evidence_linked,
                   dispute_opened, dispute_withdrawn, dispute_resolved), each with signer,
                   org, height, time
  nown:<work> / own:<work>:<k>  the history numbers of the work's registration and transfers

Roles: creator (register works), arbitrator (resolve disputes). Only a work's owner
transfers it, grants licences and links evidence; only a licensee surrenders its licence.
Disputes: any member opens one (an ownership dispute only a member of another organisation
than the owner's: a colleague would freeze the work its own organisation owns), at most one
open per claimant organisation per work and at most MAX_OPEN_DISPUTES open per work; the
claimant may withdraw it, an arbitrator of neither party's organisation resolves it. While any dispute of a work is open the work cannot be transferred (a
ruling reaches the work where it is), and while an ownership dispute is open its owner grants
no licence (the ruling may name another owner).
A new owner or a licensee is a registered member address: its organisation is read from
the address's certificate on chain (governance state), never taken from the caller.
Periods are ISO dates "YYYY-MM-DD", inclusive. An exclusive licence excludes any other
active licence of the same scope whose period overlaps. Evidence ids are deposits of the
`evidence` contract, read with ctx.read. Fees are integer fen.
"""

EVIDENCE = "evidence"
WORK_TYPES = ("literary", "music", "film", "software", "art", "photo", "design", "patent", "other")
KINDS = ("ownership", "infringement", "licence")
OUTCOMES = ("upheld", "dismissed", "settled")
MAX_LIST = 200
OWNERSHIP_EVENTS = ("registered", "transferred")
MAX_HISTORY = 1000  # history entries `ownership_history` of an older work reads
# History entries `history` and a page of `history_page` return: an entry names its signer
# (64 characters) and organisation (61), and linked evidence its note (500), four bytes each
# at the most (about 2.8 KB: 90 fit in the 256 KiB a view returns; 1,000 of the shortest
# entries did not fit).
MAX_HISTORY_SHOWN = 80
MAX_OPEN_DISPUTES = 10  # open disputes per work (and one per claimant organisation)


def _sha256(ctx, h, what):
    ctx.require(
        isinstance(h, str) and len(h) == 64 and all(c in "0123456789abcdef" for c in h),
        f"{what} must be a SHA-256 hex digest (64 lower-case hex characters)",
    )


def _address(ctx, who):
    ctx.require(
        isinstance(who, str) and len(who) == 40 and all(c in "0123456789abcdef" for c in who),
        "an address is 40 lower-case hex characters",
    )


def _member_org(ctx, address):
    """The organisation of a registered member address, from its certificate on chain."""
    _address(ctx, address)
    return _active_member_org(ctx, address)


def _date(ctx, d, what):
    """A calendar date "YYYY-MM-DD" (proleptic Gregorian: 2024-02-29 is one, 2025-02-29 and
    2025-04-31 are not)."""
    ok = isinstance(d, str) and len(d) == 10 and d[4] == "-" and d[7] == "-"
    ok = ok and all(c in "0123456789" for c in d[:4] + d[5:7] + d[8:])
    if ok:
        year = int(d[:4])
        month = int(d[5:7])
        day = int(d[8:])
        ok = 1 <= month <= 12 and 1 <= day <= _month_days(year, month)
    ctx.require(ok, f"{what} must be a date YYYY-MM-DD")


def _month_days(year, month):
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


# Characters that show nothing (zero-width spaces and joiners, marks, soft hyphen, BOM)
# and other spaces (no-break, ideographic, ...): a scope is compared as it reads.
INVISIBLE = (
    "\u00ad\u034f\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff"
)
SPACES = (
    "\t\n\r\x0b\x0c\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _scope(ctx, scope):
    """A licence scope as it reads: full-width letters and digits as ASCII, invisible
    characters dropped, runs of any space one space, trimmed, lower case."""
    _text(ctx, scope, "scope", 100)
    chars = []
    for c in scope:
        o = ord(c)
        if 0xFF01 <= o <= 0xFF5E:  # full-width forms of ASCII
            c = chr(o - 0xFEE0)
        if c in INVISIBLE:
            continue
        chars.append(" " if c in SPACES else c)
    text = " ".join([w for w in "".join(chars).split(" ") if w]).lower()
    ctx.require(len(text) > 0, "scope must not be empty")
    return text


def _fen(ctx, amount, what):
    ctx.require(
        isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0,
        f"{what} must be a non-negative integer (fen)",
    )


def _next(ctx, name, prefix):
    n = ctx.get("seq:" + name, 0) + 1
    ctx.put("seq:" + name, n)
    return prefix + str(n).zfill(6)


def _work(ctx, work_id):
    return _known(ctx, "work:", work_id, "work")


def _owner_only(ctx, w, what):
    ctx.require(
        w["owner"] == ctx.sender.address,
        f"only the owner of work {w['id']} may {what} (owner is {w['owner_org']}/{w['owner']})",
    )


def _history(ctx, w, event, data):
    n = w["history"] + 1
    w["history"] = n
    if event in OWNERSHIP_EVENTS and w.get("own_log", False):
        k = ctx.get("nown:" + w["id"], 0) + 1
        ctx.put("nown:" + w["id"], k)
        ctx.put("own:" + w["id"] + ":" + str(k), n)
    ctx.put(
        "hist:" + w["id"] + ":" + str(n).zfill(6),
        {
            "n": n,
            "event": event,
            "data": data,
            "by": ctx.sender.address,
            "org": ctx.sender.org,
            "name": ctx.sender.name,
            "height": ctx.height,
            "time_ms": ctx.time_ms,
            "tx": ctx.tx_hash,
        },
    )


def _evidence_ids(ctx, ids):
    ctx.require(isinstance(ids, list) and len(ids) <= 20, "evidence is a list of at most 20 ids")
    for e in ids:
        ctx.require(isinstance(e, str), "an evidence id is a string")
        ctx.require(
            ctx.read(EVIDENCE, "dep:" + e) is not None,
            f"unknown evidence deposit {e} (deposit it with the evidence contract first)",
        )


def register_work(ctx, content_hash, title, authors, work_type):
    ctx.require_role("creator")
    _sha256(ctx, content_hash, "content_hash")
    _text(ctx, title, "title")
    ctx.require(isinstance(authors, list), "authors must be a list of names")
    n = len(authors)
    ctx.require(1 <= n <= 50, "a work has 1-50 authors")
    for a in authors:
        _text(ctx, a, "an author's name", 100)
    ctx.require(work_type in WORK_TYPES, f"type must be one of {list(WORK_TYPES)}")
    existing = ctx.get("hash:" + content_hash)
    ctx.require(
        existing is None, f"a work with this content hash is already registered as {existing}"
    )
    work_id = _next(ctx, "work", "W")
    w = {
        "id": work_id,
        "content_hash": content_hash,
        "title": title,
        "authors": authors,
        "type": work_type,
        "owner": ctx.sender.address,
        "owner_org": ctx.sender.org,
        "licences": [],
        "evidence": [],
        "disputes": [],
        "open_disputes": [],
        "history": 0,
        "own_log": True,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
    }
    _history(ctx, w, "registered", {"owner": ctx.sender.address, "owner_org": ctx.sender.org})
    ctx.put("work:" + work_id, w)
    ctx.put("hash:" + content_hash, work_id)
    ctx.emit("WorkRegistered", id=work_id, content_hash=content_hash, org=ctx.sender.org)
    return work_id


def _open_disputes(ctx, w):
    """The records of the work's open disputes, oldest first."""
    ids = w.get("open_disputes")
    if ids is None:  # a work recorded before the list: its open ones are among all of them
        found = [ctx.get("dispute:" + d) for d in w["disputes"]]
        return [d for d in found if d["status"] == "open"]
    return [ctx.get("dispute:" + d) for d in ids]


def _frozen(ctx, w, kinds, what):
    """Refuse `what` while the work has an open dispute of one of `kinds`."""
    for d in _open_disputes(ctx, w):
        if d["kind"] in kinds:
            raise ContractError(
                f"work {w['id']} has an open {d['kind']} dispute {d['id']} "
                f"({d['claimant_org']}): no {what} until it is resolved or withdrawn"
            )


def transfer_work(ctx, work_id, to, price_fen):
    to_org = _member_org(ctx, to)
    _fen(ctx, price_fen, "price_fen")
    w = _work(ctx, work_id)
    _owner_only(ctx, w, "transfer it")
    ctx.require(to != w["owner"], "the work already belongs to that address")
    _frozen(ctx, w, KINDS, "transfer")
    _history(
        ctx,
        w,
        "transferred",
        {
            "from": w["owner"],
            "from_org": w["owner_org"],
            "to": to,
            "to_org": to_org,
            "price_fen": price_fen,
        },
    )
    w["owner"] = to
    w["owner_org"] = to_org
    ctx.put("work:" + work_id, w)
    ctx.emit("WorkTransferred", id=work_id, to=to, to_org=to_org)
    return True


def _overlaps(a_start, a_end, b_start, b_end):
    return a_start <= b_end and b_start <= a_end


def grant_licence(ctx, work_id, licensee, exclusive, scope, start, end, fee_fen):
    licensee_org = _member_org(ctx, licensee)
    ctx.require(isinstance(exclusive, bool), "exclusive must be true or false")
    scope = _scope(ctx, scope)
    _date(ctx, start, "start")
    _date(ctx, end, "end")
    ctx.require(start <= end, "a licence period must not end before it starts")
    _fen(ctx, fee_fen, "fee_fen")
    w = _work(ctx, work_id)
    _owner_only(ctx, w, "grant licences")
    ctx.require(licensee != w["owner"], "the owner cannot license the work to itself")
    _frozen(ctx, w, ("ownership",), "new licence")
    ctx.require(len(w["licences"]) < MAX_LIST, "too many licences on this work")
    for lid in w["licences"]:
        other = ctx.get("lic:" + lid)
        if other["status"] != "active" or other["scope"] != scope:
            continue
        if not _overlaps(start, end, other["start"], other["end"]):
            continue
        if other["exclusive"]:
            raise ContractError(
                f"licence overlaps exclusive licence {lid} ({scope}, "
                f"{other['start']}..{other['end']}) held by {other['licensee_org']}"
            )
        if exclusive:
            raise ContractError(
                f"an exclusive licence cannot overlap licence {lid} ({scope}, "
                f"{other['start']}..{other['end']})"
            )
    lic_id = _next(ctx, "lic", "L")
    lic = {
        "id": lic_id,
        "work": work_id,
        "licensee": licensee,
        "licensee_org": licensee_org,
        "exclusive": exclusive,
        "scope": scope,
        "start": start,
        "end": end,
        "fee_fen": fee_fen,
        "status": "active",
        "granted_by": ctx.sender.address,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
    }
    ctx.put("lic:" + lic_id, lic)
    w["licences"] = w["licences"] + [lic_id]
    _history(
        ctx,
        w,
        "licence_granted",
        {
            "licence": lic_id,
            "licensee_org": licensee_org,
            "exclusive": exclusive,
            "scope": scope,
            "start": start,
            "end": end,
            "fee_fen": fee_fen,
        },
    )
    ctx.put("work:" + work_id, w)
    ctx.emit("LicenceGranted", id=lic_id, work=work_id, exclusive=exclusive, scope=scope)
    return lic_id


def surrender_licence(ctx, lic_id):
    lic = _known(ctx, "lic:", lic_id, "licence")
    ctx.require(lic["licensee"] == ctx.sender.address, "only the licensee may surrender a licence")
    ctx.require(lic["status"] == "active", f"licence {lic_id} is already {lic['status']}")
    lic["status"] = "surrendered"
    ctx.put("lic:" + lic_id, lic)
    w = _work(ctx, lic["work"])
    _history(ctx, w, "licence_surrendered", {"licence": lic_id})
    ctx.put("work:" + w["id"], w)
    ctx.emit("LicenceSurrendered", id=lic_id, work=w["id"])
    return True


def link_evidence(ctx, work_id, deposit_id, note):
    _text(ctx, note, "note", 500)
    w = _work(ctx, work_id)
    _owner_only(ctx, w, "link infringement evidence")
    _evidence_ids(ctx, [deposit_id])
    ctx.require(deposit_id not in w["evidence"], f"evidence {deposit_id} is already linked")
    ctx.require(len(w["evidence"]) < MAX_LIST, "too much evidence on this work")
    w["evidence"] = w["evidence"] + [deposit_id]
    dep = ctx.read(EVIDENCE, "dep:" + deposit_id)
    _history(
        ctx,
        w,
        "evidence_linked",
        {
            "deposit": deposit_id,
            "file_hash": dep["file_hash"],
            "deposited_height": dep["height"],
            "note": note,
        },
    )
    ctx.put("work:" + work_id, w)
    ctx.emit("EvidenceLinked", work=work_id, deposit=deposit_id)
    return len(w["evidence"])


def open_dispute(ctx, work_id, kind, claim, evidence):
    ctx.require(kind in KINDS, f"kind must be one of {list(KINDS)}")
    _text(ctx, claim, "claim", 1000)
    _evidence_ids(ctx, evidence)
    w = _work(ctx, work_id)
    ctx.require(
        kind != "ownership" or w["owner"] != ctx.sender.address,
        "the owner cannot dispute its own ownership",
    )
    ctx.require(
        kind != "ownership" or w["owner_org"] != ctx.sender.org,
        f"a member of {w['owner_org']}, the owner's organisation, cannot dispute the ownership "
        f"of work {work_id}",
    )
    ctx.require(len(w["disputes"]) < MAX_LIST, "too many disputes on this work")
    opened = _open_disputes(ctx, w)
    for other in opened:
        ctx.require(
            other["claimant_org"] != ctx.sender.org,
            f"{ctx.sender.org} already has open dispute {other['id']} on work {work_id}",
        )
    ctx.require(
        len(opened) < MAX_OPEN_DISPUTES,
        f"work {work_id} has {MAX_OPEN_DISPUTES} open disputes: wait for a ruling",
    )
    dispute_id = _next(ctx, "dispute", "D")
    ctx.put(
        "dispute:" + dispute_id,
        {
            "id": dispute_id,
            "work": work_id,
            "kind": kind,
            "claimant": ctx.sender.address,
            "claimant_org": ctx.sender.org,
            "claim": claim,
            "evidence": evidence,
            "status": "open",
            "outcome": None,
            "ruling": None,
            "arbiter": None,
            "height": ctx.height,
            "time_ms": ctx.time_ms,
        },
    )
    w["disputes"] = w["disputes"] + [dispute_id]
    w["open_disputes"] = [d["id"] for d in opened] + [dispute_id]
    _history(ctx, w, "dispute_opened", {"dispute": dispute_id, "kind": kind})
    ctx.put("work:" + work_id, w)
    ctx.emit("DisputeOpened", id=dispute_id, work=work_id, kind=kind)
    return dispute_id


def _close_dispute(ctx, w, dispute_id):
    w["open_disputes"] = [d["id"] for d in _open_disputes(ctx, w) if d["id"] != dispute_id]


def withdraw_dispute(ctx, dispute_id, reason):
    """The claimant withdraws its open dispute; the work is free of it."""
    _text(ctx, reason, "reason", 1000)
    d = _known(ctx, "dispute:", dispute_id, "dispute")
    ctx.require(d["claimant"] == ctx.sender.address, "only the claimant may withdraw a dispute")
    ctx.require(d["status"] == "open", f"dispute {dispute_id} is already {d['status']}")
    d["status"] = "withdrawn"
    d["ruling"] = reason
    d["resolved_height"] = ctx.height
    ctx.put("dispute:" + dispute_id, d)
    w = _work(ctx, d["work"])
    _close_dispute(ctx, w, dispute_id)
    # a withdrawn dispute leaves the work's list (its record and the work's history keep it):
    # else one claimant opening and withdrawing would use up the MAX_LIST disputes of a work
    w["disputes"] = [x for x in w["disputes"] if x != dispute_id]
    _history(ctx, w, "dispute_withdrawn", {"dispute": dispute_id})
    ctx.put("work:" + w["id"], w)
    ctx.emit("DisputeWithdrawn", id=dispute_id, work=w["id"])
    return True


def resolve_dispute(ctx, dispute_id, outcome, ruling):
    ctx.require_role("arbitrator")
    ctx.require(outcome in OUTCOMES, f"outcome must be one of {list(OUTCOMES)}")
    _text(ctx, ruling, "ruling", 1000)
    d = _known(ctx, "dispute:", dispute_id, "dispute")
    ctx.require(d["status"] == "open", f"dispute {dispute_id} is already {d['status']}")
    w = _work(ctx, d["work"])
    ctx.require(
        ctx.sender.address not in (d["claimant"], w["owner"]),
        "a party to the dispute cannot resolve it",
    )
    for side, org in (("claimant", d["claimant_org"]), ("owner", w["owner_org"])):
        ctx.require(
            ctx.sender.org != org,
            f"an arbitrator of {org}, the {side}'s organisation, cannot resolve dispute "
            f"{dispute_id}",
        )
    d["status"] = "resolved"
    d["outcome"] = outcome
    d["ruling"] = ruling
    d["arbiter"] = ctx.sender.address
    d["arbiter_org"] = ctx.sender.org
    d["resolved_height"] = ctx.height
    ctx.put("dispute:" + dispute_id, d)
    _close_dispute(ctx, w, dispute_id)
    _history(ctx, w, "dispute_resolved", {"dispute": dispute_id, "outcome": outcome})
    if d["kind"] == "ownership" and outcome == "upheld":
        _history(
            ctx,
            w,
            "transferred",
            {
                "from": w["owner"],
                "from_org": w["owner_org"],
                "to": d["claimant"],
                "to_org": d["claimant_org"],
                "by_ruling": dispute_id,
            },
        )
        w["owner"] = d["claimant"]
        w["owner_org"] = d["claimant_org"]
    ctx.put("work:" + w["id"], w)
    ctx.emit("DisputeResolved", id=dispute_id, work=w["id"], outcome=outcome)
    return d
