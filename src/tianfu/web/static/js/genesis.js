// The trusted genesis of the in-browser verifier: genesis.bin decoded strictly and checked
// against every rule of docs/spec/blocks.md#genesis before anything is verified with it.
//
// Pure module: no DOM, no network (imported by proof.js; runs under Node in the tests).

import { decode, fail, hashDomain, hex, inSuite, SUITES } from "./proof.js";

// The genesis rules of docs/spec/blocks.md#genesis: its shape and types, a known suite, at
// least one organisation and one validator, distinct organisation names, validator names
// and keys, every validator of a listed organisation with power >= 1 and a scheme of the
// suite, and the block budgets. A genesis breaking any of them is refused.
const MIB = 1 << 20;
const isU64 = (n) => (Number.isInteger(n) && n >= 0) || (typeof n === "bigint" && n >= 0n);

export function parseGenesis(bytes) {
  const g = decode(bytes);
  const bad = () => fail("not a genesis file (genesis.bin)");
  if (!Array.isArray(g) || g.length !== 8) bad();
  const [version, chainId, timeMs, orgs, validators, params, policies, suite] = g;
  if (version !== 1 || typeof chainId !== "string" || !(Number.isInteger(timeMs) || typeof timeMs === "bigint")) bad();
  if (typeof suite !== "string" || !Object.hasOwn(SUITES, suite)) {
    fail("the genesis uses the %(suite)s crypto suite, which this page does not verify", { suite: String(suite) });
  }
  if (!Array.isArray(orgs) || !orgs.length || !Array.isArray(validators) || !validators.length) bad();
  const orgNames = orgs.map((o) => {
    if (!Array.isArray(o) || o.length !== 2 || typeof o[0] !== "string" || !(o[1] instanceof Uint8Array)) bad();
    return o[0];
  });
  if (!Array.isArray(params) || params.length !== 15) bad();
  params.forEach((x, i) => {
    if (i === 12 ? typeof x !== "boolean" : !(Number.isInteger(x) || typeof x === "bigint")) bad();
  });
  if (BigInt(params[13]) < BigInt(params[8]) || BigInt(params[14]) < BigInt(MIB)) bad();
  if (!Array.isArray(policies) || policies.length !== 2 || policies.some((x) => typeof x !== "string")) bad();
  const set = validators.map((v) => {
    if (!Array.isArray(v) || v.length !== 5) fail("malformed genesis validator");
    const [name, org, scheme, publicKey, power] = v;
    const ok = typeof name === "string" && typeof org === "string" && Number.isInteger(scheme) &&
      publicKey instanceof Uint8Array && publicKey.length <= 65 && isU64(power) && power >= 1;
    if (!ok) fail("malformed genesis validator");
    return { name, org, scheme, publicKey, power };
  });
  const distinct = (xs) => new Set(xs).size === xs.length;
  if (!distinct(orgNames) || !distinct(set.map((v) => v.name)) || !distinct(set.map((v) => hex(v.publicKey)))) {
    fail("the genesis repeats an organisation, a validator name or a validator key");
  }
  if (set.some((v) => !orgNames.includes(v.org) || !SUITES[suite].schemes.has(v.scheme))) {
    fail("a genesis validator is of an unlisted organisation or of a scheme its suite does not accept");
  }
  return {
    chainId, timeMs, suite, validators: set,
    hash: inSuite(suite, () => hashDomain("tianfu/genesis/v1", bytes)),
  };
}
