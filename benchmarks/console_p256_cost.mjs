// What the console's P-256 key table saves (docs/console.md): one P-256 key verifying
// N signatures, noble-curves' p256.verify (what chain.js called before: the key decoded and
// [u2]Q multiplied without a table every time) against chain.js's verifySignature (the kept
// point, its window-4 table from the second use), best of three alternated rounds. Ratios
// within one run only (a shared machine):
//
//     node benchmarks/console_p256_cost.mjs
import path from "node:path";
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const chain = await import(path.join(root, "src/tianfu/web/static/js/chain.js"));
const { p256 } = await import(path.join(root, "src/tianfu/web/static/vendor/noble-curves/nist.js"));
const { sha256 } = await import(path.join(root, "src/tianfu/web/static/vendor/noble-hashes/sha2.js"));
const N = 200;
const sk = p256.utils.randomSecretKey ? p256.utils.randomSecretKey() : p256.utils.randomPrivateKey();
const pk = p256.getPublicKey(sk, true);
const msgs = [], sigs = [];
for (let i = 0; i < N; i++) {
  const m = sha256(new Uint8Array([i, i >> 8]));
  msgs.push(m);
  const sg = p256.sign(m, sk, { prehash: true, lowS: true, format: "compact" }); sigs.push(sg instanceof Uint8Array ? sg : sg.toBytes("compact"));
}
const v = { scheme: 2, publicKey: pk };
const runOld = () => { let ok = 0; for (let i = 0; i < N; i++) ok += p256.verify(sigs[i], msgs[i], pk, { prehash: true, lowS: true, format: "compact" }); return ok; };
const runNew = () => { let ok = 0; for (let i = 0; i < N; i++) ok += chain.inSuite("standard", () => chain.verifySignature(v, msgs[i], sigs[i])); return ok; };
let bestOld = Infinity, bestNew = Infinity;
for (let round = 0; round < 3; round++) {
  let t = performance.now(); if (runOld() !== N) throw new Error("old"); bestOld = Math.min(bestOld, performance.now() - t);
  t = performance.now(); if (runNew() !== N) throw new Error("new"); bestNew = Math.min(bestNew, performance.now() - t);
}
console.log(JSON.stringify({ signatures: N, old_ms_per_sig: (bestOld / N).toFixed(3), new_ms_per_sig: (bestNew / N).toFixed(3), ratio: (bestOld / bestNew).toFixed(2) }));
