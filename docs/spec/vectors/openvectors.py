"""The open profile's vectors (`open.json`, blocks.md#the-open-profile), made by generate.py.

Per suite: an open chain's genesis, its hash and the genesis-state entries the open profile
adds or changes; geneses at the edges of every rule of the ninth field (valid) and beyond
them (invalid). Documents of an open `SpecChain` whose validator set changes by stake: a
validator by stake (organisation "") bonds into the set, a second displaces it at
`max_validators`, unbonds part of its stake, is slashed and jailed — with sequential and
skipping chains, histories back to the genesis state, and changed copies that MUST be
rejected.
"""

from __future__ import annotations

from typing import Any

import msgspec
from chain import T0, Signer, SpecChain

from tianfu.codec import encode
from tianfu.contracts import governance
from tianfu.contracts.reviewed_admission import validator_record
from tianfu.crypto import ED25519, SM2, chain_suite
from tianfu.execution.contract_api import address_of, state_key
from tianfu.proofs.build import SKIPPING, ProofBuilder
from tianfu.proofs.documents import make_document
from tianfu.proofs.valchain import VALIDATORS_KEY, TrustOptions
from tianfu.types import ConsensusParams, OpenProfileV1, StakeGrant, Validator

NOW_MS = T0 + 3_600_000
MAX_VALIDATORS = 5  # the four member validators and one validator by stake


def hx(b: bytes) -> str:
    return b.hex()


def _chain(suite: str) -> tuple[SpecChain, dict[str, Signer]]:
    scheme = ED25519 if suite == "standard" else SM2
    nodes = [Signer.make(f"open-{suite}/node{i + 1}", scheme) for i in range(4)]
    people = {n: Signer.make(f"open-{suite}/{n}", scheme) for n in ("s1", "s2", "s1-v", "s2-v")}
    grants = [StakeGrant(address_of(scheme, people[n].public_key), 1000) for n in ("s1", "s2")]
    profile = OpenProfileV1(open_contracts=["notes", "kv", "notes"], pow_bits=12,
                          quota_gas=1_000_000, quota_replenish=10_000, unbonding_blocks=5,
                          slash_fraction_bps=2500, stake=grants)  # fmt: skip
    chain = SpecChain(f"open-{suite}", suite, [(s, f"org{i + 1}", 10) for i, s in enumerate(nodes)],
                      ConsensusParams(max_validators=MAX_VALIDATORS), profile)  # fmt: skip
    for n in ("s1-v", "s2-v"):
        chain.add_signer(people[n])
    return chain, people


def _stake_history(chain: SpecChain, people: dict[str, Signer]) -> None:
    """Blocks 1 … 8: the state writes the staking contract makes (ADR 0025 §4)."""
    g = chain.genesis
    members = list(g.validators)
    gov = governance.NAME

    def addr(n: str) -> str:
        return address_of(people[n].scheme, people[n].public_key)

    def staked(n: str, power: int) -> Validator:
        return Validator(n, "", people[n].scheme, people[n].public_key, power)

    def bond(n: str, owner: str, amount: int, jailed: bool = False) -> dict[str, Any]:
        return {"name": n, "owner": addr(owner), "scheme": people[n].scheme,
                "public_key": people[n].public_key, "amount": amount, "jailed": jailed}  # fmt: skip

    def sets(vals: list[Validator], height: int) -> dict[bytes, bytes]:
        records = [validator_record(v) for v in sorted(vals, key=lambda v: v.name)]
        return {VALIDATORS_KEY: encode(records),
                state_key(gov, f"valset/{height + 2}"): encode(records)}  # fmt: skip

    heights = [1]

    def change(vals: list[Validator], writes: dict[str, Any]) -> None:
        h = chain.height() + 1
        heights.append(h + 2)
        w = {**sets(vals, h), state_key(gov, "valset_heights"): encode(list(heights))}
        w.update({state_key(gov, k): encode(v) for k, v in writes.items()})
        chain.commit([], w)

    chain.commit()  # 1
    change(
        [*members, staked("s1-v", 30)],  # 2: s1-v bonds 30 and enters the set
        {"stake/bond/s1-v": bond("s1-v", "s1", 30), f"stake/balance/{addr('s1')}": 970},
    )
    chain.commit()  # 3
    change(
        [*members, staked("s2-v", 40)],  # 4: s2-v bonds 40: the set is full, s1-v displaced
        {"stake/bond/s2-v": bond("s2-v", "s2", 40), f"stake/balance/{addr('s2')}": 960},
    )
    change(
        [*members, staked("s2-v", 25)],  # 5: s2-v unbonds 15
        {
            "stake/bond/s2-v": bond("s2-v", "s2", 25),
            f"stake/unbonding/{addr('s2')}": [
                {"amount": 15, "release": 10, "validator": "s2-v", "height": 5}
            ],
        },
    )
    change(
        members,  # 6: a double sign of s2-v proven: a quarter burnt, jailed, out of the set
        {"stake/bond/s2-v": bond("s2-v", "s2", 19, jailed=True), "stake/burnt": 6},
    )
    chain.commit()  # 7
    chain.commit()  # 8


def open_documents(suite: str, chain: SpecChain, people: dict[str, Signer]) -> list[dict[str, Any]]:
    b, g = ProofBuilder(chain), chain.genesis
    opts = TrustOptions(now_ms=NOW_MS)
    s1 = address_of(people["s1"].scheme, people["s1"].public_key)
    gov = governance.NAME
    bundles = {
        "validators after every change": ("validators", b.validators_bundle(8)),
        "validators after every change, skipping": ("validators", b.validators_bundle(8, SKIPPING)),
        "validators while s1-v is in the set": ("validators", b.validators_bundle(4)),
        "the set and bonds while full": ("state", b.state_bundle(
            [(gov, "validators"), (gov, "stake/bond/s1-v"), (gov, "stake/bond/s2-v")], 6)),
        "the profile, params and a genesis bond": ("state", b.state_bundle(
            [(gov, "profile"), (gov, "params"), (gov, "stake/bond/node1"),
             (gov, "valset_heights")], 8)),
        "history of stake/burnt to the genesis": ("history", b.history_bundle(gov, "stake/burnt", 8)),
        "history of a balance to the genesis": (
            "history", b.history_bundle(gov, f"stake/balance/{s1}", 8)),
        "history of the validators to the genesis": (
            "history", b.history_bundle(gov, "validators", 8)),
    }  # fmt: skip
    cases = [{"name": n, "suite": suite, "genesis": suite, "kind": k, "now_ms": NOW_MS,
              "valid": True, "document": make_document(k, bundle, g, opts)} for n, (k, bundle) in bundles.items()]  # fmt: skip
    cases += _tampered(cases)
    return cases


def _tampered(valid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Changes of the valid documents, one place each (documents.json's patches): every one
    MUST be rejected."""
    out = []

    def bad(base: dict[str, Any], what: str, patch: dict[str, Any]) -> None:
        out.append({"name": f"{base['name']}: {what}", "suite": base["suite"],
                    "base": base["name"], "valid": False, "patch": patch})  # fmt: skip

    by = {c["name"]: c for c in valid}
    other = {"standard": "sm2", "sm2": "standard"}
    for c in valid:
        d = c["document"]
        bad(c, "a byte of raw flipped", {"flip_raw_byte": len(d["raw"]) // 4})
        if c["kind"] == "history" and d["versions"][-1]["height"] == 0:
            at = ["versions", len(d["versions"]) - 1, "value"]
            bad(c, "the genesis version's value changed", {"set": [at, "changed"]})
    first = by["validators after every change"]
    changed = first["document"]["validator_changes"][1]["validators"]
    at = ["validator_changes", 1, "validators", len(changed) - 1, "power"]
    bad(first, "a staked validator's power changed", {"set": [at, changed[-1]["power"] + 1]})
    bad(first, "the open genesis of the other suite", {"genesis": other[first["suite"]]})
    profile = by["the profile, params and a genesis bond"]
    bad(profile, "the profile changed", {"set": [["entries", 0, "value"], "consortium"]})
    return out


# -- geneses ------------------------------------------------------------------------------------
def _variant(genesis: bytes, change: Any) -> str:
    g = msgspec.msgpack.decode(genesis)
    change(g)
    return hx(encode(g))


def _set(i: int, value: Any) -> Any:
    def f(g: list[Any]) -> None:
        g[8][i] = value

    return f


def _geneses(genesis: bytes, address: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(valid, invalid) geneses at and beyond each rule of `OpenProfile` (of seven fields)."""
    names64 = [f"c{i:02d}" for i in range(64)]

    def grants(*gs: Any) -> Any:
        return _set(6, [list(x) for x in gs])

    valid = [
        ("no open contract, no stake", lambda g: (_set(0, [])(g), _set(6, [])(g))),
        ("a contract name repeated (the state holds it once)", _set(0, ["kv", "kv", "a_1"])),
        ("64 distinct contract names", _set(0, names64)),
        ("a contract name of 64 characters", _set(0, ["a" * 64])),
        ("every integer at its lower bound",
         lambda g: [g[8].__setitem__(i + 1, lo) for i, lo in enumerate((0, 10_000, 0, 1, 0))]),
        ("every integer at its upper bound",
         lambda g: [g[8].__setitem__(i + 1, hi) for i, hi in
                    enumerate((40, 10**12, 10**12, 10_000_000, 10_000))]),
        ("a grant of 1 and one of 10^15", grants([address, 1], ["0" * 40, 10**15])),
        # Appended: the eighth setting, possession_height (blocks.md#the-open-profile).
        ("an open profile of eight fields, possession_height 0", lambda g: g[8].append(0)),
        ("possession_height 10^12", lambda g: g[8].append(10**12)),
    ]  # fmt: skip
    invalid = [
        ("ten fields", lambda g: g.append(0)),
        ("an open profile of six fields", lambda g: g[8].pop()),
        ("an open profile of eight fields", lambda g: g[8].append([])),
        ("open contracts not an array", _set(0, "kv")),
        ("a contract name with a capital", _set(0, ["Kv"])),
        ("a contract name starting with a digit", _set(0, ["1kv"])),
        ("a contract name of 65 characters", _set(0, ["a" * 65])),
        ("a contract name ending in a line feed", _set(0, ["kv\n"])),
        ("an empty contract name", _set(0, [""])),
        ("a contract name that is not text", _set(0, [b"kv"])),
        ("the governance contract open", _set(0, ["governance"])),
        ("65 distinct contract names", _set(0, [*names64, "c64"])),
        ("pow_bits 41", _set(1, 41)),
        ("pow_bits -1", _set(1, -1)),
        ("pow_bits true", _set(1, True)),
        ("quota_gas 9999", _set(2, 9_999)),
        ("quota_gas 10^12 + 1", _set(2, 10**12 + 1)),
        ("quota_replenish -1", _set(3, -1)),
        ("quota_replenish 10^12 + 1", _set(3, 10**12 + 1)),
        ("unbonding_blocks 0", _set(4, 0)),
        ("unbonding_blocks 10^7 + 1", _set(4, 10_000_001)),
        ("slash_fraction_bps 10001", _set(5, 10_001)),
        ("slash_fraction_bps -1", _set(5, -1)),
        ("stake not an array", _set(6, {})),
        ("a grant of three fields", grants([address, 1, 1])),
        ("a grant of 0", grants([address, 0])),
        ("a grant of 10^15 + 1", grants([address, 10**15 + 1])),
        ("a grant to an address with capitals", grants([address.upper(), 1])),
        ("a grant to an address of 39 characters", grants([address[:39], 1])),
        ("a grant to an address ending in a line feed", grants([address + "\n", 1])),
        ("a grant to an address as bytes", grants([bytes.fromhex(address), 1])),
        ("an address granted twice", grants([address, 1], [address, 2])),
        ("a ninth field nil", lambda g: g.__setitem__(8, None)),
        # Appended: the eighth setting, possession_height (blocks.md#the-open-profile).
        ("possession_height -1", lambda g: g[8].append(-1)),
        ("possession_height 10^12 + 1", lambda g: g[8].append(10**12 + 1)),
        ("possession_height true", lambda g: g[8].append(True)),
        ("possession_height nil", lambda g: g[8].append(None)),
        ("an open profile of nine fields", lambda g: g[8].extend([0, 0])),
    ]  # fmt: skip
    return ([{"name": n, "genesis": _variant(genesis, f)} for n, f in valid],
            [{"name": n, "genesis": _variant(genesis, f)} for n, f in invalid])  # fmt: skip


def open_vectors() -> dict[str, Any]:
    suites, cases = [], []
    for suite in ("standard", "sm2"):
        with chain_suite(suite).use():
            chain, people = _chain(suite)
            g = chain.genesis
            genesis = encode(g)
            entries = governance.genesis_entries(g)
            added = {k: hx(encode(v)) for k, v in sorted(entries.items())
                     if k == "params" or k == "profile" or k.startswith("stake/")}  # fmt: skip
            s1 = address_of(people["s1"].scheme, people["s1"].public_key)
            valid, invalid = _geneses(genesis, s1)
            suites.append({"suite": suite, "genesis": hx(genesis), "genesis_hash": hx(g.hash),
                           "genesis_state": added, "valid_geneses": valid,
                           "invalid_geneses": invalid})  # fmt: skip
            _stake_history(chain, people)
            cases += open_documents(suite, chain, people)
    return {
        "description": "The open profile (blocks.md#the-open-profile). Per suite: an open "
        "chain's genesis, its hash, and the genesis-state entries of the governance contract "
        "the open profile adds or changes (name -> hex of encode(value)); geneses that MUST "
        "be accepted (`valid_geneses`) and rejected (`invalid_geneses`). `cases`: documents "
        "of that chain, verified against the genesis of `genesis` with the clock `now_ms`; "
        "`valid` says whether each MUST be accepted; a case with a `base` is that case changed "
        "by `patch`, as in documents.json.",
        "suites": suites,
        "geneses": {s["suite"]: s["genesis"] for s in suites},
        "cases": cases,
    }
