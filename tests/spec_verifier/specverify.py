"""Independent verifier, part 2: proof bundles, the validator chain and proof documents.

Written only from docs/spec (proofs.md, documents.md) as the specification's executable
check; imports nothing from `tianfu`. Use:

    python tests/spec_verifier/specverify.py DOCUMENT.json --genesis genesis.bin [--now-ms N]

prints what the document proves and exits 0, or prints why it is rejected and exits 1.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from specwire import (  # noqa: E402
    Entry,
    Genesis,
    Header,
    Invalid,
    Receipt,
    Tx,
    Validator,
    address,
    arr,
    certifies,
    check_state_proof,
    decode,
    decode_value,
    encode,
    holds,
    listof,
    num,
    parse_cert,
    parse_genesis,
    parse_header,
    parse_receipt,
    parse_tx,
    parse_valset,
    raw,
    valset_hash,
    verify_path,
)

VALIDATORS_KEY = b"governance/validators"
RECORD_KEYS = {"name", "org", "scheme", "public_key", "power"}


def records_set(value: bytes) -> list[Validator]:
    recs = decode_value(value)
    if type(recs) is not list or not recs:
        raise Invalid("validator records")
    out = []
    for r in recs:
        if type(r) is not dict or set(r) != RECORD_KEYS:
            raise Invalid("a validator record's fields")
        if type(r["name"]) is not str or type(r["org"]) is not str:
            raise Invalid("a validator record's names")
        if type(r["public_key"]) is not bytes or type(r["scheme"]) is not int:
            raise Invalid("a validator record's key")
        if type(r["power"]) is not int or r["power"] < 1:
            raise Invalid("a validator record's power")
        out.append(Validator(r["name"], r["org"], r["scheme"], r["public_key"], r["power"]))
    return out


# -- the bundle (proofs.md#bundle) -------------------------------------------------------------------
@dataclass
class Block:
    header: Header
    cert: Any
    signers: list[Validator] | None
    txs: list[tuple[int, Tx, Receipt]] = field(default_factory=list)
    entries: list[tuple[bytes, bytes | None, Entry]] = field(default_factory=list)
    valset: list[Validator] = field(default_factory=list)


def light_block(suite: str, lb: Any, proven: bool) -> Block:
    lb = arr(lb, 3, "LightBlock")
    header = parse_header(suite, raw(lb[0]))
    cert = parse_cert(raw(lb[1]))
    if cert.height != header.height or cert.block_hash != header.hash:
        raise Invalid("the certificate is not of its header")
    signers = None
    if raw(lb[2]):
        if proven:
            raise Invalid("a proven block carries a set")
        signers = parse_valset(lb[2])
        if not signers or valset_hash(suite, signers) != header.validators_hash:
            raise Invalid("a skipping link's set")
        if any(v.power < 1 for v in signers):
            raise Invalid("a skipping link's set with a power below 1")
    return Block(header, cert, signers)


@dataclass(frozen=True)
class Link:
    block: Block
    valset: list[Validator]
    changed: int | None
    prev: int | None


def parse_link(suite: str, v: Any, genesis: Genesis) -> Link:
    v = arr(v, 3, "ValidatorLink")
    b = light_block(suite, v[0], False)
    value = None if v[1] is None else raw(v[1])
    e = check_state_proof(suite, b.header.state_root, VALIDATORS_KEY, raw(v[2]))
    if not holds(suite, e, value):
        raise Invalid("the validators proof does not hold its value")
    vals = genesis.validators if value is None else records_set(value)
    if e.height is not None and e.height > b.header.height:
        raise Invalid("a validator set from a later change")
    return Link(b, vals, e.height, e.prev)


def parse_block(suite: str, v: Any) -> Block:
    v = arr(v, 3, "BlockProof")
    b = light_block(suite, v[0], True)
    h = b.header
    last = -1
    for t in listof(v[1], 1024):
        t = arr(t, 5, "TxInclusion")
        i = num(t[0], 0, (1 << 31) - 1)
        if i <= last:
            raise Invalid("transactions out of order")
        last = i
        txb, rb = raw(t[1]), raw(t[3])
        paths = [[raw(p, 32, 32) for p in listof(x, 64)] for x in (t[2], t[4])]
        tx, receipt = parse_tx(txb), parse_receipt(rb)
        if not (verify_path(suite, h.tx_root, txb, i, h.tx_count, paths[0])
                and verify_path(suite, h.receipts_root, rb, i, h.tx_count, paths[1])):  # fmt: skip
            raise Invalid("a transaction or receipt path")
        b.txs.append((i, tx, receipt))
    keys = set()
    for en in listof(v[2], 1024):
        en = arr(en, 3, "EntryProof")
        key = raw(en[0], 1, 4096)
        value = None if en[1] is None else raw(en[1])
        if key in keys:
            raise Invalid("an entry twice")
        keys.add(key)
        e = check_state_proof(suite, h.state_root, key, raw(en[2]))
        if not holds(suite, e, value):
            raise Invalid("a state proof does not hold its value")
        if value is not None:
            decode_value(value)
        b.entries.append((key, value, e))
    return b


# -- the validator chain (proofs.md#validator-chain) ------------------------------------------------
@dataclass
class History:
    suite: str
    chain_id: str
    genesis: list[Validator]
    now: int
    known: list[list[Any]]
    latest: list[Validator]
    last_change: int = -1
    trusted_time: int = 0
    last_link: int = 0
    changes: list[tuple[int, int, list[Validator], bool]] = field(default_factory=list)

    def h(self, vals: list[Validator]) -> bytes:
        return valset_hash(self.suite, vals)

    def proven_until(self) -> int:
        return max((k[1] for k in self.known), default=0)

    def exact(self, height: int) -> list[Validator] | None:
        for lo, hi, vals in self.known:
            if lo <= height <= hi:
                return vals  # type: ignore[no-any-return]
        return None

    def set_at(self, height: int) -> list[Validator]:
        e = self.exact(height)
        if e is not None:
            return e
        if height > self.proven_until():
            return self.latest
        raise Invalid(f"height {height} was skipped over")

    def learn(self, lo: int, hi: int, vals: list[Validator]) -> None:
        if lo > hi:
            return
        for a, b, v in self.known:
            if max(a, lo) <= min(b, hi) and self.h(v) != self.h(vals):
                raise Invalid("the chain contradicts the history")
        self.known.append([lo, hi, vals])

    def check(self, b: Block, vals: list[Validator]) -> list[Validator]:
        return certifies(self.suite, b.cert, b.header, vals, self.chain_id)

    def apply(self, link: Link) -> None:
        b, h = link.block, link.block.header.height
        if h <= self.last_link:
            raise Invalid("links out of order")
        last = max(self.last_change, 0)
        c, v = link.changed, link.valset
        if b.signers is not None:
            return self.skip(link)
        self.check(b, self.set_at(h))
        if (c is None and self.last_change <= 0) or c == last:
            if self.h(v) != self.h(self.latest):
                raise Invalid("the set is not the trusted one")
            self.learn(max(last + 2, 1), h + 2, v)
            if c is not None:
                self.last_change = c
        elif c is not None and c > last:
            if not (link.prev == self.last_change
                    or (self.last_change == -1 and link.prev in (0, None))):  # fmt: skip
                raise Invalid("the chain skips a change")
            if c + 2 <= h:
                raise Invalid("the new set already signs the link")
            self.learn(max(last + 2, 1), c + 1, self.latest)
            self.learn(c + 2, h + 2, v)
            self.last_change, self.latest = c, v
            self.changes.append((c, c + 2, v, False))
        else:
            raise Invalid("the history goes back")
        self.trusted_time = max(self.trusted_time, b.header.time_ms)
        self.last_link = h

    def skip(self, link: Link) -> None:
        b, s, h = link.block, link.block.signers, link.block.header.height
        assert s is not None
        presumed = self.exact(h) or (self.latest if h > self.proven_until() else None)
        if presumed is not None and self.h(presumed) == self.h(s):
            raise Invalid("a skipping link with a set it does not need")
        t = b.header.time_ms
        if not (self.trusted_time + 7 * 24 * 3600 * 1000 > self.now and t > self.trusted_time
                and t < self.now + 10_000):  # fmt: skip
            raise Invalid("a skipping link outside the trusting period or clock")
        signers = {(v.scheme, v.key) for v in self.check(b, s)}
        power = sum(v.power for v in self.latest if (v.scheme, v.key) in signers)
        if power * 3 <= sum(v.power for v in self.latest):
            raise Invalid("not more than 1/3 of the trusted set signed")
        c = link.changed or 0
        last = max(self.last_change, 0)
        if c < last or (c + 2 <= h and self.h(link.valset) != self.h(s)):
            raise Invalid("the skipping link's set")
        if c == last and self.h(link.valset) != self.h(self.latest):
            raise Invalid("the skipping link contradicts the history")
        self.learn(h, h, s)
        self.learn(max(c + 2, 1), h + 2, link.valset)
        if c != last:
            self.changes.append((c, c + 2, link.valset, True))
        self.last_change = max(c, self.last_change)
        self.latest, self.trusted_time, self.last_link = link.valset, t, h


def verify_bundle(data: bytes, g: Genesis, now: int) -> tuple[History, list[Block]]:
    b = arr(decode(data, 16 << 20), 3, "ProofBundle")
    if num(b[0]) != 1:
        raise Invalid("bundle version")
    links = [parse_link(g.suite, v, g) for v in listof(b[1], 4096)]
    blocks = [parse_block(g.suite, v) for v in listof(b[2], 1024, 1)]
    hist = History(g.suite, g.chain_id, g.validators, now, [[1, 2, g.validators]], g.validators,
                   trusted_time=g.time_ms, changes=[(0, 1, g.validators, False)])  # fmt: skip
    for link in links:
        hist.apply(link)
    for blk in blocks:
        blk.valset = hist.set_at(blk.header.height)
        hist.check(blk, blk.valset)
    return hist, blocks


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


def _no_dup(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise Invalid(f"repeated key {k!r}")
        out[k] = v
    return out


def _bad_constant(name: str) -> Any:
    raise Invalid(f"{name} is not JSON")


def same(a: Any, b: Any) -> bool:
    """Equal JSON values of the same types (documents.md#verification)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def verify_document(doc: str | bytes | dict[str, Any], genesis: bytes, now_ms: int | None = None,
                    kind: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The verified document (as rendered from the proof); raises `Invalid` otherwise."""
    g = parse_genesis(genesis)
    if not isinstance(doc, dict):
        size = len(doc.encode("utf-8", "surrogatepass") if isinstance(doc, str) else doc)
        if size > 40 << 20:
            raise Invalid("document too large")
        try:
            doc = json.loads(doc, object_pairs_hook=_no_dup, parse_constant=_bad_constant)
        except ValueError as exc:
            raise Invalid(f"not JSON: {exc}") from None
    if type(doc) is not dict:
        raise Invalid("not a JSON object")
    known = {"state", "tx", "absence", "history", "validators", "orgs", "contracts", "evidence",
             "photo_authorship", "traceability"}  # fmt: skip
    if doc.get("format") != "tianfu-proof/v1" or doc.get("kind") not in known:
        raise Invalid("format or kind")
    if kind is not None and doc["kind"] != kind:
        raise Invalid("another kind")
    if doc.get("genesis_hash") != g.hash.hex() or doc.get("suite") != g.suite:
        raise Invalid("issued for another genesis")
    r = doc.get("raw")
    if type(r) is not str or not re.fullmatch(r"(?:[0-9a-f]{2})*", r):
        raise Invalid("raw is not lower-case hex")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    hist, blocks = verify_bundle(bytes.fromhex(r), g, now)
    expected = {
        "format": "tianfu-proof/v1", "kind": doc["kind"], "chain_id": g.chain_id,
        "genesis_hash": g.hash.hex(), "suite": g.suite,
        "validator_changes": [{"changed_in": c, "effective_from": e, "skipped_to": s,
                               "validators": vals_doc(v)} for c, e, v, s in hist.changes],
        **render(doc["kind"], g, blocks),
        "raw": r,
    }  # fmt: skip
    if not same(doc, expected):
        raise Invalid("the readable fields differ from the proof")
    return expected


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("document")
    ap.add_argument("--genesis", required=True, help="the consortium's genesis.bin")
    ap.add_argument("--now-ms", type=int, default=None, help="the clock (default: now)")
    args = ap.parse_args(argv)
    try:
        doc = verify_document(Path(args.document).read_bytes(), Path(args.genesis).read_bytes(),
                              args.now_ms)  # fmt: skip
    except (Invalid, OSError) as exc:
        print(f"REJECTED: {exc}")
        return 1
    print(json.dumps({k: v for k, v in doc.items() if k != "raw"}, indent=2, ensure_ascii=False))
    print(f"VERIFIED: {doc['kind']} proof of chain {doc['chain_id']} at height "
          f"{doc.get('height')}, {len(doc['validator_changes']) - 1} validator-set changes")  # fmt: skip
    return 0


_unused = (encode,)

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
