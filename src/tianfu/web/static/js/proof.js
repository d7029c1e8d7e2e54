// In-browser verifier of Tianfu proof documents (tianfu-proof/v1): evidence certificates
// (kind "evidence") and state proofs (kind "state", the trace page's batch record).
//
// Checks, trusting only the genesis bytes it is given (genesis.bin, or the `raw` of the
// node's /v1/genesis answer), what `tianfu.apps.evidence.certificate.verify_certificate`
// checks: the validator chain of the document (every validator-set change since the
// genesis, sequential or skipping links: valchain.js) from the genesis set; the block
// header is certified by more than 2/3 of the voting power of the set of its height
// (every listed signature valid, distinct members) and names that set; the deposit
// transaction and its successful receipt are in the block (binary Merkle paths to the tx
// and receipts roots); the deposit record is in the block's state (sparse Merkle proof to
// the state root) and was written by that transaction; the document's readable fields are
// exactly the proven data; and the file's SHA-256 is the deposited hash.
//
// Supported: both crypto suites of the chain — "standard" (SHA-256 hashes; Ed25519 and
// ECDSA P-256 validator keys) and "sm2" (SM3 hashes, SM2 keys). The deposited file's hash
// is SHA-256 on every chain (the evidence contract's `file_hash`).
//
// Pure module: no DOM, no network; also runs under Node for the project's tests.

import { sha256, sha512 } from "../vendor/noble-hashes/sha2.js";
import * as ed from "../vendor/noble-ed25519/index.js";
import { p256 } from "../vendor/noble-curves/nist.js";
import { sm2, sm3 } from "../vendor/sm-crypto-v2/index.js";
import { TrustedHistory, prepareLink } from "./valchain.js";
import { parseDocumentJson } from "./strictjson.js";
import { parseGenesis } from "./genesis.js";

export { parseGenesis };

ed.etc.sha512Sync = (...m) => sha512(ed.etc.concatBytes(...m));

// A refusal: `msgid` is a message of the console's catalogue (extracted from this file:
// the calls of `fail` and `N_`), with %(name)s placeholders filled from `params`.
export class VerifyError extends Error {
  constructor(msgid, params = {}) {
    super(fillMessage(msgid, params));
    this.msgid = msgid;
    this.params = params;
  }
}

export function fillMessage(text, params) {
  return text.replace(/%\((\w+)\)s/g, (_, k) => String(params[k] ?? ""));
}

const N_ = (msgid) => msgid;

export const fail = (msgid, params = {}) => {
  throw new VerifyError(msgid, params);
};

// -- bytes ------------------------------------------------------------------------------
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export function hex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function fromHex(s) {
  if (typeof s !== "string" || !/^(?:[0-9a-f]{2})*$/.test(s)) fail("not lowercase hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function eq(a, b) {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array) || a.length !== b.length) {
    return false;
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function u64(n) {
  const out = new Uint8Array(8);
  let v = BigInt(n);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

// -- msgpack (canonical subset the chain writes) ----------------------------------------
// Decoded values: null, booleans, numbers (BigInt beyond 2^53), strings, Uint8Array
// (bin), arrays, and MsgMap (a map, keys in order). Every length and integer must be in
// its shortest form, as the chain's encoder writes them; `span` gives the raw bytes of
// a nested value.
export class MsgMap {
  constructor(entries) {
    this.entries = entries;
  }
}

const MAX_DEPTH = 64;

export function decode(bytes, withSpans = false) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const spans = withSpans ? new Map() : null;
  const need = (n) => {
    if (pos + n > bytes.length) fail("truncated msgpack");
  };
  const minimal = (ok) => {
    if (!ok) fail("non-canonical msgpack");
  };
  // A big-endian integer of n bytes: a Number, or a BigInt when it is beyond the safe range
  // (only an 8-byte one can be).
  const integer = (n, signed) => {
    need(n);
    let v;
    if (n === 1) v = signed ? view.getInt8(pos) : view.getUint8(pos);
    else if (n === 2) v = signed ? view.getInt16(pos) : view.getUint16(pos);
    else if (n === 4) v = signed ? view.getInt32(pos) : view.getUint32(pos);
    else {
      v = signed ? view.getBigInt64(pos) : view.getBigUint64(pos);
      if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
        v = Number(v);
      }
    }
    pos += n;
    return v;
  };
  const uint = (n) => integer(n, false);
  const int = (n) => integer(n, true);
  const str = (n) => {
    need(n);
    const s = dec.decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const bin = (n) => {
    need(n);
    const b = bytes.slice(pos, pos + n);
    pos += n;
    return b;
  };
  const array = (n, depth) => {
    const out = [];
    for (let i = 0; i < n; i++) out.push(value(depth + 1));
    return out;
  };
  // keys are text, distinct and ascending by their UTF-8 bytes (encoding.md)
  const map = (n, depth) => {
    const out = [];
    let before = null;
    for (let i = 0; i < n; i++) {
      const k = value(depth + 1);
      if (typeof k !== "string") fail("non-canonical msgpack");
      const kb = enc.encode(k);
      if (before !== null && compareBytes(before, kb) >= 0) fail("non-canonical msgpack");
      before = kb;
      out.push([k, value(depth + 1)]);
    }
    return new MsgMap(out);
  };
  function value(depth) {
    if (depth > MAX_DEPTH) fail("msgpack nested too deep");
    const start = pos;
    need(1);
    const t = bytes[pos++];
    let v;
    if (t <= 0x7f) v = t;
    else if (t >= 0xe0) v = t - 0x100;
    else if (t >= 0xa0 && t <= 0xbf) v = str(t & 0x1f);
    else if (t >= 0x90 && t <= 0x9f) v = array(t & 0x0f, depth);
    else if (t >= 0x80 && t <= 0x8f) v = map(t & 0x0f, depth);
    else {
      switch (t) {
        case 0xc0: v = null; break;
        case 0xc2: v = false; break;
        case 0xc3: v = true; break;
        case 0xc4: { const n = uint(1); v = bin(n); break; }
        case 0xc5: { const n = uint(2); minimal(n > 0xff); v = bin(n); break; }
        case 0xc6: { const n = uint(4); minimal(n > 0xffff); v = bin(n); break; }
        case 0xcc: v = uint(1); minimal(v > 0x7f); break;
        case 0xcd: v = uint(2); minimal(v > 0xff); break;
        case 0xce: v = uint(4); minimal(v > 0xffff); break;
        case 0xcf: v = uint(8); minimal(BigInt(v) > 0xffffffffn); break;
        case 0xd0: v = int(1); minimal(v < -32); break;
        case 0xd1: v = int(2); minimal(v < -128); break;
        case 0xd2: v = int(4); minimal(v < -32768); break;
        case 0xd3: v = int(8); minimal(BigInt(v) < -2147483648n); break;
        case 0xd9: { const n = uint(1); minimal(n > 31); v = str(n); break; }
        case 0xda: { const n = uint(2); minimal(n > 0xff); v = str(n); break; }
        case 0xdb: { const n = uint(4); minimal(n > 0xffff); v = str(n); break; }
        case 0xdc: { const n = uint(2); minimal(n > 15); v = array(n, depth); break; }
        case 0xdd: { const n = uint(4); minimal(n > 0xffff); v = array(n, depth); break; }
        case 0xde: { const n = uint(2); minimal(n > 15); v = map(n, depth); break; }
        case 0xdf: { const n = uint(4); minimal(n > 0xffff); v = map(n, depth); break; }
        default: fail("unsupported msgpack type 0x%(type)s", { type: t.toString(16) });
      }
    }
    if (spans && v !== null && typeof v === "object") spans.set(v, bytes.subarray(start, pos));
    return v;
  }
  const v = value(0);
  if (pos !== bytes.length) fail("trailing bytes after msgpack value");
  return withSpans ? { value: v, spans } : v;
}

// The canonical encoding of the few structures the verifier builds itself.
export function encUint(n) {
  if (typeof n === "bigint" || n > 0xffffffff) return concat([0xcf], u64(n));
  if (n <= 0x7f) return new Uint8Array([n]);
  if (n <= 0xff) return new Uint8Array([0xcc, n]);
  if (n <= 0xffff) return new Uint8Array([0xcd, n >> 8, n & 0xff]);
  return new Uint8Array([0xce, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

export function encStr(s) {
  const b = enc.encode(s);
  const n = b.length;
  let head;
  if (n <= 31) head = [0xa0 | n];
  else if (n <= 0xff) head = [0xd9, n];
  else if (n <= 0xffff) head = [0xda, n >> 8, n & 0xff];
  else fail("string too long");
  return concat(new Uint8Array(head), b);
}

export function encBin(b) {
  if (b.length > 0xff) fail("bytes too long");
  return concat(new Uint8Array([0xc4, b.length]), b);
}

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

function voteSignBytes(chainId, height, round, blockHash, timeMs) {
  const body = concat(
    new Uint8Array([0x96]),
    encStr(chainId),
    encUint(height),
    encUint(round),
    encUint(PRECOMMIT),
    encBin(blockHash),
    encUint(timeMs),
  );
  return hashDomain("tianfu/vote/v2", body);
}

// Binary Merkle tree (RFC 6962 shape) of tx and receipt roots.
function split(n) {
  let k = 1;
  while (k << 1 < n) k <<= 1;
  return k;
}

// An audit path as the bundle format has it: an array of at most 64 hashes of 32 bytes.
const isPath = (p) =>
  Array.isArray(p) && p.length <= 64 && p.every((h) => h instanceof Uint8Array && h.length === 32);

function verifyMerkle(root, item, index, size, path) {
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
const EMPTY_CHILD = hashDomain("tianfu/state/empty/v1");

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
  if (!Number.isInteger(height) || !(prev === null || (Number.isInteger(prev) && prev < height))) {
    return null;
  }
  const prevPart = prev === null ? new Uint8Array(0) : u64(prev);
  let h = hashDomain("tianfu/state/leaf/v2", lk, lv, u64(height), prevPart);
  if (depth && siblings[depth - 1].every((s) => eq(s, EMPTY_CHILD))) return null;
  for (let d = depth - 1; d >= 0; d--) {
    const b = khash[d >> 1];
    const n = d & 1 ? b & 0x0f : b >> 4;
    const level = siblings[d];
    const children = [...level.slice(0, n), h, ...level.slice(n)];
    h = hashDomain("tianfu/state/internal/v1", ...children);
  }
  return eq(h, root) ? { valueHash: lv, height, prev } : null;
}

// -- chain objects ----------------------------------------------------------------------
// A block header and a commit certificate, decoded with the checks of their `validate()`
// (`tianfu.types.block`): version 1, heights, rounds, times and hash sizes in range.
const MAX_TIME_MS = Number.MAX_SAFE_INTEGER;
const isInt = (n, min, max = Number.MAX_SAFE_INTEGER) => Number.isInteger(n) && n >= min && n <= max;

export function header(bytes) {
  const h = decode(bytes);
  if (!Array.isArray(h) || h.length !== 12) fail("malformed block header");
  const [version, chainId, height, timeMs, prevHash, txRoot, stateRoot, receiptsRoot, valHash, , txCount, lastCommit] = h;
  const ok = version === 1 && typeof chainId === "string" && isInt(height, 1) &&
    isInt(timeMs, 0, MAX_TIME_MS) && isInt(txCount, 0) &&
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
  const ok = version === 1 && typeof chainId === "string" && isInt(height, 1) && isInt(round, 0) &&
    blockHash instanceof Uint8Array && blockHash.length === 32 &&
    sigs.every((s) => Array.isArray(s) && s.length === 3 && isInt(s[1], 1, MAX_TIME_MS));
  if (!ok) fail("malformed commit certificate");
  return { chainId, height, round, blockHash, sigs };
}

export function certificate(bytes) {
  return certificateOf(decode(bytes));
}

// Whether `sig` over `msg` is a valid signature of a validator's key, as
// `tianfu.crypto.verify` checks it (false for a scheme the chain's suite does not accept).
// Ed25519: RFC 8032, no ZIP-215 leniency. ECDSA P-256: SHA-256, a compressed 33-byte key,
// a 64-byte r || s with low s (one valid signature per key and message). SM2: over
// SM3(Z || message) with the standard user id "1234567812345678", a compressed 33-byte
// key, a 64-byte r || s with 1 <= r, s < n.
const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;

function verifySignature(v, msg, sig) {
  if (!suite.schemes.has(v.scheme)) return false;
  try {
    if (v.scheme === ED25519) return ed.verify(sig, msg, v.publicKey, { zip215: false });
    if (v.publicKey.length !== 33 || sig.length !== 64) return false;
    if (v.scheme === ECDSA_P256) {
      return p256.verify(sig, msg, v.publicKey, { prehash: true, lowS: true, format: "compact" });
    }
    const r = BigInt("0x" + hex(sig.subarray(0, 32)));
    const s = BigInt("0x" + hex(sig.subarray(32)));
    if (!(r > 0n && r < SM2_N && s > 0n && s < SM2_N)) return false;
    return sm2.doVerifySignature(msg, hex(sig), hex(v.publicKey), { der: false, hash: true });
  } catch (e) {
    return false;
  }
}

// The members of `set` whose precommits certify `head` (more than 2/3 of its power; every
// listed signature valid and from a distinct member), or a refusal.
export function checkCommit(cert, head, set, chainId) {
  if (cert.chainId !== chainId || head.chainId !== chainId) {
    fail("the block is not of chain %(chain)s", { chain: chainId });
  }
  if (cert.height !== head.height) fail("the commit certificate is for another height");
  if (!eq(cert.blockHash, head.hash)) fail("the commit certificate signs a different block hash");
  const members = new Map(set.validators.map((v) => [hex(v.publicKey), v]));
  const seen = new Set();
  let power = 0;
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
    const msg = voteSignBytes(cert.chainId, cert.height, cert.round, cert.blockHash, timeMs);
    if (!verifySignature(v, msg, sig)) fail("invalid signature of validator %(name)s", { name: v.name });
    power += v.power;
    signers.push(v);
  }
  const total = set.total;
  if (!(power * 3 > total * 2)) {
    fail("the signatures carry %(power)s of %(total)s voting power; more than 2/3 is needed", { power, total });
  }
  return signers;
}

// A decoded value that is a contract value (encoding.md): the decoder already refused
// floats, extension types and non-text map keys; the value nests at most 32 levels below
// the outermost one (the outermost at depth 0, each array item and map value one deeper).
const MAX_VALUE_DEPTH = 32;

function contractValue(v, depth = 0) {
  if (depth > MAX_VALUE_DEPTH) fail("a proven value is nested deeper than 32 levels");
  if (Array.isArray(v)) for (const x of v) contractValue(x, depth + 1);
  else if (v instanceof MsgMap) for (const [, x] of v.entries) contractValue(x, depth + 1);
  return v;
}

// The readable JSON form of a contract value (bytes as hex, map keys as strings). Every
// key is an own property of the object, whatever its name (also "__proto__").
function readable(v) {
  if (v instanceof Uint8Array) return hex(v);
  if (typeof v === "bigint") fail("a proven integer is too large for the browser verifier");
  if (Array.isArray(v)) return v.map(readable);
  if (v instanceof MsgMap) {
    const out = {};
    for (const [k, x] of v.entries) {
      Object.defineProperty(out, String(readable(k)), {
        value: readable(x), enumerable: true, writable: true, configurable: true,
      });
    }
    return out;
  }
  return v;
}

function addressOf(scheme, publicKey) {
  return hex(hashDomain("tianfu/address/v1", new Uint8Array([scheme]), publicKey).slice(0, 20));
}

function sameJson(a, b) {
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") {
    return a === b;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
}

// -- proof documents ----------------------------------------------------------------------
function loadDocument(docText, genesis, kind) {
  if (genesis.validators.some((v) => !SUITES[genesis.suite].schemes.has(v.scheme))) {
    fail("the genesis has validator keys of a scheme its crypto suite does not accept");
  }
  const doc = parseDocumentJson(docText);
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) fail("the document is not a JSON object");
  if (doc.format !== "tianfu-proof/v1") fail("not a proof document (format is not tianfu-proof/v1)");
  if (doc.kind !== kind) fail("the document proves a %(given)s, not a %(kind)s", { given: String(doc.kind), kind });
  if (doc.genesis_hash !== hex(genesis.hash)) {
    fail("the document was issued for another genesis than the one given");
  }
  return doc;
}

// The one proven block of a document's bundle: the validator chain followed from the
// genesis set, the block checked against the set of its height, its proven transactions
// and its proven (present) state entries.
const MAX_LINKS = 4096; // the bundle format's bounds (docs/spec/proofs.md)
const MAX_ITEMS = 1024;
const MAX_STATE_KEY = 4096;

function provenBlock(doc, genesis, nowMs) {
  const bundle = decode(fromHex(doc.raw));
  if (!Array.isArray(bundle) || bundle.length !== 3 || bundle[0] !== 1) fail("malformed proof bundle");
  const [, links, blocks] = bundle;
  if (!Array.isArray(links) || !Array.isArray(blocks) || links.length > MAX_LINKS) fail("malformed proof bundle");
  if (blocks.length !== 1 || !Array.isArray(blocks[0]) || blocks[0].length !== 3) {
    fail("the proof must hold exactly one block");
  }
  const prepared = links.map(prepareLink);
  const [light, txs, entries] = blocks[0];
  if (!Array.isArray(light) || light.length !== 3 || !(light[2] instanceof Uint8Array) || light[2].length) {
    fail("malformed proven block");
  }
  if (!Array.isArray(txs) || !Array.isArray(entries) || txs.length > MAX_ITEMS || entries.length > MAX_ITEMS) {
    fail("malformed proven block");
  }
  const head = header(light[0]);
  const cert = certificate(light[1]);
  const history = new TrustedHistory(genesis, nowMs);
  for (const link of prepared) history.apply(link);
  const signers = history.checkHeader(head, cert, history.setAt(head.height));
  const provenTxs = txs.map((inc) => {
    if (!Array.isArray(inc) || inc.length !== 5) fail("malformed transaction proof");
    const [index, txBytes, txPath, receiptBytes, receiptPath] = inc;
    if (!verifyMerkle(head.txRoot, txBytes, index, head.txCount, txPath)) {
      fail("the transaction is not at index %(index)s of block %(height)s", { index, height: head.height });
    }
    if (!verifyMerkle(head.receiptsRoot, receiptBytes, index, head.txCount, receiptPath)) {
      fail("the receipt is not at index %(index)s of block %(height)s", { index, height: head.height });
    }
    const { value: tx, spans } = decode(txBytes, true);
    if (!Array.isArray(tx) || tx.length !== 2 || !Array.isArray(tx[0]) || tx[0].length !== 10) {
      fail("malformed transaction");
    }
    const receipt = decode(receiptBytes);
    if (!Array.isArray(receipt) || receipt.length !== 5 || !(receipt[0] === 0 || receipt[0] === 1) ||
        !Array.isArray(receipt[4])) {
      fail("malformed receipt");
    }
    contractValue(tx[0][8]);
    contractValue(receipt[2]);
    for (const e of receipt[4]) {
      if (!Array.isArray(e) || e.length !== 3 || !(e[2] instanceof MsgMap)) fail("malformed receipt");
      contractValue(e[2]);
    }
    return { body: tx[0], hash: hashDomain("tianfu/tx/v1", spans.get(tx[0])), receipt };
  });
  const seen = new Set();
  const provenEntries = entries.map((ep) => {
    if (!Array.isArray(ep) || ep.length !== 3) fail("malformed state entry proof");
    const [key, valueBytes, proofBytes] = ep;
    if (!(key instanceof Uint8Array) || !key.length || key.length > MAX_STATE_KEY || seen.has(hex(key))) {
      fail("malformed state entry proof");
    }
    seen.add(hex(key));
    if (!(valueBytes instanceof Uint8Array)) {
      fail("the proof shows an absent entry: verify it with `tianfu verify-proof`");
    }
    const entry = stateEntry(head.stateRoot, key, proofBytes);
    if (!entry || !eq(entry.valueHash, hashDomain("tianfu/state/value/v1", valueBytes))) {
      fail("a state proof does not match the state of block %(height)s", { height: head.height });
    }
    const text = dec.decode(key);
    const slash = text.indexOf("/");
    const contract = text.slice(0, slash);
    if (slash < 1 || contract.length > 64 || !/^[a-z][a-z0-9_]*$/.test(contract)) {
      fail("a proven state key is not a contract's key");
    }
    return {
      contract, key: text.slice(slash + 1), value: readable(contractValue(decode(valueBytes))),
      changedAt: entry.height, previous: entry.prev,
    };
  });
  return { head, signers, txs: provenTxs, entries: provenEntries, changes: history.changes };
}

function commonFields(genesis, changes) {
  return {
    format: "tianfu-proof/v1",
    chain_id: genesis.chainId,
    genesis_hash: hex(genesis.hash),
    suite: genesis.suite,
    validator_changes: changes.map((c) => ({
      changed_in: c.changedIn,
      effective_from: c.effective,
      skipped_to: c.skipped,
      validators: c.set.validators.map((v) => ({
        name: v.name, org: v.org, power: v.power, scheme: v.scheme, public_key: hex(v.publicKey),
      })),
    })),
  };
}

// A "state" document (e.g. /v1/proofs/state/traceability/batch:CODE): the proven entries.
export function verifyStateDocument(docText, genesisBytes, nowMs) {
  const genesis = parseGenesis(genesisBytes);
  return inSuite(genesis.suite, () => stateDocument(docText, genesis, nowMs));
}

function stateDocument(docText, genesis, nowMs) {
  const doc = loadDocument(docText, genesis, "state");
  const b = provenBlock(doc, genesis, nowMs);
  if (b.txs.length || !b.entries.length) fail("a state proof holds state entries only");
  const expected = {
    ...commonFields(genesis, b.changes),
    kind: "state",
    height: b.head.height,
    block_hash: hex(b.head.hash),
    time_ms: b.head.timeMs,
    state_root: hex(b.head.stateRoot),
    entries: b.entries.map((e) => ({
      contract: e.contract, key: e.key, present: true, value: e.value,
      changed_at: e.changedAt, previous_change: e.previous,
    })),
    raw: doc.raw,
  };
  if (!sameJson(doc, expected)) fail("the document's readable part does not match the proof");
  return {
    height: b.head.height,
    timeMs: b.head.timeMs,
    blockHash: hex(b.head.hash),
    chainId: genesis.chainId,
    genesisHash: hex(genesis.hash),
    signers: b.signers.map((v) => `${v.name} (${v.org})`),
    entries: b.entries,
  };
}

// An evidence certificate (kind "evidence"), and the deposited file when given.
export function verifyCertificate(docText, genesisBytes, fileBytes, nowMs) {
  const genesis = parseGenesis(genesisBytes);
  return inSuite(genesis.suite, () => certificateDocument(docText, genesis, fileBytes, nowMs));
}

function certificateDocument(docText, genesis, fileBytes, nowMs) {
  const doc = loadDocument(docText, genesis, "evidence");
  const b = provenBlock(doc, genesis, nowMs);
  const head = b.head;
  if (b.txs.length !== 1 || b.entries.length !== 1) {
    fail("an evidence certificate proves one transaction and one record");
  }
  const { body, hash: txHash, receipt } = b.txs[0];
  const [, , scheme, signer, , , txContract, method, args] = body;
  const { contract, key: rkey, value: record } = b.entries[0];
  if (!rkey.startsWith("dep:")) fail("the state proof is not a deposit record");
  const depositId = rkey.slice(4);
  if (record === null || typeof record !== "object" || Array.isArray(record)) {
    fail("the proven deposit record is not a record");
  }
  const checks = [
    [txContract === contract && method === "deposit" && Array.isArray(args) && args.length > 0, N_("the proven transaction is not an evidence deposit")],
    [receipt[0] === 0 && receipt[2] === depositId, N_("the deposit transaction failed")],
    [record.id === depositId, N_("the proven record is another deposit")],
    [record.tx === hex(txHash), N_("the record was not written by this transaction")],
    [args[0] === record.file_hash, N_("the transaction deposits another hash")],
    [record.height === head.height, N_("the record's height is not the block's")],
    [record.time_ms === head.timeMs, N_("the record's time is not the block's")],
    [record.depositor === addressOf(scheme, signer), N_("the transaction's signer is not the depositor")],
    [["file_hash", "title", "org"].every((f) => typeof record[f] === "string"), N_("the record lacks its file hash, title or organisation")],
  ];
  for (const [ok, why] of checks) if (!ok) fail(why);

  // the readable fields must be exactly what was proven
  const expected = {
    ...commonFields(genesis, b.changes),
    kind: "evidence",
    contract,
    deposit_id: depositId,
    file_sha256: record.file_hash,
    title: record.title,
    depositor: record.depositor,
    org: record.org,
    height: head.height,
    time_ms: head.timeMs,
    block_hash: hex(head.hash),
    tx_hash: hex(txHash),
    deposit: record,
    raw: doc.raw,
  };
  if (!sameJson(doc, expected)) fail("the certificate's readable part does not match the proof");

  let file = null;
  if (fileBytes) {
    file = sha256Hex(fileBytes) === record.file_hash;
  }
  return {
    depositId,
    title: record.title,
    fileHash: record.file_hash,
    depositor: record.depositor,
    depositorName: record.name ?? "",
    org: record.org,
    height: head.height,
    timeMs: head.timeMs,
    blockHash: hex(head.hash),
    chainId: genesis.chainId,
    genesisHash: hex(genesis.hash),
    signers: b.signers.map((v) => `${v.name} (${v.org})`),
    file, // null: no file given; true / false: the file's hash matches or not
  };
}

// The genesis bytes of a file the user gives: genesis.bin, or the JSON of /v1/genesis
// (its `raw` field).
export function genesisBytesOf(bytes) {
  if (bytes.length && bytes[0] === 0x7b) {
    let j;
    try {
      j = JSON.parse(dec.decode(bytes));
    } catch (e) {
      fail("the genesis file is neither genesis.bin nor the JSON of /v1/genesis");
    }
    if (!j || typeof j.raw !== "string") fail("the genesis JSON has no raw field");
    return fromHex(j.raw);
  }
  return bytes;
}
