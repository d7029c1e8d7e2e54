"""Independent verifier, part 2a: proof bundles and the validator chain.

Written only from docs/spec (proofs.md) as the specification's executable check; imports
nothing from `tianfu`. `verify_bundle` gives the blocks a bundle proves and the validator
history they were checked with (used by `specverify`).
"""

from __future__ import annotations

import bisect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from specwire import (  # noqa: E402
    SUITE_SCHEMES,
    Entry,
    Genesis,
    Header,
    Invalid,
    Receipt,
    SetFacts,
    Tx,
    Validator,
    arr,
    certifies,
    check_state_proof,
    decode,
    decode_value,
    holds,
    listof,
    num,
    parse_cert,
    parse_header,
    parse_receipt,
    parse_tx,
    parse_valset,
    raw,
    set_facts,
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
        if type(r["public_key"]) is not bytes or len(r["public_key"]) > 65:
            raise Invalid("a validator record's key")
        if type(r["scheme"]) is not int or r["scheme"] < 0:
            raise Invalid("a validator record's scheme")
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
        if tx.scheme not in SUITE_SCHEMES[suite]:  # transactions.md: only what the chain admits
            raise Invalid("a proven transaction's scheme is not one the chain's suite accepts")
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
        if e.height is not None and e.height > h.height:  # proofs.md: no change after the block
            raise Invalid("an entry changed after its block")
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
    genesis_hash: bytes | None = None  # what votes sign besides the chain id (Genesis.vote_hash)

    facts: dict[int, tuple[list[Validator], SetFacts]] = field(default_factory=dict)

    def f(self, vals: list[Validator]) -> SetFacts:
        """The set's hash, total and indexes, computed once per set (the list kept with them,
        so its id stays): a certificate then costs its signatures (proofs.md#bundle)."""
        kept = self.facts.get(id(vals))
        if kept is None or kept[0] is not vals:
            kept = self.facts[id(vals)] = (vals, set_facts(self.suite, vals))
        return kept[1]

    def h(self, vals: list[Validator]) -> bytes:
        return self.f(vals).hash

    def proven_until(self) -> int:
        return self.known[-1][1] if self.known else 0  # `known` is sorted and disjoint

    def exact(self, height: int) -> list[Validator] | None:
        i = bisect.bisect_right(self.known, height, key=lambda k: k[0]) - 1
        if i >= 0 and self.known[i][0] <= height <= self.known[i][1]:
            return self.known[i][2]  # type: ignore[no-any-return]
        return None

    def set_at(self, height: int) -> list[Validator]:
        e = self.exact(height)
        if e is not None:
            return e
        if height > self.proven_until():
            return self.latest
        raise Invalid(f"height {height} was skipped over")

    def learn(self, lo: int, hi: int, vals: list[Validator]) -> None:
        """Add [lo, hi] -> vals, merged with the adjacent or overlapping intervals of the same
        set. `known` stays sorted and disjoint, no two touching intervals of one set, so only
        the intervals overlapping or touching [lo, hi] are looked at."""
        if lo > hi:
            return
        mine = self.h(vals)
        first = bisect.bisect_left(self.known, lo - 1, key=lambda k: k[1])
        end = bisect.bisect_right(self.known, hi + 1, key=lambda k: k[0])
        near = self.known[first:end]
        if any(max(a, lo) <= min(b, hi) and self.h(v) != mine for a, b, v in near):
            raise Invalid("the chain contradicts the history")
        same = [k for k in near if self.h(k[2]) == mine]
        merged = [min([lo, *(k[0] for k in same)]), max([hi, *(k[1] for k in same)]), vals]
        others = [k for k in near if self.h(k[2]) != mine]
        self.known[first:end] = [*(k for k in others if k[1] < lo), merged,
                                 *(k for k in others if k[0] > hi)]  # fmt: skip

    def check(self, b: Block, vals: list[Validator]) -> list[Validator]:
        return certifies(self.suite, b.cert, b.header, vals, self.chain_id, self.f(vals),
                         self.genesis_hash)  # fmt: skip

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
        trusted = self.f(self.latest)
        power = sum(trusted.signer_power.get(k, 0) for k in signers)
        if power * 3 <= trusted.total:
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
                   trusted_time=g.time_ms, changes=[(0, 1, g.validators, False)],
                   genesis_hash=g.vote_hash)  # fmt: skip
    for link in links:
        hist.apply(link)
    for blk in blocks:
        blk.valset = hist.set_at(blk.header.height)
        hist.check(blk, blk.valset)
    return hist, blocks
