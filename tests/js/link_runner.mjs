// Runs the console verifier's `prepareLink` (src/tianfu/web/static/js/valchain.js) under
// Node over validator-chain links given on stdin as JSON [{link_hex, suite}], printing
// [{ok, reason}] (tests/unit/test_console_verify_valsets.py).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const js = path.join(here, "../../src/tianfu/web/static/js");
const proof = await import(path.join(js, "proof.js"));
const { prepareLink } = await import(path.join(js, "valchain.js"));
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  try {
    proof.inSuite(c.suite, () => prepareLink(proof.decode(Uint8Array.from(Buffer.from(c.link_hex, "hex")))));
    return { ok: true, reason: "" };
  } catch (e) {
    return { ok: false, reason: String(e.message || e) };
  }
});
process.stdout.write(JSON.stringify(out));
