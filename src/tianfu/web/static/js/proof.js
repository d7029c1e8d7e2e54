// In-browser verifier of Tianfu proof documents (tianfu-proof/v1): evidence certificates
// (kind "evidence"), state proofs (kind "state", the trace page's batch record) and
// transaction proofs (kind "tx", the transaction page's mark).
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
// The bytes and msgpack (wire.js) and the chain's cryptography and objects (chain.js) are
// re-exported from here for the console's other scripts.
//
// Pure module: no DOM, no network; also runs under Node for the project's tests.

import {
  MsgMap, VerifyError, concat, decode, encBin, encStr, encUint, eq, fail, fillMessage, fromHex, hex,
  part,
} from "./wire.js";
import {
  SUITES, certificate, checkCommit, hashDomain, header, inSuite, provenEntry, sha256Hex, stateEntry,
  transactionBody, verifyMerkle,
} from "./chain.js";
import { TrustedHistory, prepareLink } from "./valchain.js";
import { documentText, parseDocumentJson } from "./strictjson.js";
import { parseGenesis } from "./genesis.js";

export { documentText, parseGenesis };
export {
  MsgMap, VerifyError, concat, decode, encBin, encStr, encUint, eq, fail, fillMessage, fromHex, hex,
};
export {
  SUITES, certificate, checkCommit, hashDomain, header, inSuite, provenEntry, sha256Hex, stateEntry,
};

const N_ = (msgid) => msgid;
const dec = new TextDecoder("utf-8", { fatal: true });

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
// Integers are exact: a Number within 2^53, a BigInt beyond (as the document's JSON is read).
function readable(v) {
  if (v instanceof Uint8Array) return hex(v);
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

// crypto.md#addresses: u8(scheme) ‖ key, for the schemes a suite accepts (1, 2, 3) only; a
// byte array would wrap any other (257 to 1), so it is refused, never wrapped.
export function addressOf(scheme, publicKey) {
  if (![1, 2, 3].includes(scheme)) fail("a proven transaction's scheme is not one the chain's suite accepts");
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
// The document's JSON, read exactly: an integer beyond 2^53 (a nonce, a validator's power,
// a proven value: encoding.md allows -2^63 … 2^64 - 1) is a BigInt, as the msgpack decoder
// gives it, so the readable part compares exactly with the proven data.
function loadDocument(docText, genesis, kind) {
  if (genesis.validators.some((v) => !SUITES[genesis.suite].schemes.has(v.scheme))) {
    fail("the genesis has validator keys of a scheme its crypto suite does not accept");
  }
  const doc = parseDocumentJson(docText, true);
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) fail("the document is not a JSON object");
  if (doc.format !== "tianfu-proof/v1") fail("not a proof document (format is not tianfu-proof/v1)");
  if (doc.kind === "tx" && kind !== "tx") {
    fail("this is the proof of a transaction: its page in this console verifies it (search for the transaction's hash)");
  }
  if (doc.kind !== kind) fail("the document proves a %(given)s, not a %(kind)s", { given: String(doc.kind), kind });
  if (doc.genesis_hash !== hex(genesis.hash)) {
    fail("the document was issued for another genesis than the one given");
  }
  return doc;
}

// The one proven block of a document's bundle: the validator chain followed from the
// genesis set, the block checked against the set of its height, its proven transactions
// and its proven (present) state entries.
const MAX_BUNDLE_BYTES = 16 << 20; // the bundle format's bounds (docs/spec/proofs.md)
const MAX_LINKS = 4096;
const MAX_ITEMS = 1024;
const MAX_STATE_KEY = 4096;
const MAX_TX_INDEX = 2 ** 31 - 1;

function provenBlock(doc, genesis, nowMs) {
  const raw = fromHex(doc.raw);
  if (raw.length > MAX_BUNDLE_BYTES) fail("the proof bundle is larger than 16 MiB");
  const bundle = decode(raw);
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
  light.forEach(part);
  for (const item of [...txs, ...entries]) if (Array.isArray(item)) item.forEach(part);
  const head = header(light[0]);
  const cert = certificate(light[1]);
  const history = new TrustedHistory(genesis, nowMs);
  for (const link of prepared) history.apply(link);
  const signers = history.checkHeader(head, cert, history.setAt(head.height));
  const provenTxs = txs.map((inc) => {
    if (!Array.isArray(inc) || inc.length !== 5) fail("malformed transaction proof");
    const [index, txBytes, txPath, receiptBytes, receiptPath] = inc;
    // proofs.md#bundle: an index is in 0 … 2^31 − 1 (`TxInclusion`), whatever the tx_count
    if (!(Number.isInteger(index) && index >= 0 && index <= MAX_TX_INDEX)) fail("malformed transaction proof");
    if (!verifyMerkle(head.txRoot, txBytes, index, head.txCount, txPath)) {
      fail("the transaction is not at index %(index)s of block %(height)s", { index, height: head.height });
    }
    if (!verifyMerkle(head.receiptsRoot, receiptBytes, index, head.txCount, receiptPath)) {
      fail("the receipt is not at index %(index)s of block %(height)s", { index, height: head.height });
    }
    const { value: tx, spans } = decode(txBytes, true);
    transactionBody(tx);
    // transactions.md: [status 0 | 1, gas_used int, result value, error str, events
    // [[contract str, name str, data map]]], as the SDK's Receipt decodes it.
    const receipt = decode(receiptBytes);
    if (!Array.isArray(receipt) || receipt.length !== 5 || !(receipt[0] === 0 || receipt[0] === 1) ||
        !(Number.isInteger(receipt[1]) || typeof receipt[1] === "bigint") ||
        typeof receipt[3] !== "string" || !Array.isArray(receipt[4])) {
      fail("malformed receipt");
    }
    contractValue(tx[0][8]);
    contractValue(receipt[2]);
    for (const e of receipt[4]) {
      if (!Array.isArray(e) || e.length !== 3 || typeof e[0] !== "string" || typeof e[1] !== "string" ||
          !(e[2] instanceof MsgMap)) {
        fail("malformed receipt");
      }
      contractValue(e[2]);
    }
    return { index, body: tx[0], hash: hashDomain("tianfu/tx/v1", spans.get(tx[0])), receipt };
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
    if (entry.height > head.height) {
      fail("a state entry of block %(height)s claims a later change", { height: head.height });
    }
    const text = dec.decode(key);
    const slash = text.indexOf("/");
    const contract = text.slice(0, slash);
    if (slash < 1 || contract.length > 64 || !/^[a-z][a-z0-9_]*$/.test(contract)) {
      fail("a proven state key is not a contract's key");
    }
    const value = contractValue(decode(valueBytes));
    return {
      contract, key: text.slice(slash + 1), value: readable(value), decoded: value,
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

// A transaction's proof (kind "tx", /v1/txs/HASH/proof), for the transaction page: the
// transaction and its receipt are at one index of a block certified by the validators of
// its height (followed from the genesis set), and the document's readable fields are
// exactly the proven transaction and receipt. Its nonce and expiry are read exactly (a
// nonce is often beyond what a JavaScript number holds: BigInt then).
export function verifyTxProof(docText, genesisBytes, nowMs) {
  const genesis = parseGenesis(genesisBytes);
  return inSuite(genesis.suite, () => txProof(docText, genesis, nowMs));
}

function txProof(docText, genesis, nowMs) {
  const doc = loadDocument(docText, genesis, "tx");
  const b = provenBlock(doc, genesis, nowMs);
  if (b.txs.length !== 1 || b.entries.length) fail("a transaction proof holds exactly one transaction");
  const { index, body, hash, receipt } = b.txs[0];
  const expected = {
    ...commonFields(genesis, b.changes),
    kind: "tx",
    height: b.head.height,
    block_hash: hex(b.head.hash),
    time_ms: b.head.timeMs,
    state_root: hex(b.head.stateRoot),
    index,
    tx: {
      hash: hex(hash),
      chain_id: body[1],
      scheme: body[2],
      signer: body[3] instanceof Uint8Array ? hex(body[3]) : body[3],
      nonce: body[4],
      expiry: body[5],
      contract: body[6],
      method: body[7],
      args: readable(body[8]),
      has_cert: body[9] instanceof Uint8Array && body[9].length > 0,
    },
    receipt: {
      ok: receipt[0] === 0,
      gas_used: receipt[1],
      result: readable(receipt[2]),
      error: receipt[3],
      events: receipt[4].map((e) => ({ contract: e[0], name: e[1], data: readable(e[2]) })),
    },
    raw: doc.raw,
  };
  if (!sameJson(doc, expected)) fail("the document's readable part does not match the proof");
  return {
    txHash: hex(hash),
    index,
    ok: receipt[0] === 0,
    contract: body[6],
    method: body[7],
    height: b.head.height,
    timeMs: b.head.timeMs,
    blockHash: hex(b.head.hash),
    chainId: genesis.chainId,
    genesisHash: hex(genesis.hash),
    signers: b.signers.map((v) => `${v.name} (${v.org})`),
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
  const { contract, key: rkey, value: record, decoded } = b.entries[0];
  if (!rkey.startsWith("dep:")) fail("the state proof is not a deposit record");
  const depositId = rkey.slice(4);
  if (!(decoded instanceof MsgMap)) fail("the proven deposit record is not a record");
  // The record's fields as decoded, not as rendered: a byte string renders as the hex text
  // it is not (documents.md compares the values: R["tx"] = hex(tx_id) is a text).
  const field = new Map(decoded.entries);
  const text = (name) => (typeof field.get(name) === "string" ? field.get(name) : undefined);
  const checks = [
    [txContract === contract && method === "deposit" && Array.isArray(args) && args.length > 0, N_("the proven transaction is not an evidence deposit")],
    [receipt[0] === 0 && receipt[2] === depositId, N_("the deposit transaction failed")],
    [text("id") === depositId, N_("the proven record is another deposit")],
    [text("tx") === hex(txHash), N_("the record was not written by this transaction")],
    [typeof args[0] === "string" && args[0] === text("file_hash"), N_("the transaction deposits another hash")],
    [field.get("height") === head.height, N_("the record's height is not the block's")],
    [field.get("time_ms") === head.timeMs, N_("the record's time is not the block's")],
    [text("depositor") === addressOf(scheme, signer), N_("the transaction's signer is not the depositor")],
    [["file_hash", "title", "org"].every((f) => text(f) !== undefined), N_("the record lacks its file hash, title or organisation")],
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
