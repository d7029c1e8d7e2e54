// Runs the console verifier's signature check (src/tianfu/web/static/js/chain.js) under
// Node over the cases given on stdin as JSON [{suite, scheme, public_key, message,
// signature}] (hex), printing [true | false] (tests/property/test_verifiers_agree.py).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const chain = await import(path.join(here, "../../src/tianfu/web/static/js/chain.js"));
const fromHex = (h) => Uint8Array.from(Buffer.from(h, "hex"));
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((c) => chain.inSuite(c.suite, () => chain.verifySignature(
  { scheme: c.scheme, publicKey: fromHex(c.public_key) }, fromHex(c.message), fromHex(c.signature),
)));
process.stdout.write(JSON.stringify(out));
