# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The helpers it uses and does not define come from the shared contract library
# (apps/common/contract_library.py), which its deployed source ends with.
"""Evidence: time-stamped deposits of file hashes, notary attestations, court verifications.

A sandboxed contract (see docs/contracts.md and docs/apps/ip_rights.md).

State:
  seq                 int, the last deposit number
  dep:<id>            {"id", "file_hash", "title", "meta", "depositor", "org", "name",
                       "height", "time_ms", "tx"}   written once, never changed
  nhash:<sha256>      how many deposits have this file hash
  hash:<sha256>:<n>   the n-th deposit id with this file hash (oldest first): anyone may
                      deposit any hash, so a deposit writes two keys whatever was deposited
                      before and is never refused for others' deposits of the same hash
  hash:<sha256>       deposit ids a deployment before the numbered log listed (read first,
                      never written)
  natt:<id> / att:<id>:<n>      notary attestations of a deposit (a numbered log)
  ncv:<id>  / cv:<id>:<n>       court verification records of a deposit (a numbered log)
  natt:<id>:<org> / ncv:<id>:<org>   how many of them the organisation <org> recorded
  attby:<id>:<addr>             the attestation number of notary <addr> (one each)
  att0:<id> / cv0:<id>          entries of the log a deployment before the per-organisation
                                counts recorded (pinned at the first entry after it)

Roles: depositor (deposit), notary (attest), court (record a verification). A notary or a
court attests or verifies only the deposits of other organisations: one of the depositor's
own organisation is refused. The deposit record is immutable, so an evidence certificate's
state proof stays true forever.

Each organisation has its own MAX_PER_ORG attestations and MAX_PER_ORG verification records
of a deposit (a notary attests a deposit once): no organisation, however many notaries or
courts it appoints, can use up the slots of another. The logs grow with the member
organisations, so `attestations` and `verifications` return at most MAX_SHOWN entries and
`attestations_page` / `verifications_page` read any of them (ADR 0036).
"""

MAX_ATTACHED = 100  # deposit ids `by_hash` returns (ids of one file hash)
MAX_PER_ORG = 10  # attestations, and verification records, an organisation adds to a deposit
# Attestations or verification records a view returns: a statement or a note is up to 1,000
# characters and a verification's case number 100, its signer's name and organisation 64 and
# 61, four bytes each at the most (about 5 KB: 50 such verification records fit, 51 do not).
MAX_SHOWN = 45
RESULTS = ("verified", "rejected")


def _sha256(ctx, h):
    ctx.require(
        isinstance(h, str) and len(h) == 64 and all(c in "0123456789abcdef" for c in h),
        "file_hash must be a SHA-256 hex digest (64 lower-case hex characters)",
    )


def deposit(ctx, file_hash, title, meta):
    ctx.require_role("depositor")
    _sha256(ctx, file_hash)
    _text(ctx, title, "title")
    _fields(ctx, meta, "meta")
    n = ctx.get("seq", 0) + 1
    ctx.put("seq", n)
    deposit_id = "EV" + str(n).zfill(6)
    same = ctx.get("nhash:" + file_hash, 0) + 1
    record = {
        "id": deposit_id,
        "file_hash": file_hash,
        "title": title,
        "meta": meta,
        "depositor": ctx.sender.address,
        "org": ctx.sender.org,
        "name": ctx.sender.name,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
        "tx": ctx.tx_hash,
    }
    ctx.put("dep:" + deposit_id, record)
    ctx.put("nhash:" + file_hash, same)
    ctx.put("hash:" + file_hash + ":" + str(same), deposit_id)
    ctx.emit("EvidenceDeposited", id=deposit_id, file_hash=file_hash, org=ctx.sender.org)
    return deposit_id


def _before_orgs(ctx, pin, n):
    """The entries of a deposit's log recorded before the per-organisation counts (pinned
    under `pin` at the log's size when the first entry after them is added)."""
    k = ctx.get(pin)
    if k is None:
        k = n
        ctx.put(pin, k)
    return k


def _org_slot(ctx, deposit_id, log, n, what):
    """Refuse the caller's organisation more than MAX_PER_ORG entries of the log `log`
    ("att" or "cv", `n` entries) of a deposit: (its count's key, its count)."""
    org = ctx.sender.org
    key = "n" + log + ":" + deposit_id + ":" + org
    mine = ctx.get(key)
    if mine is None:  # its entries from before the counts, counted once
        mine = 0
        for i in range(1, _before_orgs(ctx, log + "0:" + deposit_id, n) + 1):
            if ctx.get(log + ":" + deposit_id + ":" + str(i))["org"] == org:
                mine += 1
    ctx.require(
        mine < MAX_PER_ORG,
        f"{org} has recorded {MAX_PER_ORG} {what} of {deposit_id}: an organisation records "
        f"at most {MAX_PER_ORG} {what} of a deposit",
    )
    return key, mine


def _independent(ctx, d, role, verb):
    """Refuse a notary or court of the depositor's own organisation (which grants its own
    members' certificates): it would vouch for its own organisation's deposit."""
    ctx.require(
        ctx.sender.org != d["org"],
        f"a {role} of {d['org']}, the depositor's organisation, cannot {verb} {d['id']}",
    )


def attest(ctx, deposit_id, statement):
    ctx.require_role("notary")
    _text(ctx, statement, "statement", 1000)
    d = _known(ctx, "dep:", deposit_id, "deposit")
    me = ctx.sender.address
    ctx.require(d["depositor"] != me, "a depositor cannot attest its own deposit")
    _independent(ctx, d, "notary", "attest")
    n = ctx.get("natt:" + deposit_id, 0)
    seen = ctx.has("attby:" + deposit_id + ":" + me)
    for i in range(1, _before_orgs(ctx, "att0:" + deposit_id, n) + 1):
        seen = seen or ctx.get("att:" + deposit_id + ":" + str(i))["by"] == me
    ctx.require(not seen, f"this notary already attested {deposit_id}")
    key, mine = _org_slot(ctx, deposit_id, "att", n, "attestations")
    rec = _signed_stamp(ctx)
    rec["statement"] = statement
    ctx.put("att:" + deposit_id + ":" + str(n + 1), rec)
    ctx.put("natt:" + deposit_id, n + 1)
    ctx.put(key, mine + 1)
    ctx.put("attby:" + deposit_id + ":" + me, n + 1)
    ctx.emit("EvidenceAttested", id=deposit_id, notary_org=ctx.sender.org)
    return n + 1


def record_verification(ctx, deposit_id, case_no, result, note):
    ctx.require_role("court")
    _text(ctx, case_no, "case number", 100)
    ctx.require(result in RESULTS, f"result must be one of {list(RESULTS)}")
    ctx.require(isinstance(note, str) and len(note) <= 1000, "note must be a string")
    d = _known(ctx, "dep:", deposit_id, "deposit")
    ctx.require(d["depositor"] != ctx.sender.address, "a depositor cannot verify its own deposit")
    _independent(ctx, d, "court", "verify")
    n = ctx.get("ncv:" + deposit_id, 0)
    key, mine = _org_slot(ctx, deposit_id, "cv", n, "verification records")
    rec = _signed_stamp(ctx)
    rec["case"] = case_no
    rec["result"] = result
    rec["note"] = note
    ctx.put("cv:" + deposit_id + ":" + str(n + 1), rec)
    ctx.put("ncv:" + deposit_id, n + 1)
    ctx.put(key, mine + 1)
    ctx.emit("EvidenceVerified", id=deposit_id, case=case_no, result=result)
    return n + 1
