// Runs the console's /verify page script (src/tianfu/web/static/js/verify.js) under Node
// with a minimal stand-in for its DOM: the certificate, genesis and expected genesis hash
// given on stdin as JSON {cert, genesis_hex, expected}; prints the verdict the page shows,
// {verdict, reason} (tests/unit/test_console_verify_page.py).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const input = JSON.parse(readFileSync(0, "utf8"));

const file = (bytes) => ({
  files: bytes ? [{ name: "f", size: bytes.length, arrayBuffer: async () => bytes.buffer }] : [],
});
const element = (extra = {}) => ({
  hidden: true, textContent: "", dataset: {}, value: "",
  classList: { toggle() {} }, replaceChildren() {}, append() {}, ...extra,
});
let submit = null;
const elements = {
  messages: element({ dataset: { catalogue: "{}", ok: "verified", bad: "rejected" } }),
  verdict: element(), "verdict-title": element(), "verdict-reason": element(),
  "verdict-fields": element(),
  "verify-form": element({ addEventListener: (_, f) => { submit = f; } }),
  "cert-file": file(new TextEncoder().encode(input.cert)),
  "genesis-file": file(Uint8Array.from(Buffer.from(input.genesis_hex, "hex"))),
  "data-file": file(null),
  "genesis-hash": element({ value: input.expected }),
};
globalThis.document = {
  getElementById: (id) => elements[id],
  createElement: () => element(),
  documentElement: { lang: "en" },
};
await import(path.join(here, "../../src/tianfu/web/static/js/verify.js"));
await submit({ preventDefault() {} });
const box = elements.verdict;
for (let i = 0; i < 100 && box.hidden; i++) await new Promise((r) => setTimeout(r, 10));
process.stdout.write(JSON.stringify({
  verdict: box.dataset.verdict ?? null, reason: elements["verdict-reason"].textContent,
}));
