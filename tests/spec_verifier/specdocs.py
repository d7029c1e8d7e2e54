"""Independent verifier, part 2b: the readable fields of proof documents.

Written only from docs/spec (documents.md) as the specification's executable check;
imports nothing from `tianfu`. `render` gives the fields a document of a kind must show
for the blocks its bundle proves (used by `specverify`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from specbundle import Block  # noqa: E402
from specopen import open_entries  # noqa: E402
from specwire import (  # noqa: E402
    Entry,
    Genesis,
    Invalid,
    Receipt,
    Tx,
    Validator,
    address,
    decode_value,
)


# -- documents (documents.md) --------------------------------------------------------------------------
def readable(v: Any) -> Any:
    if type(v) is bytes:
        return v.hex()
    if type(v) is list:
        return [readable(x) for x in v]
    if type(v) is dict:
        return {k: readable(x) for k, x in v.items()}
    return v


def vals_doc(vals: list[Validator]) -> list[dict[str, Any]]:
    return [{"name": v.name, "org": v.org, "power": v.power, "scheme": v.scheme,
             "public_key": v.key.hex()} for v in vals]  # fmt: skip


def block_doc(b: Block) -> dict[str, Any]:
    h = b.header
    return {"height": h.height, "block_hash": h.hash.hex(), "time_ms": h.time_ms,
            "state_root": h.state_root.hex()}  # fmt: skip


def contract_key(key: bytes) -> tuple[str, str]:
    try:
        t = key.decode()
    except UnicodeDecodeError:
        raise Invalid("a key that is not text") from None
    c, sep, k = t.partition("/")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9_]*", c) or len(c) > 64:
        raise Invalid("not a contract key")
    return c, k


def value_of(value: bytes | None) -> Any:
    return None if value is None else decode_value(value)


def entry_doc(key: bytes, value: bytes | None, e: Entry) -> dict[str, Any]:
    c, k = contract_key(key)
    return {"contract": c, "key": k, "present": value is not None,
            "value": readable(value_of(value)), "changed_at": e.height,
            "previous_change": e.prev}  # fmt: skip


def one(blocks: list[Block], txs: int | None, entries: int | None) -> Block:
    if len(blocks) != 1:
        raise Invalid("one block expected")
    b = blocks[0]
    if (txs is not None and len(b.txs) != txs) or (
        entries is not None and len(b.entries) != entries
    ):
        raise Invalid("the kind's shape")
    return b


def tx_doc(i: int, t: Tx, r: Receipt) -> dict[str, Any]:
    return {
        "index": i,
        "tx": {"hash": t.id.hex(), "chain_id": t.chain_id, "scheme": t.scheme,
               "signer": t.signer.hex(), "nonce": t.nonce, "expiry": t.expiry,
               "contract": t.contract, "method": t.method, "args": readable(t.args),
               "has_cert": bool(t.cert)},
        "receipt": {"ok": r.status == 0, "gas_used": r.gas_used, "result": readable(r.result),
                    "error": r.error, "events": [{"contract": c, "name": n, "data": readable(d)}
                                                 for c, n, d in r.events]},
    }  # fmt: skip


def genesis_value(g: Genesis, name: str) -> Any:
    """The value of `governance/<name>` in the genesis state (blocks.md#the-genesis-state)."""
    d = g.decoded
    orgs = d[3]
    records = [{"name": v.name, "org": v.org, "scheme": v.scheme, "public_key": v.key,
                "power": v.power} for v in g.validators]  # fmt: skip
    pnames = ["max_block_txs", "max_block_bytes", "block_interval_ms", "empty_block_interval_ms",
              "timeout_propose_ms", "timeout_vote_ms", "timeout_delta_ms", "tx_expiry_window",
              "max_gas_per_tx", "proposal_expiry_blocks", "max_validator_power",
              "max_validators", "slash_double_sign", "max_block_gas", "max_block_receipt_bytes"]  # fmt: skip
    entries: dict[str, Any] = {
        "orgs": [o[0] for o in orgs], "contracts": [], "pending": [],
        "policies": {"contract_approval": d[6][0], "governance": d[6][1]},
        "chain_id": g.chain_id, "validators": records, "valset_heights": [1],
        "valset/1": records, "params": dict(zip(pnames, d[5], strict=True)),
    }  # fmt: skip
    for o in orgs:
        entries[f"org/{o[0]}"] = {"name": o[0], "ca_cert": o[1], "status": "active"}
    if g.vote_hash is not None:  # version 2
        entries["genesis_hash"] = g.vote_hash
    if g.open is not None:  # blocks.md#the-open-profile
        entries["params"].update(g.open["params"])
        entries.update(open_entries(g.open, g.validators))
    if name not in entries:
        raise Invalid("not in the genesis state")
    return entries[name]


def render(kind: str, g: Genesis, blocks: list[Block]) -> dict[str, Any]:
    if kind == "state":
        b = one(blocks, 0, None)
        if not b.entries:
            raise Invalid("a state proof without entries")
        return {**block_doc(b), "entries": [entry_doc(*e) for e in b.entries]}
    if kind == "tx":
        b = one(blocks, 1, 0)
        return {**block_doc(b), **tx_doc(*b.txs[0])}
    if kind == "absence":
        b = one(blocks, 0, 1)
        key, _, e = b.entries[0]
        if len(key) != 33 or key[0] != 1 or e.height is not None:
            raise Invalid("not an absent transaction")
        return {**block_doc(b), "tx_hash": key[1:].hex(), "committed": False}
    if kind == "history":
        return history(g, blocks)
    if kind == "validators":
        b = one(blocks, 0, 0)
        return {**block_doc(b), "validators": vals_doc(b.valset),
                "total_power": sum(v.power for v in b.valset)}  # fmt: skip
    if kind in ("orgs", "contracts"):
        return consortium(kind, blocks)
    if kind in RECORD_KINDS:
        return record_certificate(kind, blocks)
    if kind == "traceability":
        return traceability(blocks)
    raise Invalid(f"unknown kind {kind!r}")


def history(g: Genesis, blocks: list[Block]) -> dict[str, Any]:
    if any(b.txs or len(b.entries) != 1 for b in blocks):
        raise Invalid("history shape")
    key = blocks[0].entries[0][0]
    c, k = contract_key(key)
    if blocks[0].entries[0][2].height is None and len(blocks) > 1:
        raise Invalid("versions of a key never written")
    for n, o in zip(blocks, blocks[1:], strict=False):
        en, eo = n.entries[0][2], o.entries[0][2]
        if o.entries[0][0] != key or en.prev is None or o.header.height != en.prev:
            raise Invalid("a version proven at the wrong height")
        if eo.height != o.header.height:
            raise Invalid("a block without a change of the key")
    versions = [{"height": b.entries[0][2].height, "present": b.entries[0][1] is not None,
                 "value": readable(value_of(b.entries[0][1])),
                 "proven_in_block": b.header.height}
                for b in blocks if b.entries[0][2].height is not None]  # fmt: skip
    last = blocks[-1].entries[0][2]
    top = blocks[0].header
    if last.height == 0 or last.prev == 0:
        if last.height != 0:
            if c != "governance":
                raise Invalid("not in the genesis state")
            versions.append({"height": 0, "present": True,
                             "value": readable(genesis_value(g, k)), "proven_in_block": 0})  # fmt: skip
        complete, earlier = True, None
    else:
        complete, earlier = last.prev is None, last.prev
    return {"contract": c, "key": k, "height": top.height, "block_hash": top.hash.hex(),
            "time_ms": top.time_ms, "complete": complete, "earlier_change": earlier,
            "versions": versions}  # fmt: skip


def consortium(kind: str, blocks: list[Block]) -> dict[str, Any]:
    b = one(blocks, 0, None)
    if not b.entries:
        raise Invalid("no entries")
    keys = [contract_key(k) for k, _, _ in b.entries]
    if any(c != "governance" for c, _ in keys):
        raise Invalid("not governance entries")
    list_key, prefix = ("orgs", "org/") if kind == "orgs" else ("contracts", "contract/")
    names = value_of(b.entries[0][1])
    names = [] if names is None else names
    if type(names) is not list or any(type(n) is not str for n in names):
        raise Invalid("the list is not of names")
    if [k for _, k in keys] != list(dict.fromkeys([list_key] + [prefix + n for n in names])):
        raise Invalid("not exactly the entries the answer reads")
    values = {k: value_of(v) for (_, k), (_, v, _) in zip(keys, b.entries, strict=True)}
    records = [(n, values[prefix + n]) for n in names]
    if any(type(r) is not dict for _, r in records):
        raise Invalid("a listed name without its record")
    if kind == "orgs":
        out = [{"name": n, "status": readable(r.get("status")), "ca_cert": readable(r.get("ca_cert"))}
               for n, r in records]  # fmt: skip
        return {**block_doc(b), "orgs": out}
    return {**block_doc(b), "contracts": [readable(r) for _, r in records]}


# documents.md#record-certificates: kind -> (key prefix, method, [(argument position, the
# record's field)], the signer's field, text fields, [(readable name, the record's field)],
# the record's readable name).
RECORD_KINDS: dict[str, tuple[str, str, list[tuple[int, str]], str, tuple[str, ...],
                              list[tuple[str, str]], str]] = {
    "evidence": ("dep:", "deposit", [(0, "file_hash")], "depositor", ("file_hash", "title", "org"),
                 [("file_sha256", "file_hash"), ("title", "title"), ("depositor", "depositor"),
                  ("org", "org")], "deposit"),
    "photo_authorship": ("photo:", "register", [(0, "sha256"), (2, "phash")], "author",
                         ("sha256", "phash", "title", "org"),
                         [("image_sha256", "sha256"), ("phash", "phash"), ("title", "title"),
                          ("author", "author"), ("org", "org")], "photo"),
}  # fmt: skip


def record_certificate(kind: str, blocks: list[Block]) -> dict[str, Any]:
    prefix, method, args, signer, texts, shown, name = RECORD_KINDS[kind]
    b = one(blocks, 1, 1)
    key, value, _ = b.entries[0]
    c, k = contract_key(key)
    if not k.startswith(prefix):
        raise Invalid("not a record of the kind")
    rid, rec = k[len(prefix) :], value_of(value)
    i, t, r = b.txs[0]
    h = b.header
    ok = (type(rec) is dict and t.contract == c and t.method == method
          and len(t.args) > max(p for p, _ in args)
          and r.status == 0 and r.result == rid and rec.get("id") == rid
          and rec.get("tx") == t.id.hex() and all(t.args[p] == rec.get(f) for p, f in args)
          and type(rec.get("height")) is int and rec.get("height") == h.height
          and type(rec.get("time_ms")) is int and rec.get("time_ms") == h.time_ms
          and rec.get(signer) == address(t.scheme, t.signer)
          and all(type(rec.get(f)) is str for f in texts))  # fmt: skip
    if not ok:
        raise Invalid("the record does not match its transaction and block")
    return {"contract": c, f"{name}_id": rid, **{n: rec[f] for n, f in shown},
            "height": h.height, "time_ms": h.time_ms, "block_hash": h.hash.hex(),
            "tx_hash": t.id.hex(), name: readable(rec)}  # fmt: skip


def traceability(blocks: list[Block]) -> dict[str, Any]:
    b = one(blocks, 0, None)
    if not b.entries:
        raise Invalid("a lookup without entries")
    keys = [contract_key(key) for key, _, _ in b.entries]
    if len({c for c, _ in keys}) != 1 or not keys[0][1].startswith("batch:"):
        raise Invalid("a lookup of one contract, starting with its batch")
    values = {k: value_of(v) for (_, k), (_, v, _) in zip(keys, b.entries, strict=True)}
    code, read_keys = keys[0][1][6:], set()

    def read(k: str) -> Any:
        if k not in values:
            raise Invalid(f"the lookup reads {k}, which is not proven")
        read_keys.add(k)
        return values[k]

    first = read("batch:" + code)
    if first is None:
        raise Invalid("unknown batch")
    lineage, seen, queue = [], set(), [code]
    while queue:
        cd = queue.pop(0)
        if cd in seen:
            continue
        seen.add(cd)
        bt = first if cd == code else read("batch:" + cd)
        if not (type(bt) is dict and type(bt.get("product")) is str
                and type(bt.get("events")) is int and type(bt.get("parents")) is list):  # fmt: skip
            raise Invalid("a malformed batch")
        prod = read("product:" + bt["product"])
        evs = [read(f"ev:{cd}:{i:08d}") for i in range(1, bt["events"] + 1)]
        if any(e is None for e in evs):
            raise Invalid("an absent event")
        lineage.append({"batch": bt, "product": prod, "events": evs})
        queue.extend(p for p in bt["parents"] if type(p) is str)
    if read_keys != set(values):
        raise Invalid("entries the lookup does not read")
    recall = first.get("recall") if type(first.get("recall")) is dict else None
    h = b.header
    return {"contract": keys[0][0], "code": code, "height": h.height,
            "block_hash": h.hash.hex(), "time_ms": h.time_ms, "state_root": h.state_root.hex(),
            "recalled": recall is not None, "recall": readable(recall),
            "records_proven": len(values), "lineage": readable(lineage)}  # fmt: skip
