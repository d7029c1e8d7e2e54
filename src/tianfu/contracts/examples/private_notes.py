# ruff: noqa: F821  (a sandboxed contract: `view` and `ContractError` are provided by the sandbox)
"""Private notes: content kept off the ledger, readable by the organisations its owner grants.

The smallest contract that keeps private data (docs/contracts.md, "Private data"; ADR 0023).
The content itself never reaches the chain: the writer's SDK encrypts it, wraps the key for
each reader organisation's registered data key (`tianfu.client.private.PrivateData.seal`),
calls `write` with the hash, size and wrapped keys, and hands the content to its own node.
The nodes read the record under `pd:<hash>` and keep, serve and delete the content as it says.

State:
  pd:<hash>   {"hash", "size", "owner", "org", "readers": {org: wrapped key}, "purged",
               "height"}  — the platform's private-record shape
  n           number of notes written
"""

HASH_LEN = 64
HEX = "0123456789abcdef"
WRAPPED_LEN = 80
MAX_SIZE = 1000000
MAX_READERS = 16


def _hash(ctx, h):
    ctx.require(
        isinstance(h, str) and len(h) == HASH_LEN and all(c in HEX for c in h),
        "a content hash is 64 lower-case hex characters",
    )


def _reader(ctx, org, wrapped):
    ctx.require(isinstance(org, str), "an organisation name is a string")
    member = ctx.read("governance", "org/" + org)
    ctx.require(
        member is not None and member["status"] == "active",
        f"{org} is not a member organisation",
    )
    ctx.require(ctx.read("privdata", "key:" + org) is not None, f"{org} has registered no data key")
    ctx.require(
        isinstance(wrapped, bytes) and len(wrapped) == WRAPPED_LEN,
        "a wrapped key is 80 bytes",
    )


def _owned(ctx, h):
    _hash(ctx, h)
    rec = ctx.get("pd:" + h)
    if rec is None:
        raise ContractError(f"no note {h}")
    ctx.require(rec["owner"] == ctx.sender.address, "only the note's owner may do this")
    ctx.require(not rec["purged"], "the note was purged")
    return rec


def write(ctx, h, size, readers):
    _hash(ctx, h)
    ctx.require(
        isinstance(size, int) and not isinstance(size, bool) and 0 < size <= MAX_SIZE,
        f"size must be 1 to {MAX_SIZE} bytes",
    )
    ctx.require(
        isinstance(readers, dict) and len(readers) > 0 and len(readers) <= MAX_READERS,
        f"readers: 1 to {MAX_READERS} organisations, each with its wrapped key",
    )
    ctx.require(ctx.sender.org in readers, "the writer's organisation must be a reader")
    for org, wrapped in readers.items():
        _reader(ctx, org, wrapped)
    ctx.require(not ctx.has("pd:" + h), "this content is recorded already")
    record = {
        "hash": h,
        "size": size,
        "owner": ctx.sender.address,
        "org": ctx.sender.org,
        "readers": readers,
        "purged": False,
        "height": ctx.height,
    }
    ctx.put("pd:" + h, record)
    ctx.put("n", ctx.get("n", 0) + 1)
    ctx.emit("NoteWritten", hash=h, org=ctx.sender.org, readers=sorted(readers))
    return h


def grant(ctx, h, org, wrapped):
    rec = _owned(ctx, h)
    _reader(ctx, org, wrapped)
    ctx.require(org not in rec["readers"], f"{org} is a reader already")
    rec["readers"][org] = wrapped
    ctx.put("pd:" + h, rec)
    ctx.emit("NoteShared", hash=h, org=org)


def revoke(ctx, h, org):
    rec = _owned(ctx, h)
    ctx.require(org in rec["readers"], f"{org} is not a reader")
    ctx.require(org != rec["org"], "the writer's organisation keeps the note")
    readers = rec["readers"]
    rec["readers"] = {o: readers[o] for o in readers if o != org}
    ctx.put("pd:" + h, rec)
    ctx.emit("NoteRevoked", hash=h, org=org)


def purge(ctx, h):
    rec = _owned(ctx, h)
    rec["purged"] = True
    rec["readers"] = {}
    ctx.put("pd:" + h, rec)
    ctx.emit("NotePurged", hash=h)


@view
def note(ctx, h):
    rec = ctx.get("pd:" + h)
    if rec is None:
        return None
    return {
        "hash": rec["hash"],
        "size": rec["size"],
        "owner": rec["owner"],
        "org": rec["org"],
        "readers": sorted(rec["readers"]),
        "purged": rec["purged"],
    }
