// Runs the console verifier's `parseGenesis` (src/tianfu/web/static/js/proof.js) under Node
// over genesis files given on stdin as JSON [genesis_hex], printing [{ok, reason, hash}]
// (tests/property/test_verifiers_agree.py).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const proof = await import(path.join(here, "../../src/tianfu/web/static/js/proof.js"));
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((h) => {
  try {
    const g = proof.parseGenesis(Uint8Array.from(Buffer.from(h, "hex")));
    return { ok: true, reason: "", hash: proof.hex(g.hash) };
  } catch (e) {
    return { ok: false, reason: String(e.message || e), hash: null };
  }
});
process.stdout.write(JSON.stringify(out));
