# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The helpers it uses and does not define come from the shared contract library
# (apps/common/contract_library.py), which its deployed source ends with.
"""Photo sharing: photos registered by content hash and perceptual hash, near-duplicates
flagged, licences granted and transferred, infringement reports.

A sandboxed contract (see docs/contracts.md and docs/apps/photo_sharing.md; the storage of
the image bytes beside the chain is ADR 0026).

State:
  seq:photo / seq:lic / seq:rep    counters
  photo:<id>       {"id", "sha256", "size", "phash", "thumb_sha256", "thumb_size", "title",
                    "licence", "author", "org", "name", "near", "height", "time_ms", "tx"}
                   written once, never changed (an authorship certificate proves it)
  sha:<sha256>     the photo id registered with that image hash (exact duplicates refused)
  thumb:<sha256>   the first photo id whose thumbnail has that hash
  b:<seg>:<hex>    bucket of the near-duplicate index: [[photo id, phash, org], ...], oldest
                   first, at most MAX_BUCKET entries and MAX_BUCKET_ORG of one organisation
                   (a full bucket gives way to an organisation holding fewer places; the
                   entries [photo id, phash] of a deployment before count as one holder)
  nflags:<id>      how many near-duplicate flags a photo has (both directions, a numbered log
                   with no cap: anyone's copies add to it, so none is ever dropped);
                   flag:<id>:<n> one flag {"photo", "author", "role", "distance", ...}
  used:<address>   {"bytes", "photos"} counted against QUOTA_BYTES
  lic:<id>         {"id", "photo", "licensor", "holder", "accepted", "terms", "transferable",
                    "transfers", "height", "time_ms", "tx"}
  plic:<photo>     licence ids of a photo (written by its author only)
  hlic:<address>   licence ids the address holds and accepted (written by that address only;
                   a licence recorded without "accepted" was listed when granted: accepted)
  lich:<lic>:<n>   one transfer of a licence
  rep:<id>         an infringement report
  nprep:<photo>    how many reports name a photo; prep:<photo>:<n> the n-th (oldest first):
                   anyone reports, so a report writes two keys per photo whatever was
                   reported before and is never refused for others' reports; a list under
                   prep:<photo> (kept by a deployment before the numbered log) is read first

Near-duplicates: two perceptual hashes (64-bit pHash) are near when their Hamming distance
is under THRESHOLD. The index cuts the 64 bits into ceil(THRESHOLD / 2) slices; two hashes
under the threshold then agree on some slice in all bits but one at most (pigeonhole). A
registration reads, per slice, the bucket of its own value and those of the values one bit
away (64 + slices buckets in all, each of at most MAX_BUCKET entries), so its gas is bounded
whatever the number of photos. Earlier registrations are the ones a later copy is compared
with, so a bucket keeps its oldest entries, with two limits that stop a few organisations
(however many accounts each issues) hiding a later registration of another organisation
from the copies that follow it: one organisation's photos take at most MAX_BUCKET_ORG of a
bucket's MAX_BUCKET places, and a full bucket makes room for a photo of an organisation
holding fewer places by dropping the newest entry of the organisation holding the most
(`_bucket_with`). An organisation's only entry in a bucket never leaves it, and a bucket
refuses an organisation without a place only when MAX_BUCKET organisations hold one each.

Anyone with an account registers photos; only a photo's author grants licences on it; only
a licence's holder transfers it, if it is transferable and accepted. A granted or
transferred licence names its new holder at once, but enters the holder's list (`hlic:`)
only when the holder accepts it (`accept_licence`): no account writes into a list another
account's calls read and refuse on. Anyone reports an infringement of
an earlier registration by a later one, and the later photo's author may answer it once.
"""

THRESHOLD = 10  # near-duplicate: Hamming distance of the pHashes < THRESHOLD (1..16)
QUOTA_BYTES = 16 * 1024 * 1024  # per account: image + thumbnail bytes, each photo >= MIN_CHARGE
MIN_CHARGE = 4096  # what one registration counts at least against the quota
MAX_IMAGE_BYTES = 1_000_000  # under the node's default request body limit (1 MiB)
MAX_THUMB_BYTES = 65_536
MAX_BUCKET = 32
MAX_BUCKET_ORG = 8  # places of one organisation's photos in a bucket
MAX_MATCHES = 16  # near-duplicates flagged per registration (the closest)
MAX_LIST = 200  # licences per photo or holder; flags a view shows (pages: all)
# Infringement reports a view returns: a report's statement and its answer are up to 1,000
# characters each, four bytes at the most (about 8.5 KB: 30 fit in the 256 KiB a view
# returns, 25 take about 215 KB).
MAX_REPORTS_SHOWN = 25
MAX_TRANSFERS = 1000
LICENCE_KINDS = ("all-rights-reserved", "cc-by", "cc-by-sa", "cc-by-nc", "cc0", "custom")
HEX = "0123456789abcdef"


def _hex(ctx, value, n, what):
    ctx.require(
        isinstance(value, str) and len(value) == n and all(c in HEX for c in value),
        f"{what} must be {n} lower-case hex characters",
    )


def _size(ctx, value, limit, what):
    ctx.require(
        isinstance(value, int) and not isinstance(value, bool), f"{what} must be an integer"
    )
    ctx.require(0 < value <= limit, f"{what} must be between 1 and {limit} bytes")


def _address(ctx, who):
    _hex(ctx, who, 40, "an address")


def _licence_terms(ctx, licence):
    ctx.require(isinstance(licence, dict), "licence must be an object {kind, terms}")
    ctx.require(len(licence) <= 2, "licence has only the fields kind and terms")
    kind = licence.get("kind")
    ctx.require(kind in LICENCE_KINDS, f"licence kind must be one of {list(LICENCE_KINDS)}")
    terms = licence.get("terms", "")
    _text(ctx, terms, "licence terms", 1000, empty=True)
    ctx.require(len(licence) == 1 or "terms" in licence, "licence has only kind and terms")
    return {"kind": kind, "terms": terms}


def _segments():
    """(shift, width) of each slice of the 64-bit pHash: ceil(THRESHOLD / 2) slices."""
    k = (THRESHOLD + 1) // 2
    base, extra = divmod(64, k)
    out = []
    shift = 0
    for i in range(k):
        width = base + (1 if i < extra else 0)
        out.append((shift, width))
        shift += width
    return out


def _distance(a, b):
    return bin(a ^ b).count("1")


def _near(ctx, phash):
    """[[distance, photo id], ...] of the registered photos under THRESHOLD, closest first
    (then oldest), at most MAX_MATCHES; and the bucket keys of `phash`."""
    h = int(phash, 16)
    seen = {}
    found = []
    keys = []
    for i, (shift, width) in enumerate(_segments()):
        v = (h >> shift) & ((1 << width) - 1)
        keys.append("b:" + str(i) + ":" + hex(v))
        for probe in [v] + [v ^ (1 << b) for b in range(width)]:
            for entry in ctx.get("b:" + str(i) + ":" + hex(probe), []):
                pid, other = entry[0], entry[1]
                if pid in seen:
                    continue
                seen[pid] = True
                d = _distance(h, int(other, 16))
                if d < THRESHOLD:
                    found.append([d, pid])
    found.sort()
    return found[:MAX_MATCHES], keys


def _bucket_org(entry):
    return entry[2] if len(entry) > 2 else None  # None: an entry of a deployment before


def _bucket_with(bucket, org):
    """The entries of `bucket` to keep when a photo of `org` enters it, or None when it does
    not enter. It enters while `org` holds fewer than MAX_BUCKET_ORG places; a full bucket
    makes room by dropping the newest entry of the organisation holding the most places, if
    that is at least two more than `org` holds (so no organisation is ever left with fewer
    places than the one that took its place, and the only entry of an organisation never
    leaves: only as many organisations as a bucket has places can keep another out)."""
    counts = {}
    for e in bucket:
        o = _bucket_org(e)
        counts[o] = counts.get(o, 0) + 1
    ours = counts.get(org, 0)
    if ours >= MAX_BUCKET_ORG:
        return None
    if len(bucket) < MAX_BUCKET:
        return bucket
    top = max(counts.values())
    if top <= ours + 1:
        return None
    i = len(bucket) - 1
    while counts[_bucket_org(bucket[i])] != top:
        i -= 1
    return bucket[:i] + bucket[i + 1 :]


def _photo(ctx, photo_id):
    ctx.require(isinstance(photo_id, str) and len(photo_id) <= 16, "a photo id is a short string")
    return _stored(ctx, "photo:", photo_id, "photo")


def _append(ctx, key, item):
    items = ctx.get(key, [])
    if len(items) < MAX_LIST:
        ctx.put(key, items + [item])


def _flag(ctx, photo_id, item):
    """Append a flag to the photo's numbered log (two keys, whatever it holds: anyone's near
    copies flag a photo, so a full log would hide the flags of later copies from its author)."""
    n = ctx.get("nflags:" + photo_id, 0) + 1
    ctx.put("flag:" + photo_id + ":" + str(n), item)
    ctx.put("nflags:" + photo_id, n)


def _next(ctx, counter, prefix):
    n = ctx.get("seq:" + counter, 0) + 1
    ctx.put("seq:" + counter, n)
    return prefix + str(n).zfill(6)


def register(ctx, sha256, size, phash, thumb_sha256, thumb_size, title, licence):
    _hex(ctx, sha256, 64, "sha256 (the image's SHA-256)")
    _size(ctx, size, MAX_IMAGE_BYTES, "image size")
    _hex(ctx, phash, 16, "phash (the 64-bit perceptual hash)")
    _hex(ctx, thumb_sha256, 64, "thumb_sha256 (the thumbnail's SHA-256)")
    _size(ctx, thumb_size, MAX_THUMB_BYTES, "thumbnail size")
    _text(ctx, title, "title")
    terms = _licence_terms(ctx, licence)
    earlier = ctx.get("sha:" + sha256)
    if earlier is not None:
        first = ctx.get("photo:" + earlier)
        raise ContractError(
            f"this image is already registered as {earlier} by {first['author']} "
            f"at height {first['height']}"
        )
    me = ctx.sender.address
    used = ctx.get("used:" + me, {"bytes": 0, "photos": 0})
    charge = max(MIN_CHARGE, size + thumb_size)
    if used["bytes"] + charge > QUOTA_BYTES:
        raise ContractError(
            f"storage quota exceeded: {used['bytes']} + {charge} bytes > {QUOTA_BYTES} "
            "bytes per account"
        )
    ctx.put("used:" + me, {"bytes": used["bytes"] + charge, "photos": used["photos"] + 1})
    photo_id = _next(ctx, "photo", "PH")
    matches, keys = _near(ctx, phash)
    record = {
        "id": photo_id,
        "sha256": sha256,
        "size": size,
        "phash": phash,
        "thumb_sha256": thumb_sha256,
        "thumb_size": thumb_size,
        "title": title,
        "licence": terms,
        "author": me,
        "org": ctx.sender.org,
        "name": ctx.sender.name,
        "near": [[pid, d] for d, pid in matches],
        "height": ctx.height,
        "time_ms": ctx.time_ms,
        "tx": ctx.tx_hash,
    }
    ctx.put("photo:" + photo_id, record)
    ctx.put("sha:" + sha256, photo_id)
    if not ctx.has("thumb:" + thumb_sha256):
        ctx.put("thumb:" + thumb_sha256, photo_id)
    org = ctx.sender.org
    for key in keys:
        bucket = _bucket_with(ctx.get(key, []), org)
        if bucket is not None:
            ctx.put(key, bucket + [[photo_id, phash, org]])
    ctx.emit("PhotoRegistered", id=photo_id, sha256=sha256, phash=phash, author=me)
    for d, pid in matches:
        other = ctx.get("photo:" + pid)
        stamp = {"height": ctx.height, "time_ms": ctx.time_ms, "distance": d}
        _flag(ctx, pid, {**stamp, "photo": photo_id, "author": me, "role": "later"})
        _flag(
            ctx,
            photo_id,
            {**stamp, "photo": pid, "author": other["author"], "role": "earlier"},
        )
        ctx.emit(
            "NearDuplicateFlagged",
            photo=photo_id,
            author=me,
            earlier=pid,
            earlier_author=other["author"],
            distance=d,
        )
    return photo_id


def grant_licence(ctx, photo_id, licensee, terms, transferable):
    p = _photo(ctx, photo_id)
    ctx.require(p["author"] == ctx.sender.address, f"only the author of {photo_id} grants licences")
    _address(ctx, licensee)
    ctx.require(licensee != ctx.sender.address, "an author needs no licence on its own photo")
    _text(ctx, terms, "terms", 1000)
    ctx.require(isinstance(transferable, bool), "transferable must be true or false")
    ctx.require(len(ctx.get("plic:" + photo_id, [])) < MAX_LIST, "too many licences")
    lid = _next(ctx, "lic", "LI")
    ctx.put(
        "lic:" + lid,
        {
            "id": lid,
            "photo": photo_id,
            "licensor": ctx.sender.address,
            "holder": licensee,
            "accepted": False,
            "terms": terms,
            "transferable": transferable,
            "transfers": 0,
            "height": ctx.height,
            "time_ms": ctx.time_ms,
            "tx": ctx.tx_hash,
        },
    )
    _append(ctx, "plic:" + photo_id, lid)
    ctx.emit("LicenceGranted", id=lid, photo=photo_id, licensor=ctx.sender.address, to=licensee)
    return lid


def _licence(ctx, licence_id):
    ctx.require(isinstance(licence_id, str) and len(licence_id) <= 16, "a licence id is a string")
    return _stored(ctx, "lic:", licence_id, "licence")


def accept_licence(ctx, licence_id):
    """The holder accepts a licence granted or transferred to it: it enters the holder's list."""
    lic = _licence(ctx, licence_id)
    me = ctx.sender.address
    ctx.require(lic["holder"] == me, f"only the holder of {licence_id} accepts it")
    ctx.require(not lic.get("accepted", True), f"licence {licence_id} is already accepted")
    held = ctx.get("hlic:" + me, [])
    ctx.require(len(held) < MAX_LIST, f"you already hold {MAX_LIST} licences")
    ctx.put("lic:" + licence_id, {**lic, "accepted": True})
    ctx.put("hlic:" + me, held + [licence_id])
    ctx.emit("LicenceAccepted", id=licence_id, photo=lic["photo"], holder=me)
    return licence_id


def transfer_licence(ctx, licence_id, to):
    lic = _licence(ctx, licence_id)
    me = ctx.sender.address
    ctx.require(lic["holder"] == me, f"only the holder of {licence_id} transfers it")
    ctx.require(lic["transferable"], f"licence {licence_id} is not transferable")
    ctx.require(
        lic.get("accepted", True), f"licence {licence_id} is not accepted yet: accept it first"
    )
    _address(ctx, to)
    ctx.require(to != me, "a licence is transferred to another address")
    ctx.require(lic["transfers"] < MAX_TRANSFERS, "too many transfers of this licence")
    n = lic["transfers"] + 1
    ctx.put(
        "lich:" + licence_id + ":" + str(n),
        {"from": me, "to": to, "height": ctx.height, "time_ms": ctx.time_ms, "tx": ctx.tx_hash},
    )
    ctx.put("lic:" + licence_id, {**lic, "holder": to, "accepted": False, "transfers": n})
    mine = ctx.get("hlic:" + me, [])
    if licence_id in mine:
        mine.remove(licence_id)
        ctx.put("hlic:" + me, mine)
    ctx.emit("LicenceTransferred", id=licence_id, photo=lic["photo"], sender=me, to=to)
    return n


def report_infringement(ctx, original_id, copy_id, statement):
    ctx.require(original_id != copy_id, "an infringement report links two different photos")
    original = _photo(ctx, original_id)
    copy = _photo(ctx, copy_id)
    _text(ctx, statement, "statement", 1000)
    ctx.require(
        int(original_id[2:]) < int(copy_id[2:]),
        f"{original_id} was registered after {copy_id}: the original is the earlier one",
    )
    distance = _distance(int(original["phash"], 16), int(copy["phash"], 16))
    rid = _next(ctx, "rep", "IR")
    ctx.put(
        "rep:" + rid,
        {
            "id": rid,
            "original": original_id,
            "copy": copy_id,
            "original_author": original["author"],
            "copy_author": copy["author"],
            "distance": distance,
            "statement": statement,
            "reporter": ctx.sender.address,
            "response": None,
            "height": ctx.height,
            "time_ms": ctx.time_ms,
            "tx": ctx.tx_hash,
        },
    )
    for pid in (original_id, copy_id):
        n = ctx.get("nprep:" + pid, 0) + 1
        ctx.put("nprep:" + pid, n)
        ctx.put("prep:" + pid + ":" + str(n), rid)
    ctx.emit(
        "InfringementReported",
        id=rid,
        original=original_id,
        copy=copy_id,
        original_author=original["author"],
        copy_author=copy["author"],
        distance=distance,
    )
    return rid


def respond_infringement(ctx, report_id, response):
    ctx.require(isinstance(report_id, str) and len(report_id) <= 16, "a report id is a string")
    rep = _stored(ctx, "rep:", report_id, "report")
    ctx.require(
        rep["copy_author"] == ctx.sender.address,
        f"only the author of {rep['copy']} answers report {report_id}",
    )
    ctx.require(rep["response"] is None, f"report {report_id} was already answered")
    _text(ctx, response, "response", 1000)
    ctx.put(
        "rep:" + report_id,
        {**rep, "response": {"text": response, "height": ctx.height, "time_ms": ctx.time_ms}},
    )
    ctx.emit("InfringementAnswered", id=report_id, copy=rep["copy"])
    return report_id
