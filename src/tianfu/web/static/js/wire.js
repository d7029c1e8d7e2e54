// Bytes, the canonical msgpack the chain writes, and the refusals (`VerifyError`) of the
// console's in-browser verifier (proof.js, which re-exports what other modules use).
//
// Pure module: no DOM, no network; also runs under Node for the project's tests.

// A refusal: `msgid` is a message of the console's catalogue (extracted from the console's
// scripts: the calls of `fail` and `N_`), with %(name)s placeholders filled from `params`.
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

export function u64(n) {
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
  else head = [0xdb, ...u32(n)]; // a genesis bounds no name: any text of a 1 MiB part
  return concat(new Uint8Array(head), b);
}

// Each part of a proof bundle held as bytes (a header, a certificate, a set, a proof, a
// transaction, a receipt, a proven value) has at most 1 MiB (docs/spec/proofs.md#bundle).
export const MAX_PART_BYTES = 1 << 20;

export function part(bytes) {
  if (bytes instanceof Uint8Array && bytes.length > MAX_PART_BYTES) {
    fail("a part of the proof bundle is larger than 1 MiB");
  }
  return bytes;
}

// The 4 bytes of a length, big-endian (the `dbx` / `ddx` heads of canonical msgpack).
export function u32(n) {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

// The head of an array of n items: fixarray, array 16 or array 32 (encoding.md).
export function arrayHead(n) {
  if (n <= 15) return new Uint8Array([0x90 | n]);
  if (n <= 0xffff) return new Uint8Array([0xdc, n >> 8, n & 0xff]);
  return new Uint8Array([0xdd, ...u32(n)]);
}

export function encBin(b) {
  if (b.length > 0xff) fail("bytes too long");
  return concat(new Uint8Array([0xc4, b.length]), b);
}
