// Runs the console's TrustedHistory.learn (src/tianfu/web/static/js/valchain.js) under Node
// over the sequences given on stdin as JSON [[[lo, hi, set], …], …] (set: 0 … 3; 3 is a
// second object of set 0's members), printing for each the intervals it ends with as
// [[lo, hi, set], …] (set: the index of the first of sets 0 … 2 of its hash), or
// {error} when a step refused, or when exactSet disagrees with a scan of them
// (tests/property/test_trusted_history_model.py).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const { TrustedHistory, makeSet } = await import(path.join(here, "../../src/tianfu/web/static/js/valchain.js"));
const { eq } = await import(path.join(here, "../../src/tianfu/web/static/js/wire.js"));
const member = (i) => ({ name: `v${i}`, org: "o", scheme: 1, publicKey: new Uint8Array(32).fill(i + 1), power: 1 });
const sets = [[0], [1], [0, 1]].map((ids) => makeSet(ids.map(member)));
sets.push(makeSet([member(0)])); // equal to set 0 by hash, another object
const index = (s) => sets.findIndex((x) => eq(x.hash, s.hash));
const out = JSON.parse(readFileSync(0, "utf8")).map((steps) => {
  const h = Object.create(TrustedHistory.prototype);
  h.known = [];
  try {
    for (const [lo, hi, s] of steps) h.learn(lo, hi, sets[s]);
  } catch (e) {
    return { error: String(e.message || e) };
  }
  const known = h.known.map((k) => [k.lo, k.hi, index(k.set)]);
  for (let height = 0; height < 42; height++) { // exactSet's binary search against a scan
    const found = h.exactSet(height);
    const want = known.find(([a, b]) => a <= height && height <= b);
    if ((found === null ? null : index(found)) !== (want ? want[2] : null)) {
      return { error: `exactSet(${height})` };
    }
  }
  return known;
});
process.stdout.write(JSON.stringify(out));
