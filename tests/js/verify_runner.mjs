// Runs the console's in-browser verifier (src/tianfu/web/static/js/proof.js) under Node
// over the cases given on stdin as JSON [{cert, genesis_hex, file_hex, kind?, now_ms?,
// cert_hex?}] (cert_hex: the document as the bytes of a file, read as the /verify page
// reads one), printing [{ok, reason, file, result}] (tests/unit/test_console_verify.py).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const proof = await import(path.join(here, "../../src/tianfu/web/static/js/proof.js"));
const fromHex = (h) => Uint8Array.from(Buffer.from(h, "hex"));
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => {
  try {
    const genesis = proof.genesisBytesOf(fromHex(c.genesis_hex));
    const file = c.file_hex === null ? null : fromHex(c.file_hex);
    const now = c.now_ms ?? undefined; // undefined: the current time
    const cert = c.cert_hex == null ? c.cert : proof.documentText(fromHex(c.cert_hex));
    const r =
      c.kind === "state"
        ? proof.verifyStateDocument(cert, genesis, now)
        : c.kind === "tx"
          ? proof.verifyTxProof(cert, genesis, now)
          : proof.verifyCertificate(cert, genesis, file, now);
    return { ok: true, reason: "", file: r.file ?? null, result: r };
  } catch (e) {
    return { ok: false, reason: String(e.message || e), file: null, result: null };
  }
});
// A proven integer beyond 2^53 is a BigInt in a result: written as its decimal text.
process.stdout.write(JSON.stringify(out, (_, v) => (typeof v === "bigint" ? String(v) : v)));
