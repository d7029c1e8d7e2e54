# ruff: noqa: F821  (a sandboxed contract part: `ctx` helpers; `ContractError` is the sandbox's)
# mypy: ignore-errors
# The application contracts' shared library: `contract_source()` puts this file after every
# application contract's main part, so its helpers are part of each deployed source (ADR 0031).
# Only private helpers (names starting with "_"): the library adds no method and no view.

# -- the shared contract library: checks --------------------------------------------------------
def _text(ctx, value, what, limit=200, empty=False):
    ctx.require(isinstance(value, str), f"{what} must be a string")
    ctx.require(empty or len(value.strip()) > 0, f"{what} must not be empty")
    ctx.require(len(value) <= limit, f"{what} is longer than {limit} characters")


def _bounded_text(ctx, value, what, limit):
    ctx.require(
        isinstance(value, str) and len(value) <= limit,
        f"{what} must be text of at most {limit} characters",
    )


def _nonempty_text(ctx, value, what, limit):
    ctx.require(
        isinstance(value, str) and len(value.strip()) > 0 and len(value) <= limit,
        f"{what} must be non-empty text of at most {limit} characters",
    )


def _str_arg(ctx, value, name):
    """Refuse an argument `name` that is not a string (a key part every view reads with)."""
    ctx.require(isinstance(value, str), f"{name} must be a string")


def _fields(ctx, data, what):
    """A flat object of at most 20 named scalar fields (`what` names it in the refusals)."""
    ctx.require(isinstance(data, dict), f"{what} must be an object")
    ctx.require(len(data) <= 20, f"{what} has more than 20 fields")
    for k, v in data.items():
        ctx.require(len(k) <= 64, f"{what} field names are at most 64 characters")
        ctx.require(
            v is None or isinstance(v, (str, int, bool)),
            f"{what} field {k} must be a string, integer or boolean",
        )
        ctx.require(not isinstance(v, str) or len(v) <= 500, f"{what} field {k} is too long")


# -- member identities, from governance state -------------------------------------------------
def _member_cert(ctx, address):
    """The member certificate registered on chain for `address`."""
    cert = ctx.read("governance", "cert/" + address)
    if cert is None:
        raise ContractError(
            f"unknown address {address}: no member certificate is registered for it"
        )
    return cert


def _cert_revoked(ctx, address, cert):
    """Whether governance revoked `cert` (the certificate of `address`): by its address, by
    its organisation's serial number, or by its fingerprint."""
    org = cert["org"]
    mark = ctx.read("governance", "revoked_cert/" + cert.get("fingerprint", ""))
    return (
        ctx.read("governance", "revoked/" + address) is not None
        or ctx.read("governance", "revoked_serial/" + org + "/" + cert["serial"]) is not None
        or (mark is not None and mark["org"] == org)
    )


def _active_member_org(ctx, address):
    """The organisation of a member address whose certificate stands and whose organisation
    is an active member."""
    cert = _member_cert(ctx, address)
    org = cert["org"]
    member = ctx.read("governance", "org/" + org)
    ctx.require(member is not None and member["status"] == "active", f"{org} is not a member")
    ctx.require(
        not _cert_revoked(ctx, address, cert), f"the certificate of {address} ({org}) is revoked"
    )
    return org


def _signed_stamp(ctx):
    """Who signed the calling transaction, and where and when it is recorded."""
    return {
        "by": ctx.sender.address,
        "name": ctx.sender.name,
        "org": ctx.sender.org,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
        "tx": ctx.tx_hash,
    }


# -- records ----------------------------------------------------------------------------------
def _stored(ctx, prefix, key, what):
    """The record under `prefix + key`; an unknown `what` when there is none (or when `key`
    is not a string)."""
    record = ctx.get(prefix + key) if isinstance(key, str) else None
    if record is None:
        raise ContractError(f"unknown {what} {key}")
    return record


def _known(ctx, prefix, key, what):
    """The record of the `what` whose id `key` must be a string, under `prefix + key`."""
    ctx.require(isinstance(key, str), f"a {what} id is a string")
    return _stored(ctx, prefix, key, what)


def _listed(ctx, prefix, ids):
    """The records under `prefix + id` for each of `ids`, in their order."""
    return [ctx.get(prefix + i) for i in ids]


def _numbered(ctx, prefix, first, last, digits=1):
    """The records under `prefix + n` for n = first..last, n written with at least `digits`
    digits (zero-padded)."""
    return [ctx.get(prefix + str(n).zfill(digits)) for n in range(first, last + 1)]


def _page(ctx, prefix, count, start, limit):
    """Records `start`.. (1-based, at most `limit`) of the `count` numbered `prefix + n`."""
    return _numbered(ctx, prefix, start, min(count, start + limit - 1))


def _breadth_first(ctx, load, records):
    """`records` and every record below them through their "children" ids (each read with
    `load(ctx, id)`), parents before children."""
    out = list(records)
    i = 0
    while i < len(out):
        for child in out[i]["children"]:
            out.append(load(ctx, child))
        i += 1
    return out


def _check_page(ctx, start, limit, most=200):
    """Refuse a page that is not `start` >= 1 and `limit` 1..`most` (integers, not booleans)."""
    ok = isinstance(start, int) and not isinstance(start, bool) and start >= 1
    ok = ok and isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= most
    ctx.require(ok, f"start >= 1, limit 1..{most}")


def _next_page(start, limit, count):
    """The `start` of the page after entries `start`.. (`limit` of them) of `count`, or None
    after the last."""
    return start + limit if start + limit <= count else None


# -- growing lists read whole while short, else a page at a time (ADR 0038) ----------------------
def _whole_list(ctx, owner, n, noun, most, page_view):
    """Refuse a view returning all `n` `noun` of `owner` when there are more than `most` (what
    one view may return of the largest entries), naming the view that reads a page."""
    ctx.require(
        n <= most,
        f"{owner} has {n} {noun}, more than {most}: read them a page at a time with {page_view}",
    )


def _log_page(ctx, head, field, prefix, n, start, limit, digits=1):
    """A page of the `n` numbered records `prefix + k` (k written with at least `digits`
    digits): `head`'s fields, then "count", "start", `field` (records `start`.., at most
    `limit`) and "next" (the `start` of the following page, None after the last). Callers
    check the page (`_check_page`) first."""
    page = dict(head)
    page["count"] = n
    page["start"] = start
    page[field] = _numbered(ctx, prefix, start, min(n, start + limit - 1), digits)
    page["next"] = _next_page(start, limit, n)
    return page


_SIZED_BUDGET = 240000  # bytes (by `_size_bound`) a sized page's entries take at most


def _size_bound(value):
    """At least the bytes a value (scalars, lists, tuples, dicts) takes when a view returns
    it, from its text form: a character one byte if the text is ASCII, else four; and what
    the text form writes shorter than the return value. A scalar takes at most 8 bytes more
    than its text (a number of one digit: 9 bytes), a key 3 more and a list, a tuple or a
    dict 3 more (its header, against its brackets). Each dict item has a ":", each element
    of a list or a tuple a "," after it or is its last, so counting 11 a ":", 8 a "," and
    11 a "[" or "(" (its last element and its header), 3 a "{" and 9 for the value itself
    bounds them all; a ":" or a "," inside a text only adds to the count."""
    text = str(value)
    n = len(text) if text.isascii() else 4 * len(text)
    n += 11 * text.count(":") + 8 * text.count(",")
    n += 11 * (text.count("[") + text.count("(")) + 3 * text.count("{")
    return n + 9


def _sized_whole(ctx, prefix, n, used, refusal, digits=1):
    """The `n` numbered records `prefix + k` and `used` plus their `_size_bound`s, refused
    with `refusal` as soon as that passes `_SIZED_BUDGET`: a list too large to return is
    refused after reading at most one record past the budget, not all of them."""
    out = []
    for k in range(1, n + 1):
        entry = ctx.get(prefix + str(k).zfill(digits))
        used += _size_bound(entry)
        ctx.require(used <= _SIZED_BUDGET, refusal)
        out.append(entry)
    return out, used


def _sized_page(ctx, head, field, prefix, n, start, limit, digits=1):
    """As `_log_page`, for entries of very different sizes: the page ends early (its "next"
    the first entry left out) where its entries would pass `_SIZED_BUDGET` bytes; it holds
    at least one entry."""
    page = dict(head)
    page["count"] = n
    page["start"] = start
    out = []
    used = 0
    k = start
    last = min(n, start + limit - 1)
    while k <= last:
        entry = ctx.get(prefix + str(k).zfill(digits))
        used += _size_bound(entry)
        if len(out) > 0 and used > _SIZED_BUDGET:
            break
        out.append(entry)
        k += 1
    page[field] = out
    page["next"] = k if k <= n else None
    return page


def _listed_page(ctx, head, field, prefix, ids, start, limit):
    """A page of the records `prefix + id` of the list `ids`, as `_log_page` answers it."""
    page = dict(head)
    page["count"] = len(ids)
    page["start"] = start
    page[field] = _listed(ctx, prefix, ids[start - 1 : start - 1 + limit])
    page["next"] = _next_page(start, limit, len(ids))
    return page


# -- numbered logs: a list anyone appends to, two keys per entry ---------------------------------
# A numbered log is COUNT (its size) and PREFIX + n (its n-th entry, n = 1..size), so appending
# writes two keys whatever the log holds. A list kept under LISTED (by a deployment before the
# log) comes first and is never written.
def _log_count(ctx, listed, count):
    return len(ctx.get(listed, [])) + ctx.get(count, 0)


def _log_items(ctx, listed, count, prefix, start, limit):
    """Entries `start`.. (1-based, at most `limit`) of a numbered log: those of its list from
    a deployment before first, then its numbered ones."""
    before_log = ctx.get(listed, [])
    before = len(before_log)
    last = min(before + ctx.get(count, 0), start + limit - 1)
    out = []
    for k in range(start, last + 1):
        out.append(before_log[k - 1] if k <= before else ctx.get(prefix + str(k - before)))
    return out


# -- indexed sets: a set others add to, at a bounded cost per change, paged without skips -------
# An indexed set NAME keeps each member in a slot that never changes while it is a member:
# "NAME#i:<k>" (the member in slot k), "NAME#k:<m>" (the slot of member m), "NAME#n" (the
# highest slot used; a member added takes the next one) and "NAME#c" (how many members, when
# any was removed; else "NAME#n" counts them). A removed member leaves its slot empty for good
# (a member added again takes a new slot), and the live slots are linked in slot order:
# "NAME#x:<k>" is the live slot after live slot k ("k + 1" when there is no key), "NAME#v:<k>"
# the one before ("k - 1"), "NAME#h" the first ("1") and "NAME#t" the last ("NAME#n").
# The first live slot at or after any slot is found from two sparse indexes: "NAME#b:<B>" is
# the first live slot of bucket B (slots B*64 .. B*64+63) and "NAME#B:<S>" the first of
# superbucket S (slots S*4096 ..), each kept only while its bucket has a live slot. So an
# emptied slot keeps no key (the state of a set is bounded by its members), adding or
# removing a member writes at most nine keys however many the set holds (no party's
# additions make another party's later calls dearer), and a page may start at any slot: a
# page starting where a page before stopped neither skips nor repeats a member present for
# the whole walk, whatever left or joined meanwhile.
# Slots below "NAME#f" (n + 1 when the first change under this layout found n slots used;
# absent: "NAME#n" + 1) were emptied under the layout before the buckets, which kept the slot
# after an emptied slot k in its "NAME#x:<k>": they are read, and emptied, as that layout did.
# A list kept under NAME itself (by a deployment before the indexed sets) comes first (its
# entries are slots 1..len); a member removed from it is replaced by None, so it keeps its length.
_SET_BUCKET = 64  # slots a bucket of an indexed set spans (a superbucket: _SET_BUCKET buckets)


def _set_next(ctx, name, k):
    return ctx.get(name + "#x:" + str(k), k + 1)


def _set_prev(ctx, name, k):
    return ctx.get(name + "#v:" + str(k), k - 1)


def _set_pin_bound(ctx, name, n):
    """The first slot the buckets index: pinned at the first change under this layout."""
    f = ctx.get(name + "#f")
    if f is None:
        f = n + 1
        ctx.put(name + "#f", f)
    return f


def _set_add(ctx, name, item):
    n = ctx.get(name + "#n", 0)
    _set_pin_bound(ctx, name, n)
    k = n + 1
    last = ctx.get(name + "#t", n)  # the last live slot (0: none)
    ctx.put(name + "#n", k)
    ctx.put(name + "#i:" + str(k), item)
    ctx.put(name + "#k:" + item, k)
    c = ctx.get(name + "#c")
    if c is not None:
        ctx.put(name + "#c", c + 1)
    if last != n:  # the slots between were emptied: link the new one past them
        ctx.delete(name + "#t")
        ctx.put(name + "#v:" + str(k), last)
        if last == 0:
            ctx.put(name + "#h", k)
        else:
            ctx.put(name + "#x:" + str(last), k)
    for index in ("#b:" + str(k // _SET_BUCKET), "#B:" + str(k // _SET_BUCKET // _SET_BUCKET)):
        if ctx.get(name + index) is None:  # the first live slot of its (super)bucket
            ctx.put(name + index, k)


def _set_remove(ctx, name, item):
    k = ctx.get(name + "#k:" + item)
    if k is None:  # listed before the indexed sets, if at all: that list keeps its length
        listed = ctx.get(name)
        if listed is not None and item in listed:
            ctx.put(name, [None if x == item else x for x in listed])
        return
    n = ctx.get(name + "#n")
    bound = _set_pin_bound(ctx, name, n)
    before = _set_prev(ctx, name, k)
    after = _set_next(ctx, name, k)
    if before == 0:
        ctx.put(name + "#h", after)
    else:
        ctx.put(name + "#x:" + str(before), after)
    if after > n:
        ctx.put(name + "#t", before)
    else:
        ctx.put(name + "#v:" + str(after), before)
    if k < bound:  # a slot of the layout before: a page resuming there goes on at `after`
        ctx.put(name + "#x:" + str(k), after)
    else:
        if after != k + 1:
            ctx.delete(name + "#x:" + str(k))
        for index, span in (("#b:", _SET_BUCKET), ("#B:", _SET_BUCKET * _SET_BUCKET)):
            key = name + index + str(k // span)
            if ctx.get(key) == k:  # it was the first of its (super)bucket: the next is
                if after <= n and after // span == k // span:
                    ctx.put(key, after)
                else:
                    ctx.delete(key)
    if before != k - 1:
        ctx.delete(name + "#v:" + str(k))
    ctx.delete(name + "#i:" + str(k))
    ctx.delete(name + "#k:" + item)
    ctx.put(name + "#c", ctx.get(name + "#c", n) - 1)


def _set_seek(ctx, name, j, n, budget):
    """(the first live slot at or after slot j (n + 1: none), reads left of `budget`), or,
    when the budget runs out first, (a slot s > j with no live slot in j..s-1, 0)."""
    if j > ctx.get(name + "#t", n):
        return n + 1, budget
    bound = ctx.get(name + "#f", n + 1)
    while j < bound:  # the layout before: emptied slots name the slot after them
        if budget <= 0:
            return j, 0
        budget -= 1
        if ctx.get(name + "#i:" + str(j)) is not None:
            return j, budget
        j = _set_next(ctx, name, j)
    if j > n:
        return n + 1, budget
    b = j // _SET_BUCKET
    first = ctx.get(name + "#b:" + str(b))
    if first is not None:  # its bucket has live slots: walk them to j (fewer than 64)
        while first < j:
            first = _set_next(ctx, name, first)
        return first, budget
    b += 1
    while b * _SET_BUCKET <= n:
        if budget <= 0:
            return b * _SET_BUCKET, 0
        budget -= 1
        if b % _SET_BUCKET == 0:  # a superbucket starts: pass it whole when it is empty
            first = ctx.get(name + "#B:" + str(b // _SET_BUCKET))
            if first is None:
                b += _SET_BUCKET
                continue
            return first, budget
        first = ctx.get(name + "#b:" + str(b))
        if first is not None:
            return first, budget
        b += 1
    return n + 1, budget


def _set_listed(ctx, name):
    """The list a deployment before the indexed sets kept under NAME (None: removed ones)."""
    return ctx.get(name, [])


def _set_count(ctx, name):
    listed = len([x for x in _set_listed(ctx, name) if x is not None])
    return listed + ctx.get(name + "#c", ctx.get(name + "#n", 0))


def _set_all(ctx, name):
    """Every member of an indexed set, in slot order (callers bound `_set_count` first)."""
    out = [x for x in _set_listed(ctx, name) if x is not None]
    n = ctx.get(name + "#n", 0)
    k = ctx.get(name + "#h", 1)
    while k <= n:
        out.append(ctx.get(name + "#i:" + str(k)))
        k = _set_next(ctx, name, k)
    return out


def _set_page(ctx, name, start, limit):
    """The members in slots `start`.. of an indexed set, at most `limit` of them:
    ([[slot, member], ...], the slot to start the next page at, or None after the last).
    Finding the first member at or after `start` reads a bounded number of keys (past a
    region emptied long ago, a page may stop early with a "next"); a member present from
    the first page to the last is in exactly one page."""
    listed = _set_listed(ctx, name)
    before = len(listed)
    out = []
    s = start
    while s <= before and len(out) < limit and s < start + limit:
        if listed[s - 1] is not None:
            out.append([s, listed[s - 1]])
        s += 1
    if s <= before:
        return out, s
    n = ctx.get(name + "#n", 0)
    j = max(s - before, ctx.get(name + "#h", 1))  # the slots before the first are all empty
    if s - start >= limit:  # the list's `limit` slots were this page
        return out, (before + j if j <= n else None)
    k, budget = _set_seek(ctx, name, j, n, limit + _SET_BUCKET)
    if budget > 0:
        while k <= n and len(out) < limit:
            out.append([before + k, ctx.get(name + "#i:" + str(k))])
            k = _set_next(ctx, name, k)
    return out, (before + k if k <= n else None)


# -- views declared by what they read: `name = view(_record_view("rec:"))` (ADR 0029) ------------
def _key_prefixes(*prefixes):
    """Refuse a view whose key prefixes are not all strings (when its table is read)."""
    for prefix in prefixes:
        if not isinstance(prefix, str):
            raise ContractError("a view's key prefix must be a string")


def _record_view(prefix):
    """The view answering the record under `prefix + key` (None when there is none)."""
    _key_prefixes(prefix)

    def record(ctx, key):
        _str_arg(ctx, key, "key")
        return ctx.get(prefix + key)

    return record


def _record_via_view(index, prefix):
    """The view answering the record under `prefix + id`, where `index + key` holds the id
    (None when either is missing)."""
    _key_prefixes(index, prefix)

    def record_via(ctx, key):
        _str_arg(ctx, key, "key")
        found = ctx.get(index + key)
        return None if found is None else ctx.get(prefix + found)

    return record_via


def _listed_view(prefix, index):
    """The view answering the records under `prefix + id` for each id of the list under
    `index + key` (none when there is no list)."""
    _key_prefixes(prefix, index)

    def listed(ctx, key):
        _str_arg(ctx, key, "key")
        return _listed(ctx, prefix, ctx.get(index + key, []))

    return listed


def _counted_log_view(prefix, counter):
    """The view answering entries 1..n under `prefix + key + ":" + n`, n counted under
    `counter + key`."""
    _key_prefixes(prefix, counter)

    def counted_log(ctx, key):
        _str_arg(ctx, key, "key")
        return _numbered(ctx, prefix + key + ":", 1, ctx.get(counter + key, 0))

    return counted_log


def _record_log_view(record_prefix, field, prefix, digits=1):
    """The view answering entries 1..n under `prefix + key + ":" + n` (n written with at
    least `digits` digits), n the `field` of the record under `record_prefix + key` (none
    when there is no record)."""
    _key_prefixes(record_prefix, prefix)

    def record_log(ctx, key):
        _str_arg(ctx, key, "key")
        record = ctx.get(record_prefix + key)
        if record is None:
            return []
        return _numbered(ctx, prefix + key + ":", 1, record[field], digits)

    return record_log


def _record_listed_view(record_prefix, field, prefix):
    """The view answering the records under `prefix + id` for each id of the `field` list of
    the record under `record_prefix + key` (none when there is no record)."""
    _key_prefixes(record_prefix, prefix)

    def record_listed(ctx, key):
        _str_arg(ctx, key, "key")
        record = ctx.get(record_prefix + key)
        return [] if record is None else _listed(ctx, prefix, record[field])

    return record_listed
