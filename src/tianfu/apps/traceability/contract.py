# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
# mypy: ignore-errors
# The helpers it uses and does not define come from the shared contract library
# (apps/common/contract_library.py), which its deployed source ends with.
"""Traceability: products, batches, signed supply-chain events, splits, merges and recalls.

A sandboxed contract (see docs/contracts.md and docs/apps/traceability.md).

State (every entry is a public record; each can be read with a Merkle proof):
  product:<id>      {"id", "name", "category", "unit", "owner", "org", "height", "time_ms"}
  batch:<code>      {"code", "product", "quantity", "unit", "origin", "holder", "holder_org",
                     "producer_org", "status", "parents", "children", "events", "recall",
                     "lines", "height", "time_ms", "tx"}
  ev:<code>:<seq8>  {"seq", "type", "data", "by", "name", "org", "height", "time_ms", "tx"}
  rc:<code>         a recall of that batch: {"notice", "head", "tail", "reached", "done"}
  rcq:<code>:<n>    the recall's queue of batches to reach (entries head..tail)
  rcv:<code>:<b>    batch b was reached by that recall
  rcl:<line>        how many running recalls froze that line (absent: none)
  pfx:<prefix>      a code prefix the regulator granted to one organisation:
                    {"prefix", "org", "by", "by_org", "height", "time_ms", "tx"}

A code's prefix is its leading letters and digits, up to its first "-", "_" or "."
(lower-cased: "TEA-2024-001", "tea.x" and "TEA" all have the prefix "tea"). Once the
regulator grants a prefix to an organisation, only that organisation's members may register
product ids or batch codes (created, split parts, merged) with that prefix; records made
before the grant stay as they are. A prefix nobody was granted stays first come, first served.

A batch's "lines" are the codes of the created batches it comes from: its own code for a
created batch, its parent's lines for a split part, the union of its inputs' lines for a
merge (at most MAX_LINES). Every batch made from a batch carries all of that batch's lines,
so while a recall runs, its root's first line is frozen: no batch of that line may be split
or merged until the recall is done. What a recall has to reach is so fixed when it starts,
and it finishes in about (batches below its root) / RECALL_STEP calls whatever the holders
do meanwhile (a batch recorded without "lines", before this rule, is its own line).

Roles: producer (products, batches, farm events), processor (products, processing),
inspector (inspection with a report hash), logistics (storage, transport), retailer
(retail), regulator (recall). Only a batch's holder may transfer, split or merge it, and
only to a registered member address: the receiving organisation is read from that
address's certificate on chain (governance state), never taken from the caller.
Quantities are integers in the product's smallest unit.
"""

# Module-level tables are tuples: a contract whose top level binds only immutable values
# has its module run once and reused across calls (docs/adr/0015).
EVENT_ROLES = (  # (event type, roles that may record it)
    ("planting", ("producer",)),
    ("raising", ("producer",)),
    ("input", ("producer",)),
    ("harvest", ("producer",)),
    ("processing", ("processor",)),
    ("inspection", ("inspector",)),
    ("storage", ("logistics", "processor", "retailer")),
    ("transport", ("logistics",)),
    ("retail", ("retailer",)),
)
INPUT_KINDS = ("fertiliser", "pesticide", "feed", "veterinary_drug", "other")
MAX_PARTS = 100
MAX_MERGE = 50
MAX_LINES = 64  # the lines (created batches it comes from) a merged batch may carry
MAX_EVENTS = 500  # events `events` and `provenance` read in one call (`events_page`: all)
MAX_LINEAGE = 100  # batches `provenance` reads (`provenance_page` pages the lineage)
MAX_LINEAGE_WALK = 2000  # batches of a lineage `provenance_page` walks to find a page
MAX_DESCENDANTS = 1000  # batches `descendants` lists (`descendants_page` pages them)
MAX_DESCENDANT_WALK = 2000  # descendants `descendants_page` walks to find a page
MAX_PAGE = 200
RECALL_STEP = 250  # queue entries one recall call takes or adds, about (continue_recall: more)
CODE_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
PREFIX_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
MAX_PREFIX = 32
# A batch created or merged holds at most this much (in its product's smallest unit), so the
# sum of any MAX_MERGE batches stays an integer the ledger stores (under 2**63); a split's
# parts sum to their batch.
MAX_QUANTITY = 10**18


def _code(ctx, code, what="batch code"):
    ctx.require(isinstance(code, str), f"{what} must be a string")
    n = len(code)
    ctx.require(0 < n <= 64, f"{what} must be 1-64 characters")
    ctx.require(
        all(c in CODE_CHARS for c in code), f"{what} may hold only letters, digits and - _ ."
    )


def _prefix_of(code):
    """The prefix of a (checked) code: its leading letters and digits, lower-cased."""
    n = 0
    for c in code:
        if c not in PREFIX_CHARS:
            break
        n += 1
    return code[:n].lower()


def _require_own_prefix(ctx, code, what):
    """Refuse a new `what` `code` whose prefix was granted to another organisation."""
    prefix = _prefix_of(code)
    grant = ctx.get("pfx:" + prefix) if len(prefix) > 0 else None
    if grant is not None and grant["org"] != ctx.sender.org:
        raise ContractError(
            f"{what} {code}: the code prefix {prefix} is granted to {grant['org']}; only its "
            "members may register codes under it"
        )


def _prefix(ctx, prefix):
    """A checked code prefix (1-MAX_PREFIX letters and digits), lower-cased."""
    ok = isinstance(prefix, str) and len(prefix) > 0 and len(prefix) <= MAX_PREFIX
    ctx.require(
        ok and all(c in PREFIX_CHARS for c in prefix),
        f"a code prefix is 1-{MAX_PREFIX} letters and digits",
    )
    return prefix.lower()


def _quantity(ctx, q):
    ctx.require(
        isinstance(q, int) and not isinstance(q, bool) and q > 0,
        "quantity must be a positive integer (in the product's smallest unit)",
    )


def _hash(ctx, h, what):
    ctx.require(
        isinstance(h, str) and len(h) == 64 and all(c in "0123456789abcdef" for c in h),
        f"{what} must be a SHA-256 hex digest (64 lower-case hex characters)",
    )


def _load(ctx, code):
    b = ctx.get("batch:" + code)
    if b is None:
        raise ContractError(f"unknown batch {code}")
    return b


def _require_active(ctx, b):
    if b["recall"] is not None:
        raise ContractError(f"batch {b['code']} is recalled: {b['recall']['reason']}")
    ctx.require(
        b["status"] == "active", f"batch {b['code']} is {b['status']} and can no longer change"
    )


def _lines(b):
    """The lines of batch `b` (a batch recorded before lines is its own line)."""
    return b.get("lines") or [b["code"]]


def _require_unfrozen(ctx, b):
    """Refuse to split or merge a batch of a line a running recall froze."""
    for line in _lines(b):
        ctx.require(
            not ctx.has("rcl:" + line),
            f"batch {b['code']} cannot be split or merged while a recall of its line "
            f"{line} is running",
        )


def _require_holder(ctx, b):
    ctx.require(
        b["holder"] == ctx.sender.address,
        f"only the holder of batch {b['code']} may do this (holder is {b['holder_org']})",
    )


def _own_product(ctx, product_id):
    """The product `product_id`, which the caller must own to make batches of it."""
    product = ctx.get("product:" + str(product_id))
    ctx.require(product is not None, f"unknown product {product_id}")
    ctx.require(
        product["owner"] == ctx.sender.address,
        f"product {product_id} belongs to {product['org']}; only its owner may create batches",
    )
    return product


def _new_batch(ctx, code, product, quantity, origin, parents):
    ctx.require(not ctx.has("batch:" + code), f"batch {code} already exists")
    _require_own_prefix(ctx, code, "batch")
    return {
        "code": code,
        "product": product["id"],
        "quantity": quantity,
        "unit": product["unit"],
        "origin": origin,
        "holder": ctx.sender.address,
        "holder_org": ctx.sender.org,
        "producer_org": ctx.sender.org,
        "status": "active",
        "parents": parents,
        "children": [],
        "events": 0,
        "recall": None,
        "lines": [code],
        "height": ctx.height,
        "time_ms": ctx.time_ms,
        "tx": ctx.tx_hash,
    }


def _append(ctx, b, kind, data):
    seq = b["events"] + 1
    b["events"] = seq
    entry = {"seq": seq, "type": kind, "data": data}
    entry.update(_signed_stamp(ctx))
    ctx.put("ev:" + b["code"] + ":" + str(seq).zfill(8), entry)
    return seq


def register_product(ctx, product_id, name, category, unit):
    ctx.require(
        ctx.has_role("producer") or ctx.has_role("processor"),
        "only a producer or a processor may register products",
    )
    _code(ctx, product_id, "product id")
    _text(ctx, name, "name")
    _text(ctx, category, "category", 64)
    _text(ctx, unit, "unit", 16)
    ctx.require(not ctx.has("product:" + product_id), f"product {product_id} already exists")
    _require_own_prefix(ctx, product_id, "product")
    product = {
        "id": product_id,
        "name": name,
        "category": category,
        "unit": unit,
        "owner": ctx.sender.address,
        "org": ctx.sender.org,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
    }
    ctx.put("product:" + product_id, product)
    ctx.emit("ProductRegistered", id=product_id, org=ctx.sender.org)
    return product


def create_batch(ctx, code, product_id, quantity, origin):
    ctx.require_role("producer")
    _code(ctx, code)
    _quantity(ctx, quantity)
    ctx.require(
        quantity <= MAX_QUANTITY, f"a batch's quantity is at most {MAX_QUANTITY}, not {quantity}"
    )
    _text(ctx, origin, "origin")
    product = _own_product(ctx, product_id)
    b = _new_batch(ctx, code, product, quantity, origin, [])
    _append(ctx, b, "created", {"quantity": quantity, "origin": origin})
    ctx.put("batch:" + code, b)
    ctx.emit("BatchCreated", code=code, product=product_id, quantity=quantity)
    return b


def record_event(ctx, code, kind, data):
    _code(ctx, code)
    event_roles = dict(EVENT_ROLES)  # a dict lookup, as before: an unhashable kind fails alike
    ctx.require(kind in event_roles, f"unknown event type {kind}; use one of {sorted(event_roles)}")
    roles = event_roles[kind]
    ctx.require(
        any(ctx.has_role(r) for r in roles),
        f"a {kind} event needs the role {' or '.join(roles)}",
    )
    _fields(ctx, data, "event data")
    if kind == "inspection":
        _hash(ctx, data.get("report_hash"), "an inspection's report_hash")
        ctx.require(
            data.get("result") in ("pass", "fail"), "an inspection's result is 'pass' or 'fail'"
        )
    if kind == "input":
        ctx.require(
            data.get("input") in INPUT_KINDS,
            f"an input event names its input: one of {list(INPUT_KINDS)}",
        )
        _text(ctx, data.get("product"), "the input's product name")
    b = _load(ctx, code)
    _require_active(ctx, b)
    if kind in ("planting", "raising", "input", "harvest"):
        _require_holder(ctx, b)
    seq = _append(ctx, b, kind, data)
    ctx.put("batch:" + code, b)
    ctx.emit("EventRecorded", code=code, type=kind, seq=seq, org=ctx.sender.org)
    return seq


def _member_org(ctx, address):
    """The organisation of a registered member address, from its certificate on chain."""
    ctx.require(isinstance(address, str) and len(address) == 40, "an address is 40 hex characters")
    return _active_member_org(ctx, address)


def transfer_batch(ctx, code, to):
    _code(ctx, code)
    to_org = _member_org(ctx, to)
    b = _load(ctx, code)
    _require_active(ctx, b)
    _require_holder(ctx, b)
    ctx.require(to != b["holder"], "the batch is already held by that address")
    _append(ctx, b, "custody", {"from_org": b["holder_org"], "to_org": to_org, "to": to})
    b["holder"] = to
    b["holder_org"] = to_org
    ctx.put("batch:" + code, b)
    ctx.emit("BatchTransferred", code=code, to=to, to_org=to_org)
    return True


def split_batch(ctx, code, parts):
    _code(ctx, code)
    ctx.require(isinstance(parts, list), "parts must be a list")
    n = len(parts)
    ctx.require(2 <= n <= MAX_PARTS, "split into 2-100 parts")
    b = _load(ctx, code)
    _require_active(ctx, b)
    _require_holder(ctx, b)
    _require_unfrozen(ctx, b)
    product = ctx.get("product:" + b["product"])
    total = 0
    codes = []
    for part in parts:
        ctx.require(isinstance(part, dict), "each part is {'code': ..., 'quantity': ...}")
        _code(ctx, part.get("code"))
        _require_own_prefix(ctx, part["code"], "batch")
        _quantity(ctx, part.get("quantity"))
        ctx.require(part["code"] not in codes, f"part code {part['code']} is repeated")
        codes.append(part["code"])
        total += part["quantity"]
    ctx.require(
        total == b["quantity"],
        f"the parts sum to {total}, not to the batch quantity {b['quantity']}",
    )
    for part in parts:
        child = _new_batch(ctx, part["code"], product, part["quantity"], b["origin"], [code])
        child["producer_org"] = b["producer_org"]
        child["lines"] = _lines(b)
        _append(ctx, child, "split_from", {"parent": code, "quantity": part["quantity"]})
        ctx.put("batch:" + part["code"], child)
    _append(ctx, b, "split", {"into": ",".join(codes)})
    b["children"] = codes
    b["status"] = "split"
    ctx.put("batch:" + code, b)
    ctx.emit("BatchSplit", code=code, into=codes)
    return codes


def merge_batches(ctx, new_code, codes, product_id):
    _code(ctx, new_code)
    _require_own_prefix(ctx, new_code, "batch")
    ctx.require(isinstance(codes, list), "codes must be a list")
    n = len(codes)
    ctx.require(2 <= n <= MAX_MERGE, "merge 2-50 batches")
    product = _own_product(ctx, product_id)
    total = 0
    seen = []
    origins = []
    inputs = []
    lines = []
    for c in codes:
        _code(ctx, c)
        ctx.require(c not in seen, f"batch {c} is listed twice")
        seen.append(c)
        b = _load(ctx, c)
        _require_active(ctx, b)
        _require_holder(ctx, b)
        _require_unfrozen(ctx, b)
        ctx.require(
            b["unit"] == product["unit"],
            f"batch {c} is measured in {b['unit']}, the product in {product['unit']}",
        )
        total += b["quantity"]
        if b["origin"] not in origins:
            origins.append(b["origin"])
        inputs.append(b)
        for line in _lines(b):
            if line not in lines:
                lines.append(line)
        ctx.require(
            len(lines) <= MAX_LINES,
            f"the merged batch would come from more than {MAX_LINES} created batches",
        )
    ctx.require(
        total <= MAX_QUANTITY,
        f"the merged batch would hold {total}, more than {MAX_QUANTITY}, the most a batch holds",
    )
    merged = _new_batch(ctx, new_code, product, total, "; ".join(origins), list(codes))
    merged["lines"] = lines
    _append(ctx, merged, "merged_from", {"parents": ",".join(codes), "quantity": total})
    for b in inputs:
        _append(ctx, b, "merged", {"into": new_code})
        b["children"] = [new_code]
        b["status"] = "merged"
        ctx.put("batch:" + b["code"], b)
    ctx.put("batch:" + new_code, merged)
    ctx.emit("BatchesMerged", code=new_code, parents=list(codes), quantity=total)
    return merged


def grant_prefix(ctx, prefix, org):
    """(regulator) Grant the code prefix `prefix` to the member organisation `org`: from now
    on only its members may register product ids and batch codes with that prefix."""
    ctx.require_role("regulator")
    p = _prefix(ctx, prefix)
    member = ctx.read("governance", "org/" + org) if isinstance(org, str) else None
    ctx.require(member is not None and member["status"] == "active", f"{org} is not a member")
    grant = ctx.get("pfx:" + p)
    ctx.require(
        grant is None or grant["org"] == org,
        f"the code prefix {p} is already granted to {grant['org'] if grant else ''}; "
        "revoke it first",
    )
    record = {
        "prefix": p,
        "org": org,
        "by": ctx.sender.address,
        "by_org": ctx.sender.org,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
        "tx": ctx.tx_hash,
    }
    ctx.put("pfx:" + p, record)
    ctx.emit("PrefixGranted", prefix=p, org=org)
    return record


def revoke_prefix(ctx, prefix):
    """(regulator) Revoke the grant of a code prefix; its codes already registered stay."""
    ctx.require_role("regulator")
    p = _prefix(ctx, prefix)
    grant = ctx.get("pfx:" + p)
    ctx.require(grant is not None, f"the code prefix {p} is not granted")
    ctx.delete("pfx:" + p)
    ctx.emit("PrefixRevoked", prefix=p, org=grant["org"])
    return True


def recall(ctx, code, reason):
    """(regulator) Recall a batch and every batch made from it. One call takes about
    RECALL_STEP entries off the recall's queue or puts them on it (a batch reached, a child
    queued); a larger recall goes on with `continue_recall` (its progress: `recall_progress`).
    Returns the codes this call reached."""
    ctx.require_role("regulator")
    _code(ctx, code)
    _text(ctx, reason, "reason", 500)
    root = _load(ctx, code)
    ctx.require(root["recall"] is None, f"batch {code} is already recalled")
    ctx.require(not ctx.has("rc:" + code), f"batch {code} is already being recalled")
    notice = {
        "root": code,
        "reason": reason,
        "by": ctx.sender.address,
        "org": ctx.sender.org,
        "height": ctx.height,
        "time_ms": ctx.time_ms,
    }
    ctx.put("rcq:" + code + ":1", code)
    line = _lines(root)[0]
    ctx.put("rcl:" + line, ctx.get("rcl:" + line, 0) + 1)
    progress = {
        "notice": notice,
        "line": line,
        "head": 1,
        "tail": 1,
        "reached": 0,
        "done": False,
    }
    return _recall_step(ctx, code, progress)


def continue_recall(ctx, code):
    """(regulator) Go on with a recall that is not done yet (about RECALL_STEP entries)."""
    ctx.require_role("regulator")
    _code(ctx, code)
    progress = ctx.get("rc:" + code)
    ctx.require(progress is not None, f"batch {code} is not being recalled")
    ctx.require(not progress["done"], f"the recall of batch {code} is done")
    return _recall_step(ctx, code, progress)


def _recall_step(ctx, code, progress):
    """Walk the recall's queue (numbered keys rcq:<root>:<n>, breadth first): flag each batch
    reached the first time (rcv:<root>:<code> marks it) and queue its children, until the
    entries taken and queued reach RECALL_STEP (one batch may queue up to MAX_PARTS more).
    What one call reads and writes is so bounded whatever the size of the tree below."""
    notice = progress["notice"]
    reason = notice["reason"]
    head = progress["head"]
    tail = progress["tail"]
    reached = []
    work = 0
    while head <= tail and work < RECALL_STEP:
        key = "rcq:" + code + ":" + str(head)
        c = ctx.get(key)
        ctx.delete(key)
        head += 1
        work += 1
        if ctx.has("rcv:" + code + ":" + c):
            continue
        ctx.put("rcv:" + code + ":" + c, True)
        reached.append(c)
        b = _load(ctx, c)
        if b["recall"] is None:
            b["recall"] = notice
            _append(ctx, b, "recall", {"root": code, "reason": reason})
            ctx.put("batch:" + c, b)
        work += len(b["children"])
        for child in b["children"]:
            tail += 1
            ctx.put("rcq:" + code + ":" + str(tail), child)
    done = head > tail
    line = progress.get("line")
    if done and line is not None:  # the recall's line thaws when no other recall froze it
        n = ctx.get("rcl:" + line, 1) - 1
        if n > 0:
            ctx.put("rcl:" + line, n)
        else:
            ctx.delete("rcl:" + line)
    ctx.put(
        "rc:" + code,
        {
            "notice": notice,
            "line": line,
            "head": head,
            "tail": tail,
            "reached": progress["reached"] + len(reached),
            "done": done,
        },
    )
    ctx.emit("BatchRecalled", code=code, flagged=reached, reason=reason, done=done)
    return reached
