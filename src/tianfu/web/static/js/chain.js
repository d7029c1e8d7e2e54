// The chain's crypto suite, hashes, signatures, Merkle and state proofs, block headers and
// commit certificates, for the console's in-browser verifier (proof.js, which re-exports
// what other modules use).
//
// Pure module: no DOM, no network; also runs under Node for the project's tests.

import { sha256, sha512 } from "../vendor/noble-hashes/sha2.js";
import * as ed from "../vendor/noble-ed25519/index.js";
import { p256 } from "../vendor/noble-curves/nist.js";
import { weierstrassN } from "../vendor/noble-curves/abstract/weierstrass.js";
import { sm2, sm3 } from "../vendor/sm-crypto-v2/index.js";
import {
  concat, decode, encBin, encStr, encUint, eq, fail, fromHex, hex, u64,
} from "./wire.js";

ed.etc.sha512Sync = (...m) => sha512(ed.etc.concatBytes(...m));

const enc = new TextEncoder();

// -- the chain's crypto suite (the genesis's `suite`, as `tianfu.crypto.suite`) ----------
// The hash of every chain object (SHA-256, or SM3 on an SM2 chain) and the signature
// schemes the chain accepts (1: Ed25519, 2: ECDSA P-256, 3: SM2).
const ED25519 = 1;
const ECDSA_P256 = 2;
const SM2 = 3;
export const SUITES = {
  standard: { hash: sha256, schemes: new Set([ED25519, ECDSA_P256]) },
  sm2: { hash: (b) => fromHex(sm3(b)), schemes: new Set([SM2]) },
};
let suite = SUITES.standard; // the suite in force (set by `inSuite` around a verification)

export function inSuite(name, run) {
  const before = suite;
  suite = SUITES[name];
  try {
    return run();
  } finally {
    suite = before;
  }
}

export function hashDomain(tag, ...parts) {
  const t = enc.encode(tag);
  const chunks = [new Uint8Array([t.length]), t];
  for (const p of parts) chunks.push(u64(p.length), p);
  return suite.hash(concat(...chunks));
}

export const sha256Hex = (b) => hex(sha256(b));

const PRECOMMIT = 2;

// What a precommit signs (docs/spec/blocks.md#votes): on the chain of a version-2 genesis
// (`genesisHash` its hash) the genesis hash first, under tianfu/vote/v3; on the chain of a
// version-1 genesis (`genesisHash` null) the chain id alone, under tianfu/vote/v2.
function voteSignBytes(chainId, genesisHash, height, round, blockHash, timeMs) {
  const fields = [
    encStr(chainId),
    encUint(height),
    encUint(round),
    encUint(PRECOMMIT),
    encBin(blockHash),
    encUint(timeMs),
  ];
  if (genesisHash === null) return hashDomain("tianfu/vote/v2", concat(new Uint8Array([0x96]), ...fields));
  return hashDomain("tianfu/vote/v3", concat(new Uint8Array([0x97]), encBin(genesisHash), ...fields));
}

// Binary Merkle tree (RFC 6962 shape) of tx and receipt roots. `split(n)` is the largest
// power of two below n, for any n up to 2^53 - 1 (a header's tx_count): doubled as a
// number, never shifted (a 32-bit shift turns 2^31 negative, and the loop never ended for
// a tree of more than 2^30 items).
function split(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// An audit path as the bundle format has it: an array of at most 64 hashes of 32 bytes.
const isPath = (p) =>
  Array.isArray(p) && p.length <= 64 && p.every((h) => h instanceof Uint8Array && h.length === 32);

export function verifyMerkle(root, item, index, size, path) {
  if (!(Number.isInteger(index) && index >= 0 && index < size) || !isPath(path)) return false;
  const sides = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = split(hi - lo);
    if (index < lo + k) {
      sides.push(true);
      hi = lo + k;
    } else {
      sides.push(false);
      lo += k;
    }
  }
  if (sides.length !== path.length) return false;
  let h = hashDomain("tianfu/merkle/leaf/v1", item);
  sides.reverse();
  for (let i = 0; i < path.length; i++) {
    const s = path[i];
    h = sides[i] ? hashDomain("tianfu/merkle/node/v1", h, s) : hashDomain("tianfu/merkle/node/v1", s, h);
  }
  return eq(h, root);
}

// Sparse Merkle state tree (radix 16): the entry a proof shows under a root, or null.
// EMPTY, with the hash of the chain's suite in force (SM3 on an SM2 chain): computed per
// proof, never once when the module loads (that would be SHA-256's on every chain).
const emptyChild = () => hashDomain("tianfu/state/empty/v1");

export function stateEntry(root, key, proofBytes) {
  const p = decode(proofBytes);
  if (!Array.isArray(p) || p.length !== 3 || p[0] !== 2) fail("malformed state proof");
  const [, siblings, leaf] = p;
  if (!Array.isArray(siblings) || siblings.length > 64) fail("malformed state proof");
  for (const level of siblings) {
    if (!Array.isArray(level) || level.length !== 15) fail("malformed state proof");
    for (const h of level) if (!(h instanceof Uint8Array) || h.length !== 32) fail("malformed state proof");
  }
  const khash = hashDomain("tianfu/state/key/v1", key);
  const depth = siblings.length;
  if (!Array.isArray(leaf) || leaf.length !== 4) return null; // inclusion needs the key's leaf
  const [lk, lv, height, prev] = leaf;
  if (!eq(lk, khash) || !(lv instanceof Uint8Array) || lv.length !== 32) return null;
  // merkle.md: height and prev in 0 … 2^63 − 1 (a BigInt beyond 2^53), prev < height.
  if (!isU63(height) || !(prev === null || (isU63(prev) && prev < height))) return null;
  const prevPart = prev === null ? new Uint8Array(0) : u64(prev);
  let h = hashDomain("tianfu/state/leaf/v2", lk, lv, u64(height), prevPart);
  const empty = emptyChild();
  if (depth && siblings[depth - 1].every((s) => eq(s, empty))) return null;
  for (let d = depth - 1; d >= 0; d--) {
    const b = khash[d >> 1];
    const n = d & 1 ? b & 0x0f : b >> 4;
    const level = siblings[d];
    const children = [...level.slice(0, n), h, ...level.slice(n)];
    h = hashDomain("tianfu/state/internal/v1", ...children);
  }
  return eq(h, root) ? { valueHash: lv, height, prev } : null;
}

// The proven entry of `key` under `root` (merkle.md#state-proofs), absences included:
// { valueHash, height, prev } where valueHash is null when the key was never written (no
// leaf, or another key's leaf on its path) and empty for a tombstone (deleted), and height
// and prev are null when never written; null if the proof does not hold under `root`.
export function provenEntry(root, key, proofBytes) {
  const p = decode(proofBytes);
  if (!Array.isArray(p) || p.length !== 3 || p[0] !== 2) fail("malformed state proof");
  const [, siblings, leaf] = p;
  if (!Array.isArray(siblings) || siblings.length > 64) fail("malformed state proof");
  for (const level of siblings) {
    if (!Array.isArray(level) || level.length !== 15) fail("malformed state proof");
    for (const h of level) if (!(h instanceof Uint8Array) || h.length !== 32) fail("malformed state proof");
  }
  if (!(root instanceof Uint8Array) || root.length !== 32) return null;
  const khash = hashDomain("tianfu/state/key/v1", key);
  const depth = siblings.length;
  const nibble = (bytes, d) => (d & 1 ? bytes[d >> 1] & 0x0f : bytes[d >> 1] >> 4);
  let h;
  let entry;
  if (leaf === null) {
    h = emptyChild();
    entry = { valueHash: null, height: null, prev: null };
  } else {
    if (!Array.isArray(leaf) || leaf.length !== 4) fail("malformed state proof");
    const [lk, lv, height, prev] = leaf;
    if (!(lk instanceof Uint8Array) || lk.length !== 32 || !(lv instanceof Uint8Array) ||
        (lv.length !== 32 && lv.length !== 0) || !isU63(height) ||
        !(prev === null || (isU63(prev) && prev < height))) {
      fail("malformed state proof");
    }
    h = hashDomain("tianfu/state/leaf/v2", lk, lv, u64(height), prev === null ? new Uint8Array(0) : u64(prev));
    if (eq(lk, khash)) {
      entry = { valueHash: lv, height, prev };
    } else {
      for (let d = 0; d < depth; d++) if (nibble(lk, d) !== nibble(khash, d)) return null;
      entry = { valueHash: null, height: null, prev: null };
    }
  }
  const empty = emptyChild();
  if (depth && siblings[depth - 1].every((s) => eq(s, empty))) return null;
  for (let d = depth - 1; d >= 0; d--) {
    const n = nibble(khash, d);
    const level = siblings[d];
    h = hashDomain("tianfu/state/internal/v1", ...level.slice(0, n), h, ...level.slice(n));
  }
  return eq(h, root) ? entry : null;
}

// -- chain objects ----------------------------------------------------------------------
// A block header and a commit certificate, decoded with the checks of their `validate()`
// (`tianfu.types.block`): version 1, heights, rounds, times and hash sizes in range.
const MAX_TIME_MS = Number.MAX_SAFE_INTEGER;
const isInt = (n, min, max = Number.MAX_SAFE_INTEGER) => Number.isInteger(n) && n >= min && n <= max;
// a chain id: 1 to 64 characters (code points, as blocks.md counts them)
const isChainId = (s) => typeof s === "string" && s.length > 0 && [...s].length <= 64;
const MAX_KEY_BYTES = 65;

export function header(bytes) {
  const h = decode(bytes);
  if (!Array.isArray(h) || h.length !== 12) fail("malformed block header");
  const [version, chainId, height, timeMs, prevHash, txRoot, stateRoot, receiptsRoot, valHash, proposer, txCount, lastCommit] = h;
  const ok = version === 1 && isChainId(chainId) && isInt(height, 1) &&
    isInt(timeMs, 0, MAX_TIME_MS) && isInt(txCount, 0) &&
    proposer instanceof Uint8Array && proposer.length <= MAX_KEY_BYTES &&
    [prevHash, txRoot, stateRoot, receiptsRoot, valHash].every((x) => x instanceof Uint8Array && x.length <= 32);
  if (!ok) fail("malformed block header");
  if (height === 1 ? lastCommit !== null : lastCommit === null) fail("malformed block header");
  if (lastCommit !== null) {
    const lc = certificateOf(lastCommit);
    if (lc.height !== height - 1 || lc.chainId !== chainId || !eq(lc.blockHash, prevHash)) {
      fail("malformed block header");
    }
  }
  return {
    version, chainId, height, timeMs, txRoot, stateRoot, receiptsRoot,
    validatorsHash: valHash, txCount, hash: hashDomain("tianfu/header/v2", bytes),
  };
}

function certificateOf(c) {
  if (!Array.isArray(c) || c.length !== 6 || !Array.isArray(c[5])) fail("malformed commit certificate");
  const [version, chainId, height, round, blockHash, sigs] = c;
  const ok = version === 1 && isChainId(chainId) && isInt(height, 1) && isInt(round, 0) &&
    blockHash instanceof Uint8Array && blockHash.length === 32 && sigs.length <= 1024 &&
    sigs.every((s) => Array.isArray(s) && s.length === 3 && s[0] instanceof Uint8Array &&
      s[0].length <= MAX_KEY_BYTES && isInt(s[1], 1, MAX_TIME_MS) && s[2] instanceof Uint8Array &&
      s[2].length <= 72);
  if (!ok) fail("malformed commit certificate");
  return { chainId, height, round, blockHash, sigs };
}

export function certificate(bytes) {
  return certificateOf(decode(bytes));
}

// A proven transaction (transactions.md), decoded with the checks of `TxBody`: version 1,
// chain id, signer, nonce, expiry, contract and method, arguments and certificate within
// their bounds; and its scheme one the chain's suite accepts (a proven transaction is one
// the chain admitted: its id's hash and its signer's address, u8(scheme), are defined for
// those schemes only). Returns the body.
const U63 = (1n << 63n) - 1n;
const isU63 = (n) => (Number.isInteger(n) || typeof n === "bigint") && n >= 0 && BigInt(n) <= U63;
const CONTRACT_NAME = /^[a-z][a-z0-9_]*$/; // the whole text (no `m` flag: $ is the end)
const MAX_ARGS = 32;
const MAX_CERT_BYTES = 4096;

export function transactionBody(tx) {
  if (!Array.isArray(tx) || tx.length !== 2 || !Array.isArray(tx[0]) || tx[0].length !== 10) {
    fail("malformed transaction");
  }
  const [version, chainId, scheme, signer, nonce, expiry, contract, method, args, cert] = tx[0];
  const ok = version === 1 && isChainId(chainId) && (Number.isInteger(scheme) || typeof scheme === "bigint") &&
    signer instanceof Uint8Array && signer.length <= MAX_KEY_BYTES && isU63(nonce) && isU63(expiry) &&
    isChainId(contract) && CONTRACT_NAME.test(contract) && isChainId(method) &&
    Array.isArray(args) && args.length <= MAX_ARGS && cert instanceof Uint8Array &&
    cert.length <= MAX_CERT_BYTES && tx[1] instanceof Uint8Array && tx[1].length <= 72;
  if (!ok) fail("malformed transaction");
  if (!suite.schemes.has(scheme)) fail("a proven transaction's scheme is not one the chain's suite accepts");
  return tx[0];
}

// Whether `sig` over `msg` is a valid signature of a validator's key, as
// `tianfu.crypto.verify` checks it (false for a scheme the chain's suite does not accept).
// Ed25519: crypto.md's four checks (ed25519Verify). ECDSA P-256: SHA-256, a compressed 33-byte key,
// a 64-byte r || s with low s (one valid signature per key and message; p256Verify). SM2: over
// SM3(Z || message) with the standard user id "1234567812345678", a compressed 33-byte
// key, a 64-byte r || s with 1 <= r, s < n (sm2Verify).
const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
// The recommended SM2 curve (GB/T 32918.5), as noble-curves points.
const SM2_POINT = weierstrassN({
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  n: SM2_N,
  h: 1n,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  Gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  Gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
});
const ED_L = ed.CURVE.n;
const littleEndian = (b) => BigInt("0x" + (hex(Uint8Array.from(b).reverse()) || "0"));

// Ed25519 as crypto.md states it (libsodium's checks): S < L; the public key a canonical
// encoding of a point not of small order; R not of small order; and the cofactorless
// equation encode([S]B - [k]A) = R. (noble's `verify` is cofactored and lets a small-order
// R through, so a signer could make signatures only this verifier took.)
function ed25519Verify(sig, msg, publicKey) {
  if (sig.length !== 64 || publicKey.length !== 32) return false;
  const s = littleEndian(sig.subarray(32));
  if (s >= ED_L) return false;
  const r = sig.subarray(0, 32);
  const A = edKey(publicKey); // throws for a non-canonical encoding
  const R = ed.Point.fromHex(r, false);
  if (A.small || R.isSmallOrder()) return false;
  const k = littleEndian(sha512(concat(r, publicKey, msg))) % ED_L;
  const check = ed.Point.BASE.multiply(s, false).add(edMultiply(A, k).negate());
  return eq(check.toBytes(), r);
}

// SM2 as crypto.md states it (GB/T 32918.2 §7, with the check Tongsuo makes):
// e = SM3(Z_A || m) (sm-crypto-v2's getHash, the standard user id); t = (r + s) mod n,
// invalid if 0; X = [s]G + [t]P_A, invalid if it is the point at infinity (which has no
// x: sm-crypto-v2's doVerifySignature reads it as x = 0, so a key's holder could sign
// with r = e, s = -r·d/(1 + d) what only this verifier took); valid iff (e + x(X)) mod n = r.
function sm2Verify(sig, msg, publicKey) {
  const r = BigInt("0x" + hex(sig.subarray(0, 32)));
  const s = BigInt("0x" + hex(sig.subarray(32)));
  if (!(r > 0n && r < SM2_N && s > 0n && s < SM2_N)) return false;
  const t = (r + s) % SM2_N;
  if (t === 0n) return false;
  const A = sm2Point(publicKey); // throws unless a point of the curve
  const e = BigInt("0x" + sm2.getHash(msg, hex(publicKey)));
  const X = SM2_POINT.BASE.multiply(s).add(A.multiply(t));
  if (X.is0()) return false;
  return (e + X.toAffine().x) % SM2_N === r;
}

// The validators' Ed25519 keys, decoded once and kept (the last ED_KEYS_KEPT used): a
// bundle's certificates are signed by the few members of each set, each signing many. A key
// used a second time gets the table of its multiples j·16^w·A (j = 1 … 15, w = 0 … 63), so
// [k]A costs at most 64 additions instead of 252 doublings and about 126 additions (the
// verdicts are the same: the same group element, by complete addition formulas).
const ED_KEYS_KEPT = 64;
const edKeys = new Map();

// The entry of `map` under `id`, made by `make` if missing (a throw keeps nothing); the
// last `limit` made are kept (a Map iterates in insertion order).
function kept(map, limit, id, make) {
  let e = map.get(id);
  if (e === undefined) {
    e = make();
    if (map.size >= limit) map.delete(map.keys().next().value);
    map.set(id, e);
  }
  return e;
}

function edKey(publicKey) {
  return kept(edKeys, ED_KEYS_KEPT, hex(publicKey), () => {
    const point = ed.Point.fromHex(publicKey, false);
    return { point, small: point.isSmallOrder(), uses: 0, table: null };
  });
}

// The validators' SM2 keys, decoded once and kept (the last SM2_KEYS_KEPT used); from a
// key's second use its point carries a table of its multiples (noble's precompute, window
// 4), so [t]P_A costs far less (the same point: the same verdicts).
const SM2_KEYS_KEPT = 64;
const sm2Keys = new Map();

function sm2Point(publicKey) {
  const e = kept(sm2Keys, SM2_KEYS_KEPT, hex(publicKey), () => ({
    point: SM2_POINT.fromBytes(publicKey), // throws unless a point of the curve
    uses: 0,
  }));
  if (++e.uses === 2) e.point.precompute(4, false);
  return e.point;
}

// ECDSA P-256 as crypto.md states it, the same steps as noble-curves' p256.verify with
// { prehash: true, lowS: true, format: "compact" }: 0 < r < n and 0 < s <= n/2 (low s);
// e = SHA-256(m) mod n; u1 = e/s, u2 = r/s (mod n); X = [u1]G + [u2]Q, invalid if the point
// at infinity; valid iff x(X) mod n = r. Q is the validator's kept point (p256Point).
const P256_N = p256.Point.Fn.ORDER;

function p256Verify(sig, msg, publicKey) {
  const r = BigInt("0x" + hex(sig.subarray(0, 32)));
  const s = BigInt("0x" + hex(sig.subarray(32)));
  if (!(r > 0n && r < P256_N && s > 0n && s <= P256_N >> 1n)) return false;
  const Q = p256Point(publicKey); // throws unless a point of the curve
  const e = BigInt("0x" + hex(sha256(msg))) % P256_N;
  const w = p256.Point.Fn.inv(s);
  const X = p256.Point.BASE.multiplyUnsafe((e * w) % P256_N).add(Q.multiplyUnsafe((r * w) % P256_N));
  if (X.is0()) return false;
  return X.toAffine().x % P256_N === r;
}

// The validators' P-256 keys, decoded once and kept (the last P256_KEYS_KEPT used); from a
// key's second use its point carries a table of its multiples (noble's precompute, window
// 4), so [u2]Q costs far less (the same point: the same verdicts).
const P256_KEYS_KEPT = 64;
const p256Keys = new Map();

function p256Point(publicKey) {
  const e = kept(p256Keys, P256_KEYS_KEPT, hex(publicKey), () => ({
    point: p256.Point.fromBytes(publicKey), // throws unless a point of the curve
    uses: 0,
  }));
  if (++e.uses === 2) e.point.precompute(4, false);
  return e.point;
}

// [k]A for 0 <= k < L.
function edMultiply(e, k) {
  if (++e.uses < 2) return e.point.multiply(k, false);
  if (e.table === null) {
    const table = [];
    let base = e.point;
    for (let w = 0; w < 64; w++) {
      const row = [base];
      for (let j = 1; j < 15; j++) row.push(row[j - 1].add(base));
      table.push(row);
      base = row[14].add(base); // 16·base
    }
    e.table = table;
  }
  let p = ed.Point.ZERO;
  for (let w = 0; k > 0n; w++, k >>= 4n) {
    const d = Number(k & 15n);
    if (d) p = p.add(e.table[w][d - 1]);
  }
  return p;
}

export function verifySignature(v, msg, sig) {
  if (!suite.schemes.has(v.scheme)) return false;
  try {
    if (v.scheme === ED25519) return ed25519Verify(sig, msg, v.publicKey);
    if (v.publicKey.length !== 33 || sig.length !== 64) return false;
    if (v.scheme === ECDSA_P256) return p256Verify(sig, msg, v.publicKey);
    return sm2Verify(sig, msg, v.publicKey);
  } catch (e) {
    return false;
  }
}

// Each public key's member of a validator set (the last one holding it, should a key be
// listed twice: docs/spec/blocks.md#validator-sets), computed once per set and kept on it,
// so a certificate costs its signatures, not the set's size (docs/spec/proofs.md#bundle).
export function membersOf(set) {
  set.members ??= new Map(set.validators.map((v) => [hex(v.publicKey), v]));
  return set.members;
}

// The members of `set` whose precommits certify `head` (more than 2/3 of its power; every
// listed signature valid and from a distinct member), or a refusal. `domain` is what the
// chain's votes sign besides themselves: {chainId, genesisHash} (genesisHash null for a
// version-1 genesis), as `parseGenesis` gives it.
export function checkCommit(cert, head, set, domain) {
  const { chainId, genesisHash } = domain;
  if (cert.chainId !== chainId || head.chainId !== chainId) {
    fail("the block is not of chain %(chain)s", { chain: chainId });
  }
  if (cert.height !== head.height) fail("the commit certificate is for another height");
  if (!eq(cert.blockHash, head.hash)) fail("the commit certificate signs a different block hash");
  const members = membersOf(set);
  const seen = new Set();
  let power = 0n; // exact, as the total: sums of powers may pass 2^53
  const signers = [];
  for (const s of cert.sigs) {
    if (!Array.isArray(s) || s.length !== 3) fail("malformed commit signature");
    const [key, timeMs, sig] = s;
    if (!(key instanceof Uint8Array) || !(sig instanceof Uint8Array)) fail("malformed commit signature");
    const k = hex(key);
    if (seen.has(k)) fail("the commit certificate lists a validator twice");
    seen.add(k);
    const v = members.get(k);
    if (!v) fail("the commit certificate is signed by a key outside the validator set");
    const msg = voteSignBytes(cert.chainId, genesisHash, cert.height, cert.round, cert.blockHash, timeMs);
    if (!verifySignature(v, msg, sig)) fail("invalid signature of validator %(name)s", { name: v.name });
    power += BigInt(v.power);
    signers.push(v);
  }
  const total = set.total;
  if (!(power * 3n > total * 2n)) {
    fail("the signatures carry %(power)s of %(total)s voting power; more than 2/3 is needed", { power, total });
  }
  return signers;
}
