# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The helpers it uses and does not define come from the shared contract library
# (apps/common/contract_library.py), which its deployed source ends with.
"""Health: medical records and prescriptions across hospitals, pharmacies and insurers.

A sandboxed contract (docs/apps/health.md). The content of a record (a lab result, an imaging
report) and the details of a prescription (drug, dose) are private data (docs/adr/0023): the
ledger holds their hash, size and the content key wrapped for each reader organisation under
`pd:<hash>`; only the nodes of those organisations hold the content. Everything here is
public to the consortium: who wrote what kind of record for which patient (an address), who
may read it, every access, and a prescription's quantity, expiry and status.

Roles: clinician (writes and reads records), doctor (prescribes), pharmacy (dispenses),
insurer (reimburses), regulator (supervisory, granted by a vote: suspends a doctor's
prescribing; sees statistics, never content). A patient is any identity that registered.

State:
  patient:<addr>   {"address", "org" (home organisation), "name", "height", "time_ms"}
  consent:<addr>   sorted organisations the patient consented to (may treat and receive)
  rec:<id>         {"id", "patient", "kind", "org", "author", "versions": [hash], "readers",
                    "purged", "height", "time_ms"}
  rx:<id>          {"id", "patient", "doctor", "org", "quantity", "expires_ms", "details",
                    "status", "presented", "insurers", "dispensed", "reimbursed",
                    "cancelled", "height", "time_ms"}
  pd:<hash>        the private record (`tianfu.privdata.record`) plus "ref": its rec or rx id
  recs:<addr> / rxs:<addr>   a patient's list of records / prescriptions: an indexed set of
                   ids (the shared library's `_set_*`; a list a deployment before kept under
                   the same key is read first), paged by slot without skips
  nrecs:<addr>:<org> / nrxs:<addr>:<org>   how many of them <org> wrote that are on her list
                   (added since this count): each organisation keeps at most MAX_PER_ORG on a
                   patient's list, so no organisation fills it for the others; the patient
                   frees a slot by purging a record or dismissing a prescription that is no
                   longer issued (it leaves her list; `record` / `prescription` still show it)
  log:<ref>:<n>, nlog:<ref>  the access log;  seen:<hash>:<addr>  time of the last access
  nlog:<ref>:<addr>          how many of them that reader logged (since this count: each
                             reader logs at most MAX_LOG, so no reader fills the log for all)
  claims:<org>     prescription ids shared with an insurer organisation and not reimbursed:
                   an indexed set (the shared library's `_set_*`), so sharing or reimbursing
                   writes at most nine keys however many claims an insurer has, and
                   `claimable_page` pages it without skipping a claim outstanding for the
                   whole walk
  rvk:<rec>:<org>  {"height", "time_ms"}: the patient revoked <org> from that record; a
                   clinician of another reader no longer shares it with <org> (on her consent
                   to the organisation): only the patient does, which clears it
  suspended:<addr> {"by", "reason", "height"}     stats   the statistics
"""

KINDS = ("lab", "imaging", "diagnosis", "discharge", "other")
HEX = "0123456789abcdef"
WRAPPED_LEN = 80
MAX_SIZE = 1000000
MAX_READERS = 16
MAX_VERSIONS = 20
MAX_PER_ORG = 500  # records (prescriptions) one organisation keeps on a patient's list
MAX_LOG = 100000  # accesses one reader logs of a record or prescription
MAX_QUANTITY = 10000
# Claims `claimable` and a page of `claimable_page` return: a prescription lists up to
# MAX_READERS organisations (about 6 KB at the most: 42 of the largest fit in 256 KiB).
MAX_CLAIMS_SHOWN = 40
MAX_AMOUNT_FEN = 10000000000
DAY_MS = 86400000
MAX_RX_DAYS = 366
ACCESS_WINDOW_MS = 600000  # a logged access lets its reader fetch the content this long
REGISTRY = "privdata"


# -- checks -----------------------------------------------------------------------------------
def _count(value, limit):
    return isinstance(value, int) and not isinstance(value, bool) and value > 0 and value <= limit


def _hash(ctx, h):
    ctx.require(
        isinstance(h, str) and len(h) == 64 and all(c in HEX for c in h),
        "a content hash is 64 lower-case hex characters",
    )


def _org_with_key(ctx, org):
    ctx.require(isinstance(org, str) and len(org) > 0, "an organisation name is a string")
    member = ctx.read("governance", "org/" + org)
    ctx.require(
        member is not None and member["status"] == "active", f"{org} is not a member organisation"
    )
    ctx.require(
        ctx.read(REGISTRY, "key:" + org) is not None,
        f"{org} has registered no data key (privdata)",
    )


def _wrapped(ctx, org, wrapped):
    _org_with_key(ctx, org)
    ctx.require(
        isinstance(wrapped, bytes) and len(wrapped) == WRAPPED_LEN,
        f"the key wrapped for {org} must be {WRAPPED_LEN} bytes",
    )


def _content(ctx, h, size, readers, required):
    """The private part of a write: hash, size, and wrapped keys of exactly the readers the
    caller may name (`required` must all be there)."""
    _hash(ctx, h)
    ctx.require(_count(size, MAX_SIZE), f"size must be 1 to {MAX_SIZE} bytes")
    ctx.require(not ctx.has("pd:" + h), "this content is recorded already")
    ctx.require(
        isinstance(readers, dict) and len(readers) > 0 and len(readers) <= MAX_READERS,
        f"readers: 1 to {MAX_READERS} organisations, each with its wrapped key",
    )
    for org in required:
        ctx.require(org in readers, f"{org} must be among the readers")
    for org, wrapped in readers.items():
        _wrapped(ctx, org, wrapped)


def _pd(ctx, h, size, owner, readers, ref):
    ctx.put(
        "pd:" + h,
        {
            "hash": h,
            "size": size,
            "owner": owner,
            "org": ctx.sender.org,
            "readers": readers,
            "purged": False,
            "height": ctx.height,
            "ref": ref,
        },
    )


def _patient(ctx, address):
    ctx.require(isinstance(address, str), "a patient is named by address")
    p = ctx.get("patient:" + address)
    if p is None:
        raise ContractError(f"{address} is not a registered patient")
    return p


def _consented(ctx, patient, org):
    return org == patient["org"] or org in ctx.get("consent:" + patient["address"], [])


def _record(ctx, rec_id):
    return _known(ctx, "rec:", rec_id, "record")


def _live(ctx, rec):
    ctx.require(not rec["purged"], f"record {rec['id']} was purged")


def _rx(ctx, rx_id):
    return _known(ctx, "rx:", rx_id, "prescription")


def _rx_for_my_org(ctx, rx_id, role, holders, handed, status):
    """Prescription `rx_id` for the caller, of `role`, to act on: handed to the caller's
    organisation (listed in its `holders`; `handed` says how) and in `status`."""
    ctx.require_role(role)
    rx = _rx(ctx, rx_id)
    org = ctx.sender.org
    ctx.require(org in rx[holders], f"prescription {rx_id} was not {handed} {org}")
    ctx.require(rx["status"] == status, f"prescription {rx_id} is {rx['status']}")
    return rx


def _next_id(ctx, counter, prefix):
    n = ctx.get(counter, 0) + 1
    ctx.put(counter, n)
    return prefix + str(n).zfill(6)


def _list_add(ctx, index, patient, org, item, what):
    """Put `item`, written by `org`, on the patient's list `index` (recs: / rxs:), within
    `org`'s share of it."""
    mine = "n" + index + patient + ":" + org
    n = ctx.get(mine, 0)
    ctx.require(
        n < MAX_PER_ORG,
        f"{org} has {MAX_PER_ORG} {what} on this patient's list, the most one organisation "
        "keeps: the patient frees a slot",
    )
    ctx.put(mine, n + 1)
    _set_add(ctx, index + patient, item)


def _list_remove(ctx, index, patient, org, item):
    """Take `item` off the patient's list `index`, freeing `org`'s slot when it took one
    (an id listed before the per-organisation counts took none)."""
    name = index + patient
    if ctx.has(name + "#k:" + item):
        mine = "n" + index + patient + ":" + org
        ctx.put(mine, ctx.get(mine, 0) - 1)
    _set_remove(ctx, name, item)


def _bump(ctx, name, org, by=1):
    stats = ctx.get("stats", {})
    stats[name] = stats.get(name, 0) + by
    per = stats.get("by_org", {})
    mine = per.get(org, {})
    mine[name] = mine.get(name, 0) + by
    per[org] = mine
    stats["by_org"] = per
    ctx.put("stats", stats)


def _add_reader(ctx, h, org, wrapped):
    pd = ctx.get("pd:" + h)
    readers = pd["readers"]
    ctx.require(org not in readers, f"{org} is a reader already")
    ctx.require(
        len(readers) < MAX_READERS, f"the content has {MAX_READERS} reader organisations already"
    )
    readers[org] = wrapped
    pd["readers"] = readers
    ctx.put("pd:" + h, pd)


def _stamp(ctx):
    return {"height": ctx.height, "time_ms": ctx.time_ms}


# -- patients and consent ---------------------------------------------------------------------
def register_patient(ctx):
    me = ctx.sender.address
    ctx.require(not ctx.has("patient:" + me), "you are a registered patient already")
    record = {"address": me, "org": ctx.sender.org, "name": ctx.sender.name}
    record.update(_stamp(ctx))
    ctx.put("patient:" + me, record)
    _bump(ctx, "patients", ctx.sender.org)
    ctx.emit("PatientRegistered", patient=me, org=ctx.sender.org)
    return record


def consent(ctx, org):
    p = _patient(ctx, ctx.sender.address)
    _org_with_key(ctx, org)
    ctx.require(org != p["org"], f"{org} is your home organisation: it needs no consent")
    given = ctx.get("consent:" + p["address"], [])
    ctx.require(org not in given, f"you consented to {org} already")
    ctx.put("consent:" + p["address"], sorted(given + [org]))
    ctx.emit("ConsentGiven", patient=p["address"], org=org)


def withdraw_consent(ctx, org):
    p = _patient(ctx, ctx.sender.address)
    given = ctx.get("consent:" + p["address"], [])
    ctx.require(org in given, f"you have not consented to {org}")
    ctx.put("consent:" + p["address"], [o for o in given if o != org])
    ctx.emit("ConsentWithdrawn", patient=p["address"], org=org)


# -- records ----------------------------------------------------------------------------------
def add_record(ctx, patient, kind, h, size, readers):
    ctx.require_role("clinician")
    p = _patient(ctx, patient)
    org = ctx.sender.org
    ctx.require(_consented(ctx, p, org), f"the patient has not consented to {org}")
    ctx.require(kind in KINDS, f"kind must be one of {', '.join(KINDS)}")
    _content(ctx, h, size, readers, (org, p["org"]))
    for reader in readers:
        ctx.require(_consented(ctx, p, reader), f"the patient has not consented to {reader}")
    rec_id = _next_id(ctx, "seq:rec", "REC")
    _pd(ctx, h, size, patient, readers, rec_id)
    rec = {
        "id": rec_id,
        "patient": patient,
        "kind": kind,
        "org": org,
        "author": ctx.sender.address,
        "versions": [h],
        "readers": sorted(readers),
        "purged": False,
    }
    rec.update(_stamp(ctx))
    ctx.put("rec:" + rec_id, rec)
    _list_add(ctx, "recs:", patient, org, rec_id, "records")
    _bump(ctx, "records", org)
    _bump(ctx, "records_" + kind, org)
    ctx.emit("RecordAdded", id=rec_id, patient=patient, kind=kind, org=org, hash=h)
    return rec_id


def amend(ctx, rec_id, h, size, readers):
    ctx.require_role("clinician")
    rec = _record(ctx, rec_id)
    _live(ctx, rec)
    ctx.require(ctx.sender.org == rec["org"], f"only {rec['org']}, which wrote it, amends it")
    p = _patient(ctx, rec["patient"])
    ctx.require(_consented(ctx, p, rec["org"]), f"the patient has not consented to {rec['org']}")
    ctx.require(len(rec["versions"]) < MAX_VERSIONS, "too many versions of this record")
    _content(ctx, h, size, readers, rec["readers"])
    ctx.require(
        len(readers) == len(rec["readers"]),
        "a new version is for the record's current readers only",
    )
    _pd(ctx, h, size, rec["patient"], readers, rec_id)
    rec["versions"] = rec["versions"] + [h]
    ctx.put("rec:" + rec_id, rec)
    _bump(ctx, "amendments", rec["org"])
    ctx.emit("RecordAmended", id=rec_id, version=len(rec["versions"]), hash=h)
    return len(rec["versions"])


def share(ctx, rec_id, org, wrapped):
    rec = _record(ctx, rec_id)
    _live(ctx, rec)
    p = _patient(ctx, rec["patient"])
    me = ctx.sender
    revoked = "rvk:" + rec_id + ":" + org if isinstance(org, str) else None  # else refused below
    if me.address != p["address"]:
        ctx.require(
            me.has_role("clinician") and me.org in rec["readers"],
            "only the patient, or a clinician of an organisation that reads the record, shares it",
        )
        ctx.require(_consented(ctx, p, me.org), f"the patient has not consented to {me.org}")
        ctx.require(
            _consented(ctx, p, org),
            f"the patient has not consented to {org}: only the patient may share with it",
        )
        ctx.require(
            revoked is None or not ctx.has(revoked),
            f"the patient revoked {org} from {rec_id}: only the patient shares it with {org} again",
        )
    _wrapped(ctx, org, wrapped)
    if me.address == p["address"] and ctx.has(revoked):  # her own choice: it reads again
        ctx.delete(revoked)
    latest = rec["versions"][len(rec["versions"]) - 1]
    _add_reader(ctx, latest, org, wrapped)
    rec["readers"] = sorted(rec["readers"] + [org])
    ctx.put("rec:" + rec_id, rec)
    _bump(ctx, "shares", org)
    ctx.emit("RecordShared", id=rec_id, org=org, by=me.address)


def revoke(ctx, rec_id, org):
    rec = _record(ctx, rec_id)
    _live(ctx, rec)
    ctx.require(ctx.sender.address == rec["patient"], "only the patient revokes a reader")
    ctx.require(org in rec["readers"], f"{org} is not a reader of {rec_id}")
    p = _patient(ctx, rec["patient"])
    ctx.require(org != rec["org"], f"{org} wrote the record and keeps it")
    ctx.require(org != p["org"], f"{org} is the patient's home organisation and keeps it")
    for h in rec["versions"]:
        pd = ctx.get("pd:" + h)
        readers = pd["readers"]
        pd["readers"] = {o: readers[o] for o in readers if o != org}
        ctx.put("pd:" + h, pd)
    rec["readers"] = [o for o in rec["readers"] if o != org]
    ctx.put("rec:" + rec_id, rec)
    ctx.put("rvk:" + rec_id + ":" + org, _stamp(ctx))  # no clinician shares it with org again
    _bump(ctx, "revocations", org)
    ctx.emit("RecordRevoked", id=rec_id, org=org)


def purge(ctx, rec_id):
    rec = _record(ctx, rec_id)
    _live(ctx, rec)
    ctx.require(ctx.sender.address == rec["patient"], "only the patient purges a record")
    for h in rec["versions"]:
        pd = ctx.get("pd:" + h)
        pd["purged"] = True
        pd["readers"] = {}
        ctx.put("pd:" + h, pd)
    rec["purged"] = True
    rec["readers"] = []
    ctx.put("rec:" + rec_id, rec)
    _list_remove(ctx, "recs:", rec["patient"], rec["org"], rec_id)  # its writer's slot is free
    _bump(ctx, "purges", rec["org"])
    ctx.emit("RecordPurged", id=rec_id)


# -- access -----------------------------------------------------------------------------------
def _may_access_rx(ctx, rx):
    me = ctx.sender
    if me.address == rx["patient"] or me.address == rx["doctor"]:
        return True
    if me.has_role("pharmacy") and me.org in rx["presented"]:
        return rx["status"] != "cancelled"
    if me.has_role("insurer") and me.org in rx["insurers"]:
        return rx["status"] == "dispensed"
    return False


def access(ctx, ref, purpose):
    """Log an access to a record's latest version or a prescription's details; the content
    hash to read (the reader's node serves it for the next ACCESS_WINDOW_MS)."""
    _text(ctx, purpose, "purpose", 200)
    me = ctx.sender
    ctx.require(isinstance(ref, str) and len(ref) > 2, "give a record or prescription id")
    if ref[:3] == "REC":
        rec = _record(ctx, ref)
        _live(ctx, rec)
        ctx.require(
            me.address == rec["patient"] or (me.has_role("clinician") and me.org in rec["readers"]),
            f"{me.address} may not access {ref}: the patient, or a clinician of a reader",
        )
        h = rec["versions"][len(rec["versions"]) - 1]
    else:
        rx = _rx(ctx, ref)
        ctx.require(_may_access_rx(ctx, rx), f"{me.address} may not access {ref}'s details")
        h = rx["details"]
    mine = ctx.get("nlog:" + ref + ":" + me.address, 0)  # a reader's own bound: no one else's
    ctx.require(
        mine < MAX_LOG,
        f"you logged {MAX_LOG} accesses of {ref}, the most one reader logs of a record",
    )
    n = ctx.get("nlog:" + ref, 0)
    entry = {"n": n + 1, "by": me.address, "org": me.org, "name": me.name, "purpose": purpose}
    entry.update(_stamp(ctx))
    ctx.put("log:" + ref + ":" + str(n + 1), entry)
    ctx.put("nlog:" + ref, n + 1)
    ctx.put("nlog:" + ref + ":" + me.address, mine + 1)
    ctx.put("seen:" + h + ":" + me.address, ctx.time_ms)
    _bump(ctx, "accesses", me.org)
    ctx.emit("RecordAccessed", ref=ref, by=me.address, org=me.org, purpose=purpose)
    return h


# -- prescriptions ----------------------------------------------------------------------------
def prescribe(ctx, patient, quantity, expires_ms, h, size, readers):
    ctx.require_role("doctor")
    me = ctx.sender
    ctx.require(not ctx.has("suspended:" + me.address), "your prescribing is suspended")
    p = _patient(ctx, patient)
    ctx.require(_consented(ctx, p, me.org), f"the patient has not consented to {me.org}")
    ctx.require(_count(quantity, MAX_QUANTITY), f"quantity must be 1 to {MAX_QUANTITY}")
    ctx.require(
        isinstance(expires_ms, int) and expires_ms > ctx.time_ms,
        "the expiry must be after the current block time",
    )
    ctx.require(
        expires_ms <= ctx.time_ms + MAX_RX_DAYS * DAY_MS,
        f"a prescription expires within {MAX_RX_DAYS} days",
    )
    _content(ctx, h, size, readers, (me.org, p["org"]))
    ctx.require(
        len(readers) == (1 if me.org == p["org"] else 2),
        "the details are for the prescriber and the patient only",
    )
    rx_id = _next_id(ctx, "seq:rx", "RX")
    _pd(ctx, h, size, patient, readers, rx_id)
    rx = {
        "id": rx_id,
        "patient": patient,
        "doctor": me.address,
        "org": me.org,
        "quantity": quantity,
        "expires_ms": expires_ms,
        "details": h,
        "status": "issued",
        "presented": [],
        "insurers": [],
        "dispensed": None,
        "reimbursed": None,
        "cancelled": None,
    }
    rx.update(_stamp(ctx))
    ctx.put("rx:" + rx_id, rx)
    _list_add(ctx, "rxs:", patient, me.org, rx_id, "prescriptions")
    _bump(ctx, "rx_issued", me.org)
    ctx.emit("PrescriptionIssued", id=rx_id, patient=patient, org=me.org, quantity=quantity)
    return rx_id


def present(ctx, rx_id, org, wrapped):
    rx = _rx(ctx, rx_id)
    ctx.require(ctx.sender.address == rx["patient"], "only the patient presents a prescription")
    ctx.require(rx["status"] == "issued", f"prescription {rx_id} is {rx['status']}")
    ctx.require(ctx.time_ms <= rx["expires_ms"], f"prescription {rx_id} has expired")
    _wrapped(ctx, org, wrapped)
    _add_reader(ctx, rx["details"], org, wrapped)
    rx["presented"] = sorted(rx["presented"] + [org])
    ctx.put("rx:" + rx_id, rx)
    ctx.emit("PrescriptionPresented", id=rx_id, org=org)


def dispense(ctx, rx_id, quantity):
    rx = _rx_for_my_org(ctx, rx_id, "pharmacy", "presented", "presented to", "issued")
    me = ctx.sender
    ctx.require(ctx.time_ms <= rx["expires_ms"], f"prescription {rx_id} has expired")
    ctx.require(
        _count(quantity, rx["quantity"]),
        f"the quantity dispensed must be 1 to the {rx['quantity']} prescribed",
    )
    done = {"by": me.address, "org": me.org, "quantity": quantity}
    done.update(_stamp(ctx))
    rx["status"] = "dispensed"
    rx["dispensed"] = done
    ctx.put("rx:" + rx_id, rx)
    _bump(ctx, "rx_dispensed", me.org)
    _bump(ctx, "units_dispensed", me.org, quantity)
    ctx.emit("PrescriptionDispensed", id=rx_id, org=me.org, quantity=quantity)
    return done


def cancel(ctx, rx_id, reason):
    """The prescribing doctor withdraws an issued prescription, or the patient declines it."""
    rx = _rx(ctx, rx_id)
    ctx.require(
        ctx.sender.address == rx["doctor"] or ctx.sender.address == rx["patient"],
        "only the prescribing doctor or the patient cancels it",
    )
    ctx.require(rx["status"] == "issued", f"prescription {rx_id} is {rx['status']}")
    _text(ctx, reason, "reason", 200)
    rx["status"] = "cancelled"
    done = {"by": ctx.sender.address, "reason": reason}
    done.update(_stamp(ctx))
    rx["cancelled"] = done
    ctx.put("rx:" + rx_id, rx)
    _bump(ctx, "rx_cancelled", rx["org"])
    ctx.emit("PrescriptionCancelled", id=rx_id)


def dismiss(ctx, rx_id):
    """The patient takes a prescription that is no longer issued (dispensed, cancelled or
    expired) off her list, freeing its prescriber organisation's slot; it stays readable
    (`prescription`), claimable and reimbursable as before."""
    rx = _rx(ctx, rx_id)
    ctx.require(ctx.sender.address == rx["patient"], "only the patient dismisses a prescription")
    ctx.require(
        rx["status"] != "issued" or ctx.time_ms > rx["expires_ms"],
        f"prescription {rx_id} is issued and not expired: cancel it first",
    )
    name = "rxs:" + rx["patient"]
    listed = ctx.get(name, [])
    ctx.require(
        ctx.has(name + "#k:" + rx_id) or rx_id in listed,
        f"prescription {rx_id} is not on your list",
    )
    _list_remove(ctx, "rxs:", rx["patient"], rx["org"], rx_id)
    ctx.emit("PrescriptionDismissed", id=rx_id)


def share_claim(ctx, rx_id, org, wrapped):
    rx = _rx(ctx, rx_id)
    me = ctx.sender
    ctx.require(
        rx["status"] == "dispensed", f"prescription {rx_id} is {rx['status']}, not dispensed"
    )
    ctx.require(
        me.address == rx["patient"]
        or (me.has_role("pharmacy") and me.org == rx["dispensed"]["org"]),
        "only the patient or the dispensing pharmacy shares it for a claim",
    )
    _wrapped(ctx, org, wrapped)
    _add_reader(ctx, rx["details"], org, wrapped)
    rx["insurers"] = sorted(rx["insurers"] + [org])
    ctx.put("rx:" + rx_id, rx)
    if rx["reimbursed"] is None:  # a reimbursed one is no claim: it enters no insurer's set
        _set_add(ctx, "claims:" + org, rx_id)
    ctx.emit("PrescriptionSharedForClaim", id=rx_id, org=org)


def reimburse(ctx, rx_id, amount_fen):
    rx = _rx_for_my_org(ctx, rx_id, "insurer", "insurers", "shared with", "dispensed")
    me = ctx.sender
    ctx.require(rx["reimbursed"] is None, f"prescription {rx_id} is reimbursed already")
    ctx.require(_count(amount_fen, MAX_AMOUNT_FEN), "the amount must be a positive number of fen")
    done = {"by": me.address, "org": me.org, "amount_fen": amount_fen}
    done.update(_stamp(ctx))
    rx["reimbursed"] = done
    ctx.put("rx:" + rx_id, rx)
    for org in rx["insurers"]:  # no insurer can claim it any more
        _set_remove(ctx, "claims:" + org, rx_id)
    _bump(ctx, "rx_reimbursed", me.org)
    _bump(ctx, "reimbursed_fen", me.org, amount_fen)
    ctx.emit("PrescriptionReimbursed", id=rx_id, org=me.org, amount_fen=amount_fen)


# -- supervision --------------------------------------------------------------------------------
def suspend_doctor(ctx, address, reason):
    ctx.require_role("regulator")
    ctx.require(isinstance(address, str) and len(address) == 40, "an address is 40 hex")
    _text(ctx, reason, "reason", 200)
    ctx.require(not ctx.has("suspended:" + address), f"{address} is suspended already")
    entry = {"by": ctx.sender.address, "reason": reason}
    entry.update(_stamp(ctx))
    ctx.put("suspended:" + address, entry)
    ctx.emit("DoctorSuspended", doctor=address, reason=reason)


def reinstate_doctor(ctx, address):
    ctx.require_role("regulator")
    ctx.require(isinstance(address, str), "an address is a string")
    ctx.require(ctx.has("suspended:" + address), f"{address} is not suspended")
    ctx.delete("suspended:" + address)
    ctx.emit("DoctorReinstated", doctor=address)
