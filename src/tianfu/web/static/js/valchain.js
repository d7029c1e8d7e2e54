// The validator-set history of the in-browser verifier: from the trusted genesis set,
// follow a proof bundle's validator chain (sequential and skipping links) and tell which
// set signs each height — the rules of `tianfu.proofs.valchain.TrustedHistory`.
//
// The set that signs block h is the `governance/validators` entry of the state of h - 2
// (the genesis set for h <= 2). A sequential link (no `signers`) is a header checked
// against the set of its height, with the Merkle proof of that entry in its state: either
// the last trusted change again, or the next change (its previous change is the last
// trusted one; it does not sign the link's own header yet). A skipping link carries its
// header's own set: the trusted header is within the trusting period, the new one is later
// and not from the future, more than 2/3 of its own set signed it and the signers hold more
// than 1/3 of the latest trusted set's power; the heights skipped over become unknown.
//
// Pure module: no DOM, no network (imported by proof.js; runs under Node in the tests).

import {
  fail, eq, hex, decode, MsgMap, hashDomain, provenEntry, header, certificate,
  checkCommit, encUint, encStr, encBin, concat,
} from "./proof.js";
import { arrayHead, part } from "./wire.js";

const enc = new TextEncoder();
export const VALIDATORS_KEY = enc.encode("governance/validators");
const ACTIVATION_DELAY = 2;
const TRUSTING_PERIOD_MS = 7 * 24 * 3600 * 1000;
const CLOCK_DRIFT_MS = 10_000;
const GENESIS = -1; // the last change of a history anchored at the genesis

// An integer as the decoder gives it (a Number within 2^53, a BigInt beyond) of at least `min`.
const isUint = (n, min) => (Number.isInteger(n) || typeof n === "bigint") && n >= min;

// Heights and times, and the sums of them below, exactly (proofs.md#trust-options: no
// rounding): a Number while it is a safe integer, a BigInt beyond — as the decoder and the
// document's JSON give them. A change written at 2^53 − 2 signs from 2^53, and a genesis
// time is any 64-bit integer: `c + 2` as a Number rounded 2^53 + 1 to 2^53, and Math.max
// refused a BigInt time. Comparisons of a Number with a BigInt are exact in JavaScript.
const exact = (n) => {
  const b = BigInt(n);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
};
const plus = (a, b) => exact(BigInt(a) + BigInt(b));
const larger = (a, b) => (a > b ? a : b);
const smaller = (a, b) => (a < b ? a : b);

// A validator set: its members in order, canonical hash and total power. A power (or a
// scheme) may be any unsigned 64-bit integer (blocks.md#validator-sets): beyond 2^53 it is
// a BigInt, and every sum of powers is a BigInt.
export function makeSet(validators) {
  for (const v of validators) {
    const ok = typeof v.name === "string" && typeof v.org === "string" &&
      isUint(v.scheme, 0) && v.publicKey instanceof Uint8Array &&
      v.publicKey.length <= 65 && isUint(v.power, 1);
    if (!ok) fail("malformed validator set");
  }
  const body = concat(
    new Uint8Array([0x91]),
    arrayHead(validators.length),
    ...validators.map((v) => concat(
      new Uint8Array([0x95]), encStr(v.name), encStr(v.org), encUint(v.scheme),
      encBin(v.publicKey), encUint(v.power),
    )),
  );
  return {
    validators,
    hash: hashDomain("tianfu/valset/v1", body),
    // exact: a sum of powers may pass 2^53 (blocks.md#validator-sets)
    total: validators.reduce((a, v) => a + BigInt(v.power), 0n),
  };
}

// The power of the members holding each scheme and key (every one of them summed), computed
// once per set and kept on it: a skipping link's trust-level sum then costs its signers.
function signerPowerOf(set) {
  if (!set.signerPower) {
    const index = new Map();
    for (const v of set.validators) {
      const k = `${v.scheme}:${hex(v.publicKey)}`;
      index.set(k, (index.get(k) ?? 0n) + BigInt(v.power));
    }
    set.signerPower = index;
  }
  return set.signerPower;
}

// The canonical ValidatorSet bytes of a skipping link.
function parseSet(bytes) {
  const s = decode(bytes);
  if (!Array.isArray(s) || s.length !== 1 || !Array.isArray(s[0])) fail("malformed validator set");
  return makeSet(s[0].map((v) => {
    if (!Array.isArray(v) || v.length !== 5) fail("malformed validator set");
    const [name, org, scheme, publicKey, power] = v;
    return { name, org, scheme, publicKey, power };
  }));
}

// A `governance/validators` value: a list of records with exactly the fields name, org,
// scheme, public_key and power (at least 1), as blocks.md requires of a proven entry.
const RECORD_FIELDS = ["name", "org", "power", "public_key", "scheme"];

function setOfRecords(bytes, height) {
  const malformed = () => fail("malformed validator set in the state of block %(height)s", { height });
  const records = decode(bytes);
  if (!Array.isArray(records) || !records.length) malformed();
  return makeSet(records.map((r) => {
    if (!(r instanceof MsgMap)) malformed();
    const m = new Map(r.entries);
    const keys = r.entries.map(([k]) => k);
    if (m.size !== keys.length || keys.some((k) => typeof k !== "string") ||
        [...keys].sort().join() !== RECORD_FIELDS.join()) {
      malformed();
    }
    if (!isUint(m.get("power"), 1)) malformed();
    return {
      name: m.get("name"), org: m.get("org"), scheme: m.get("scheme"),
      publicKey: m.get("public_key"), power: m.get("power"),
    };
  }));
}

// A link decoded and checked against its own header's state root, not yet trusted.
export function prepareLink(link) {
  if (!Array.isArray(link) || link.length !== 3) fail("malformed validator-chain link");
  const [light, value, proof] = link;
  if (!Array.isArray(light) || light.length !== 3 || !(light[2] instanceof Uint8Array)) {
    fail("malformed validator-chain link");
  }
  [...light, value, proof].forEach(part);
  const head = header(light[0]);
  const cert = certificate(light[1]);
  if (cert.height !== head.height) fail("the commit certificate is for another height");
  if (!eq(cert.blockHash, head.hash)) fail("the commit certificate signs a different block hash");
  let own = null;
  if (light[2].length) {
    own = parseSet(light[2]);
    if (!own.validators.length) fail("a skipping link names an empty validator set");
    if (!eq(own.hash, head.validatorsHash)) {
      fail("the skipping link's set is not the one header %(height)s names", { height: head.height });
    }
  }
  if (!(value === null || value instanceof Uint8Array) || !(proof instanceof Uint8Array)) {
    fail("malformed validator-chain link");
  }
  // The entry holds `value`, or, for a nil value, is absent: never written or deleted (a
  // tombstone), which is the genesis set (blocks.md#validator-sets; `valset` null here).
  const entry = provenEntry(head.stateRoot, VALIDATORS_KEY, proof);
  const holds = entry && (value === null
    ? entry.valueHash === null || entry.valueHash.length === 0
    : entry.valueHash !== null && eq(entry.valueHash, hashDomain("tianfu/state/value/v1", value)));
  if (!holds) {
    fail("the validator-set proof does not match the state of block %(height)s", { height: head.height });
  }
  if (entry.height !== null && entry.height > head.height) {
    fail("the validator set in the state of block %(height)s claims a later change", { height: head.height });
  }
  const valset = value === null ? null : setOfRecords(value, head.height);
  return { head, cert, own, valset, changedIn: entry.height, prev: entry.prev };
}

export class TrustedHistory {
  constructor(genesis, nowMs) {
    const gset = makeSet(genesis.validators);
    this.genesisSet = gset; // the set of an absent validators entry
    this.chainId = genesis.chainId;
    this.voteDomain = genesis.voteDomain; // what its votes sign (blocks.md#votes)
    this.known = [{ lo: 1, hi: ACTIVATION_DELAY, set: gset }];
    this.latest = gset;
    this.lastChange = GENESIS;
    this.trustedTime = genesis.timeMs;
    this.lastLinkHeight = 0;
    this.changes = [{ changedIn: 0, effective: 1, set: gset, skipped: false }];
    this.nowMs = nowMs ?? Date.now();
  }

  get provenUntil() {
    return this.known.length ? this.known[this.known.length - 1].hi : 0; // sorted, disjoint
  }

  // The index of the first interval of `known` whose `field` is above `x` (`known` is sorted
  // and disjoint, so its lo and its hi both ascend).
  firstAbove(field, x) {
    let lo = 0;
    let hi = this.known.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.known[mid][field] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  // Add [lo, hi] -> set. `known` stays sorted and disjoint, with no two touching intervals
  // of one set, so only the intervals overlapping or touching [lo, hi] are looked at (the
  // cost of a link does not grow with the history).
  learn(lo, hi, set) {
    if (lo > hi) return;
    const first = this.firstAbove("hi", plus(lo, -2));
    const end = this.firstAbove("lo", plus(hi, 1));
    const near = this.known.slice(first, end);
    for (const k of near) {
      const a = larger(lo, k.lo);
      const b = smaller(hi, k.hi);
      if (a <= b && !eq(k.set.hash, set.hash)) {
        fail("the chain contradicts the trusted set of heights %(lo)s..%(hi)s", { lo: a, hi: b });
      }
    }
    const same = near.filter((k) => eq(k.set.hash, set.hash));
    const merged = {
      lo: same.reduce((m, k) => smaller(m, k.lo), lo), hi: same.reduce((m, k) => larger(m, k.hi), hi), set,
    };
    const others = near.filter((k) => !eq(k.set.hash, set.hash));
    this.known.splice(first, end - first,
      ...others.filter((k) => k.hi < lo), merged, ...others.filter((k) => k.lo > hi));
  }

  exactSet(height) {
    const i = this.firstAbove("lo", height) - 1;
    return i >= 0 && this.known[i].hi >= height ? this.known[i].set : null;
  }

  setAt(height) {
    if (!(height >= 1)) fail("no block at height %(height)s", { height });
    const exact = this.exactSet(height);
    if (exact) return exact;
    if (height > this.provenUntil) return this.latest;
    fail("the validator set of height %(height)s is not known: a skipping link passed over it", { height });
  }

  checkHeader(head, cert, set) {
    if (head.chainId !== this.chainId) fail("the block is not of chain %(chain)s", { chain: this.chainId });
    if (!(head.height >= 1)) fail("no block at height %(height)s", { height: head.height });
    if (!eq(head.validatorsHash, set.hash)) {
      fail("header %(height)s names a validator set other than the trusted one of its height", { height: head.height });
    }
    return checkCommit(cert, head, set, this.voteDomain);
  }

  apply(link) {
    const { head, cert } = link;
    const v = link.valset ?? this.genesisSet;
    const h = head.height;
    if (h <= this.lastLinkHeight) fail("the validator chain's links must ascend in height");
    if (link.own) {
      this.skip(link);
      return;
    }
    this.checkHeader(head, cert, this.setAt(h));
    const c = link.changedIn;
    const last = larger(this.lastChange, 0);
    if ((c === null && this.lastChange <= 0) || c === last) {
      if (!eq(v.hash, this.latest.hash)) {
        fail("the validator set proven at height %(height)s is not the trusted one", { height: h });
      }
      this.learn(larger(plus(last, ACTIVATION_DELAY), 1), plus(h, ACTIVATION_DELAY), v);
      if (c !== null) this.lastChange = c;
    } else if (c !== null && c > last) {
      const follows = link.prev === this.lastChange ||
        (this.lastChange === GENESIS && (link.prev === 0 || link.prev === null));
      if (!follows) {
        fail("the validator set changed at height %(height)s does not follow the last trusted change: the chain skips a change", { height: c });
      }
      if (plus(c, ACTIVATION_DELAY) <= h) {
        fail("the set changed at height %(change)s signs block %(height)s, but the link's header was checked against the set before it", { change: c, height: h });
      }
      this.learn(larger(plus(last, ACTIVATION_DELAY), 1), plus(c, ACTIVATION_DELAY - 1), this.latest);
      this.learn(plus(c, ACTIVATION_DELAY), plus(h, ACTIVATION_DELAY), v);
      this.lastChange = c;
      this.latest = v;
      this.changes.push({ changedIn: c, effective: plus(c, ACTIVATION_DELAY), set: v, skipped: false });
    } else {
      fail("the validator set proven at height %(height)s goes back in the history", { height: h });
    }
    this.trustedTime = larger(this.trustedTime, head.timeMs);
    this.lastLinkHeight = h;
  }

  skip(link) {
    const { head, cert, own } = link;
    const v = link.valset ?? this.genesisSet;
    const h = head.height;
    const latest = this.latest;
    const presumed = this.exactSet(h) || (h > this.provenUntil ? latest : null);
    if (presumed && eq(presumed.hash, own.hash)) {
      fail("the skipping link at height %(height)s carries a set it does not need", { height: h });
    }
    if (plus(this.trustedTime, TRUSTING_PERIOD_MS) <= this.nowMs) {
      fail("the trusted header is older than the trusting period: skipping is not allowed");
    }
    if (head.timeMs <= this.trustedTime) {
      fail("the skipping link's header %(height)s is not later than the trusted one", { height: h });
    }
    if (head.timeMs >= plus(this.nowMs, CLOCK_DRIFT_MS)) {
      fail("the skipping link's header %(height)s is from the future", { height: h });
    }
    const signers = this.checkHeader(head, cert, own);
    const signed = new Set(signers.map((s) => `${s.scheme}:${hex(s.publicKey)}`));
    const index = signerPowerOf(latest);
    const power = [...signed].reduce((a, k) => a + (index.get(k) ?? 0n), 0n);
    if (!(power * 3n > latest.total)) {
      fail("block %(height)s is signed by %(power)s of the trusted set's %(total)s voting power; more than 1/3 is needed to skip to it", { height: h, power, total: latest.total });
    }
    const c = link.changedIn === null ? 0 : link.changedIn;
    const last = larger(this.lastChange, 0);
    if (c < last) fail("the validator set proven at height %(height)s goes back in the history", { height: h });
    if (plus(c, ACTIVATION_DELAY) <= h && !eq(v.hash, own.hash)) {
      fail("the set proven in block %(height)s is not the one that signs it", { height: h });
    }
    if (c === last && !eq(v.hash, latest.hash)) fail("the validator chain contradicts the trusted history");
    this.learn(h, h, own);
    this.learn(larger(plus(c, ACTIVATION_DELAY), 1), plus(h, ACTIVATION_DELAY), v);
    if (c !== last) this.changes.push({ changedIn: c, effective: plus(c, ACTIVATION_DELAY), set: v, skipped: true });
    this.lastChange = larger(c, this.lastChange);
    this.latest = v;
    this.trustedTime = head.timeMs;
    this.lastLinkHeight = h;
  }
}
