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
  const bad = () => fail("not a genesis file (genesis.bin)");
  if (bytes.length > MIB) bad(); // a chain object: at most 1 MiB (encoding.md#strict-decoding)
  const g = decode(bytes);
  if (!Array.isArray(g) || (g.length !== 8 && g.length !== 9)) bad();
  const [version, chainId, timeMs, orgs, validators, params, policies, suite] = g;
  if ((version !== 1 && version !== 2) || typeof chainId !== "string" || !(Number.isInteger(timeMs) || typeof timeMs === "bigint")) bad();
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
  if (g.length === 9) checkOpenProfile(g[8]);
  const hash = inSuite(suite, () => hashDomain("tianfu/genesis/v1", bytes));
  return {
    chainId, timeMs, suite, validators: set, profile: g.length === 9 ? "open" : "consortium",
    hash,
    // what the chain's votes sign besides the chain id: the genesis hash from version 2
    voteDomain: { chainId, genesisHash: version === 2 ? hash : null },
  };
}

// The ninth field of an open chain's genesis (docs/spec/blocks.md#the-open-profile):
// OpenProfile = [open_contracts, pow_bits, quota_gas, quota_replenish, unbonding_blocks,
// slash_fraction_bps, stake] and, made since the proof of possession's height existed, an
// eighth, possession_height; each checked as the specification says.
const OPEN_CONTRACT = /^[a-z][a-z0-9_]{0,63}$/;
const ADDRESS = /^[0-9a-f]{40}$/;
const OPEN_INTS = [[0n, 40n], [10000n, 10n ** 12n], [0n, 10n ** 12n], [1n, 10000000n], [0n, 10000n]];
const isInt = (n) => Number.isInteger(n) || typeof n === "bigint";

function checkOpenProfile(p) {
  const bad = () => fail("the genesis's open profile breaks a rule of the specification");
  if (!Array.isArray(p) || (p.length !== 7 && p.length !== 8)) bad();
  if (!Array.isArray(p[0]) || !Array.isArray(p[6])) bad();
  if (p.length === 8 && (!isInt(p[7]) || BigInt(p[7]) < 0n || BigInt(p[7]) > 10n ** 12n)) bad();
  if (p[0].some((n) => typeof n !== "string" || !OPEN_CONTRACT.test(n))) bad();
  const contracts = new Set(p[0]);
  if (contracts.size > 64 || contracts.has("governance")) bad();
  OPEN_INTS.forEach(([lo, hi], i) => {
    const x = p[1 + i];
    if (!isInt(x) || BigInt(x) < lo || BigInt(x) > hi) bad();
  });
  const addresses = p[6].map((grant) => {
    if (!Array.isArray(grant) || grant.length !== 2) bad();
    const [address, amount] = grant;
    if (typeof address !== "string" || !ADDRESS.test(address)) bad();
    if (!isInt(amount) || BigInt(amount) < 1n || BigInt(amount) > 10n ** 15n) bad();
    return address;
  });
  if (new Set(addresses).size !== addresses.length) bad();
}
