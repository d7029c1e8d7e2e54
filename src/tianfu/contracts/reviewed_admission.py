"""Reviewed admission: the governance proposals that change who keeps the books (organisations,
validators, voting power, chain parameters), the validator set in state, and double-sign evidence.

Pure state reads and writes through `ctx`; the voting machinery lives in
`tianfu.contracts.governance`, which calls `check_proposal` when a proposal is made and
`apply_proposal` when it is approved. See docs/adr/0012-reviewed-admission.md.

State layout (under the contract name `governance`, next to governance.py's keys):
  chain_id              the chain id (evidence votes must name it)
  validators            list of validator records {"name", "org", "scheme", "public_key",
                        "power"}: the latest set. The set that signs block h is the value of
                        this key in the committed state of height h-2 (genesis state for h<=2).
  valset_heights        ascending heights from which a recorded set signs: the latest
                        page of at most `VALSET_PAGE` of them (genesis: [1])
  valset_heights/<n>    the n-th full page before it (n from 0), when there are more
  valset_pages          how many full pages there are (absent: none)
  valset/<height>       the validator records that sign from <height> on (until the next)
  params                the chain parameters (fields of ConsensusParams) as a dict; on an
                        open-profile chain also its parameters (`tianfu.types.openparams`)
  profile               "open" on an open-profile chain (absent on a consortium chain)
  evidence/<validator>/<height>/<round>/<type>   a recorded double sign
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import msgspec

from tianfu import unicode14
from tianfu.contracts import identity
from tianfu.execution.contract_api import Context, ContractError, failing_as
from tianfu.execution.system import GOVERNANCE
from tianfu.types import ConsensusParams, Genesis, Validator, ValidatorSet
from tianfu.types.genesis import MAX_TX_RECEIPT_BYTES, OPEN
from tianfu.types.openparams import OPEN_PARAM_KEYS, check_open_param

# Proposal kinds handled here (governance.py also has "contract").
ADD_ORG = "add_org"
REMOVE_ORG = "remove_org"
ADD_VALIDATOR = "add_validator"
REMOVE_VALIDATOR = "remove_validator"
SET_POWER = "set_power"
SET_PARAMS = "set_params"
UNBAR_VALIDATOR = "unbar_validator"  # open profile: lift the bar of a removed validator
KINDS = frozenset(
    {ADD_ORG, REMOVE_ORG, ADD_VALIDATOR, REMOVE_VALIDATOR, SET_POWER, SET_PARAMS, UNBAR_VALIDATOR}
    | identity.KINDS
)

# A change written in block H signs from H + ACTIVATION_DELAY.
ACTIVATION_DELAY = 2
# Heights per page of the recorded validator sets' index (`valset_heights`): at most about
# 20 KB encoded, whatever the number of changes (`write_validators`).
VALSET_PAGE = 4096
VALIDATOR_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
MAX_CA_CERT_BYTES = 4096

# Allowed range of each chain parameter (inclusive); booleans are listed in BOOL_PARAMS.
PARAM_BOUNDS: dict[str, tuple[int, int]] = {
    "max_block_txs": (1, 100_000),
    # A block travels in one proposal frame of at most 16 MiB (consensus.messages).
    "max_block_bytes": (1024, 15 << 20),
    "block_interval_ms": (0, 60_000),
    "empty_block_interval_ms": (0, 600_000),
    "timeout_propose_ms": (10, 600_000),
    "timeout_vote_ms": (10, 600_000),
    "timeout_delta_ms": (0, 600_000),
    "tx_expiry_window": (1, 1_000_000),
    "max_gas_per_tx": (10_000, 1_000_000_000),
    "proposal_expiry_blocks": (1, 10_000_000),
    "max_validator_power": (1, 10**12),
    "max_validators": (1, 1000),
    "max_block_gas": (10_000, 10**12),  # and at least max_gas_per_tx
    "max_block_receipt_bytes": (MAX_TX_RECEIPT_BYTES, 256 << 20),  # SQLite stores one blob
}
BOOL_PARAMS = frozenset({"slash_double_sign"})
PARAM_KEYS = frozenset(PARAM_BOUNDS) | BOOL_PARAMS
assert PARAM_KEYS == frozenset(msgspec.structs.asdict(ConsensusParams())), "bounds cover params"


# -- conversions ------------------------------------------------------------------------------
def validator_record(v: Validator) -> dict[str, Any]:
    return {
        "name": v.name,
        "org": v.org,
        "scheme": v.scheme,
        "public_key": v.public_key,
        "power": v.power,
    }


def validator_set_from_records(records: Any) -> ValidatorSet:
    """The `ValidatorSet` of a `validators` state value (ledger, light client and evidence)."""
    if not isinstance(records, list):
        raise ValueError("validator records must be a list")
    return ValidatorSet(
        [
            Validator(r["name"], r["org"], r["scheme"], bytes(r["public_key"]), r["power"])
            for r in records
        ]
    )


def params_from_value(value: Any, default: ConsensusParams | None = None) -> ConsensusParams:
    """The `ConsensusParams` of a `params` state value (unknown keys ignored)."""
    base = msgspec.structs.asdict(default or ConsensusParams())
    if isinstance(value, dict):
        base.update({k: v for k, v in value.items() if k in PARAM_KEYS})
    return ConsensusParams(**base)


def genesis_entries(genesis: Genesis) -> dict[str, Any]:
    """The admission part of governance state at height 0."""
    records = [validator_record(v) for v in genesis.validators]
    entries: dict[str, Any] = {
        "chain_id": genesis.chain_id,
        "validators": records,
        "valset_heights": [1],
        "valset/1": records,
        "params": msgspec.structs.asdict(genesis.params),
    }
    if genesis.vote_domain.genesis_hash is not None:  # votes sign it (version 2, ADR 0039)
        entries["genesis_hash"] = genesis.vote_domain.genesis_hash
    if genesis.open is not None:  # the open profile: its governed parameters join `params`
        entries["profile"] = genesis.profile
        entries["params"].update(genesis.open.params())
    return entries


def is_open(ctx: Context) -> bool:
    """Whether this chain has the open profile (ADR 0025)."""
    return ctx.get("profile") == OPEN


def params(ctx: Context) -> dict[str, Any]:
    current = msgspec.structs.asdict(ConsensusParams())
    current.update(ctx.get("params") or {})
    return current


# -- checks -----------------------------------------------------------------------------------
def _active(ctx: Context, org: Any) -> bool:
    return isinstance(org, str) and (ctx.get(f"org/{org}") or {}).get("status") == "active"


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ContractError(f"{what} must be an integer")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ContractError(f"{what} must be a string")
    return value


def check_validator_set(ctx: Context, records: list[dict[str, Any]]) -> None:
    """The safety rules every validator set written to state satisfies."""
    p = params(ctx)
    if not records:
        raise ContractError("the change would leave the validator set empty")
    if len(records) > p["max_validators"]:
        raise ContractError(f"at most {p['max_validators']} validators are allowed")
    names: set[str] = set()
    keys: set[bytes] = set()
    for r in records:
        if r["name"] in names:
            raise ContractError(f"validator name {r['name']!r} is already taken")
        if r["public_key"] in keys:
            raise ContractError(f"validator {r['name']}: public key already used by a validator")
        names.add(r["name"])
        keys.add(r["public_key"])
        if not _active(ctx, r["org"]) and not (r["org"] == "" and is_open(ctx)):
            raise ContractError(
                f"validator {r['name']} belongs to {r['org']!r}, not an active member organisation"
            )
        if not 1 <= r["power"] <= p["max_validator_power"]:
            raise ContractError(
                f"validator {r['name']}: power must be between 1 and {p['max_validator_power']}"
            )


class InvalidConsensusKey(ContractError):
    """A validator's consensus key that can never sign: an unknown scheme or one the chain's
    suite refuses, a key of the wrong size, or bytes that are not a usable point (off the
    curve, the identity, a point of small order)."""


def check_consensus_key(scheme: Any, public_key: Any) -> bytes:
    """`public_key` if it is a consensus key of `scheme` that the chain accepts and that can
    sign (`CryptoSuite.check_public_key`); else InvalidConsensusKey ("invalid consensus
    key: ..."). A validator whose key cannot sign takes a place in the set and its power
    counts towards the quorum, forever missing."""
    from tianfu.crypto import CryptoError, current_suite, get_suite

    def refuse(why: str) -> InvalidConsensusKey:
        return InvalidConsensusKey(f"invalid consensus key: {why}")

    if not isinstance(scheme, int) or isinstance(scheme, bool):
        raise refuse("scheme must be an integer")
    try:
        suite = get_suite(scheme)
    except CryptoError as exc:
        raise refuse(str(exc)) from None
    refused = current_suite().refusal(scheme)  # the chain's suite, fixed at genesis
    if refused is not None:
        raise refuse(refused)
    if not isinstance(public_key, bytes) or len(public_key) != suite.public_key_size:
        raise refuse(f"public_key must be {suite.public_key_size} bytes for scheme {scheme}")
    try:
        suite.check_public_key(public_key)
    except CryptoError as exc:
        raise refuse(str(exc)) from None
    return public_key


def _find(records: list[dict[str, Any]], name: Any) -> int:
    for i, r in enumerate(records):
        if r["name"] == name:
            return i
    raise ContractError(f"no validator named {name!r}")


def _check_org_name(name: Any) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise ContractError("organisation name must be a string of 1 to 64 characters")
    if not unicode14.isprintable(name) or name != name.strip() or "/" in name:
        raise ContractError(
            f"organisation name {unicode14.fix_repr(repr(name))} has control characters, '/' "
            "or spaces"
        )
    return name


def _check_ca(ctx: Context, name: str, ca_cert_der: Any) -> bytes:
    from tianfu.identity import IdentityError, cert_info

    if not isinstance(ca_cert_der, bytes) or not 0 < len(ca_cert_der) <= MAX_CA_CERT_BYTES:
        raise ContractError(f"ca_cert_der must be 1 to {MAX_CA_CERT_BYTES} bytes of DER")
    with failing_as(IdentityError, "bad CA certificate"):
        info = cert_info(ca_cert_der)
    if not info.is_ca:
        raise ContractError("the certificate is not a CA certificate")
    from tianfu.crypto import current_suite

    refused = current_suite().refusal(info.scheme)  # the chain's suite, fixed at genesis
    if refused is not None:
        raise ContractError(f"CA certificate refused: {refused}")
    if info.org != name:
        raise ContractError(f"the CA certificate is for organisation {info.org!r}, not {name!r}")
    if not info.not_before_ms <= ctx.time_ms <= info.not_after_ms:
        raise ContractError("the CA certificate is not valid at this block's time")
    return ca_cert_der


def _new_validators(ctx: Context, kind: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    """The validator records after a validator change (checked, not written)."""
    records = list(ctx.get("validators") or [])
    if kind == ADD_VALIDATOR:
        records.append(dict(args))
    elif kind == REMOVE_VALIDATOR:
        records.pop(_find(records, args["name"]))
    elif kind == SET_POWER:
        i = _find(records, args["name"])
        records[i] = {**records[i], "power": args["power"]}
    elif kind == REMOVE_ORG:
        records = [r for r in records if r["org"] != args["name"]]
    check_validator_set(ctx, records)
    if kind == ADD_VALIDATOR:
        _check_joining_power(records[:-1], args)
    return records


def _check_joining_power(records: list[dict[str, Any]], new: dict[str, Any]) -> None:
    """A validator joins with less than a third of the new set's power (less than half of
    the others' total), so the validators already in the set keep more than 2/3 and decide
    blocks without it (ADR 0041). Until the new node signs — it may not run yet, or never —
    a larger share leaves no quorum reachable: no block is decided again, and no vote can
    undo the change. Its power can be raised by `set_power` once it signs."""
    others = sum(r["power"] for r in records)
    power = new["power"]
    if 2 * power >= others:
        below = (others + 1) // 2
        how = (
            f"add it with power below {below} and raise it with set_power once it signs"
            if below > 1
            else "raise the present validators' power first (set_power), then add it"
        )
        raise ContractError(
            f"validator {new['name']}: power {power} would give it a third or more of the "
            f"voting power (the set holds {others}): the others could no longer decide "
            f"blocks without it; {how}"
        )


def check_proposal(ctx: Context, kind: str, raw: Any) -> dict[str, Any]:
    """Validate a proposal's arguments against the current state; return them normalised.

    Raises ContractError. Called when the proposal is made and again when it is applied.
    """
    if not isinstance(raw, dict):
        raise ContractError("proposal arguments must be a dict")
    if kind in identity.KINDS:  # roles: identity.py
        return identity.check_proposal(ctx, kind, raw)
    if kind == ADD_ORG:
        name = _check_org_name(raw.get("name"))
        if ctx.get(f"org/{name}") is not None:
            raise ContractError(f"organisation {name!r} exists (or existed) already")
        return {"name": name, "ca_cert": _check_ca(ctx, name, raw.get("ca_cert"))}
    if kind == REMOVE_ORG:
        name = _str(raw.get("name"), "organisation name")
        if not _active(ctx, name):
            raise ContractError(f"{name!r} is not an active member organisation")
        members = [o for o in ctx.get("orgs", []) if _active(ctx, o)]
        if len(members) <= 1:
            raise ContractError("the last member organisation cannot be removed")
        args: dict[str, Any] = {"name": name}
    elif kind == ADD_VALIDATOR:
        name = _str(raw.get("name"), "validator name")
        if not VALIDATOR_NAME_RE.match(name):
            raise ContractError("validator name must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
        scheme = _int(raw.get("scheme"), "scheme")
        key = check_consensus_key(scheme, raw.get("public_key"))
        if is_open(ctx):
            _check_key_unindexed(ctx, name, key)
        args = {
            "name": name,
            "org": _str(raw.get("org"), "organisation"),
            "scheme": scheme,
            "public_key": key,
            "power": _int(raw.get("power"), "power"),
        }
    elif kind == REMOVE_VALIDATOR:
        args = {"name": _str(raw.get("name"), "validator name")}
    elif kind == SET_POWER:
        args = {
            "name": _str(raw.get("name"), "validator name"),
            "power": _int(raw.get("power"), "power"),
        }
    elif kind == SET_PARAMS:
        return {"params": _check_params(ctx, raw.get("params"))}
    elif kind == UNBAR_VALIDATOR:
        name = _str(raw.get("name"), "validator name")
        if ctx.get(f"stake/barred/{name}") is None:
            raise ContractError(f"validator {name!r} is not barred from bonding")
        return {"name": name}
    else:
        raise ContractError(f"unknown proposal kind {kind!r}")
    _new_validators(ctx, kind, args)
    return args


def _check_key_unindexed(ctx: Context, name: str, key: bytes) -> None:
    """Open profile: refuse to add validator `name` with a consensus key that the staking
    key index (`staking.key_holder`) gives to another validator entry, or to a jailed one
    (a jailed bond, or a validator governance added that evidence removed): a vote must not
    let a jailed key sign again under a new name, nor take a key from the bond that holds
    it. The key's own entry may come back (a genesis validator governance removed, under
    its name and key). A key in the set is refused by `check_validator_set`."""
    from tianfu.contracts import staking

    holder = staking.key_holder(ctx, key)
    if holder is None:
        return
    bond = ctx.get(f"stake/bond/{holder}")
    if bond is not None and bond["public_key"] != key:
        bond = None  # the name was bonded with another key: this one is not its bond's
    jailed = bond is None or bond["jailed"]
    if holder == name and not jailed:
        return
    state = "jailed for a double sign" if jailed else "bonded by stake"
    raise ContractError(
        f"public key already used by validator {holder} ({state}): governance may not add "
        "a key the staking key index gives to another validator entry or a jailed one"
    )


def _check_params(ctx: Context, changes: Any) -> dict[str, Any]:
    if not isinstance(changes, dict) or not changes:
        raise ContractError("set_params needs a non-empty dict of parameter -> value")
    open_chain = is_open(ctx)
    normalised: dict[str, Any] = {}
    for k, v in changes.items():
        if open_chain and k in OPEN_PARAM_KEYS:
            try:
                normalised[k] = check_open_param(k, v)
            except ValueError as exc:
                raise ContractError(str(exc)) from None
            continue
        if k not in PARAM_KEYS:
            if k in OPEN_PARAM_KEYS:
                raise ContractError(f"parameter {k!r} exists on open-profile chains only")
            raise ContractError(f"unknown parameter {k!r}; known: {', '.join(sorted(PARAM_KEYS))}")
        if k in BOOL_PARAMS:
            if not isinstance(v, bool):
                raise ContractError(f"parameter {k} must be true or false")
            continue
        lo, hi = PARAM_BOUNDS[k]
        if not lo <= _int(v, f"parameter {k}") <= hi:
            raise ContractError(f"parameter {k} must be between {lo} and {hi}")
    changes = {**changes, **normalised}
    merged = {**params(ctx), **changes}
    check_params_consistent(merged)
    records = ctx.get("validators") or []
    if len(records) > merged["max_validators"]:
        raise ContractError(f"max_validators below the current {len(records)} validators")
    if any(r["power"] > merged["max_validator_power"] for r in records):
        raise ContractError("max_validator_power below a current validator's power")
    return dict(sorted(changes.items()))


def check_params_consistent(p: dict[str, Any]) -> None:
    """The rules between parameters (each is within its bounds already). Raises ContractError."""
    try:
        ConsensusParams(**{k: v for k, v in p.items() if k in PARAM_KEYS}).validate()
    except ValueError as exc:
        raise ContractError(str(exc)) from None


# -- applying ---------------------------------------------------------------------------------
def write_validators(ctx: Context, records: list[dict[str, Any]]) -> int:
    """Store a (checked) new validator set; it signs from ctx.height + 2. Returns that height.

    The heights of the recorded sets are kept in pages of `VALSET_PAGE`: on an open chain
    any staker changes the set (one new height a block at most), and one list of them all
    would pass the largest value state holds (`MAX_VALUE_BYTES`, about 52,000 heights) —
    after which no bond, unbond, slash or governance change of the set could be written —
    and make every change dearer before that."""
    effective = ctx.height + ACTIVATION_DELAY
    ctx.put("validators", records)
    heights = list(ctx.get("valset_heights") or [])
    if not heights or heights[-1] != effective:
        if len(heights) >= VALSET_PAGE:  # the page is full: it moves aside, a new one begins
            pages = int(ctx.get("valset_pages") or 0)
            ctx.put(f"valset_heights/{pages}", heights)
            ctx.put("valset_pages", pages + 1)
            heights = []
        heights.append(effective)
        ctx.put("valset_heights", heights)
    ctx.put(f"valset/{effective}", records)
    vs = validator_set_from_records(records)
    ctx.emit(
        "ValidatorSetChanged",
        effective_height=effective,
        validators=[r["name"] for r in records],
        total_power=vs.total_power,
        hash=vs.hash.hex(),
    )
    return effective


def apply_proposal(ctx: Context, kind: str, raw: dict[str, Any]) -> None:
    """Carry out an approved proposal. Everything is checked before the first write."""
    args = check_proposal(ctx, kind, raw)
    if kind in identity.KINDS:
        identity.apply_proposal(ctx, kind, args)
    elif kind == ADD_ORG:
        name = args["name"]
        ctx.put(f"org/{name}", {"name": name, "ca_cert": args["ca_cert"], "status": "active"})
        ctx.put("orgs", [*ctx.get("orgs", []), name])
        ctx.emit("OrgAdded", name=name)
    elif kind == SET_PARAMS:
        ctx.put("params", {**params(ctx), **args["params"]})
        ctx.emit("ParamsChanged", params=args["params"], effective_height=ctx.height + 2)
    elif kind == UNBAR_VALIDATOR:
        for entry in ctx.get(f"stake/barred/{args['name']}"):
            ctx.delete(f"stake/barred_key/{entry['public_key'].hex()}")
            if entry["owner"]:
                ctx.delete(f"stake/barred_owner/{entry['owner']}")
        ctx.delete(f"stake/barred/{args['name']}")
        ctx.emit("ValidatorUnbarred", name=args["name"])
    else:
        records = _new_validators(ctx, kind, args)
        if is_open(ctx):
            _bar_removed(ctx, ctx.get("validators") or [], records)
        if kind == REMOVE_ORG:
            org = ctx.get(f"org/{args['name']}")
            ctx.put(f"org/{args['name']}", {**org, "status": "removed", "removed": ctx.height})
            ctx.emit("OrgRemoved", name=args["name"])
        if records != (ctx.get("validators") or []):
            write_validators(ctx, records)


def _bar_removed(ctx: Context, old: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Open profile: bar the validators governance removes — their consensus key, and the
    owner of their bond of that key — from bonding stake (under any name) until an
    `unbar_validator` proposal lifts it; their bonds stay and may be unbonded. The name
    itself is not barred (another key and owner may bond it)."""
    kept = {r["name"] for r in new}
    for r in old:
        if r["name"] in kept:
            continue
        bond = ctx.get(f"stake/bond/{r['name']}")
        owner = bond["owner"] if bond and bond["public_key"] == r["public_key"] else ""
        entry = {"public_key": r["public_key"], "owner": owner, "height": ctx.height}
        ctx.put(f"stake/barred/{r['name']}", [*(ctx.get(f"stake/barred/{r['name']}") or []), entry])
        ctx.put(f"stake/barred_key/{r['public_key'].hex()}", r["name"])
        if owner:
            ctx.put(f"stake/barred_owner/{owner}", r["name"])
        ctx.emit("ValidatorBarred", name=r["name"], owner=owner)


# -- evidence ---------------------------------------------------------------------------------
def valset_at(ctx: Context, height: int) -> list[dict[str, Any]]:
    """The validator records that signed (or sign) block `height`, from the recorded history
    (the latest page of heights, else the full pages before it, by binary search)."""
    heights = ctx.get("valset_heights") or []
    if not heights or height < heights[0]:
        lo, hi = 0, int(ctx.get("valset_pages") or 0)  # the page holding it is in [lo, hi)
        heights = []
        while lo < hi:
            mid = (lo + hi) // 2
            page = ctx.get(f"valset_heights/{mid}") or []
            if page and height < page[0]:
                hi = mid
            else:
                lo, heights = mid + 1, page
    i = bisect.bisect_right(heights, height)
    if i == 0:
        raise ContractError(f"no validator set is recorded for height {height}")
    return list(ctx.get(f"valset/{heights[i - 1]}") or [])


def submit_evidence(ctx: Context, vote_a_bytes: Any, vote_b_bytes: Any) -> dict[str, Any]:
    """Record proof that one validator signed two different blocks for one (height, round, type)."""
    from tianfu.codec import CodecError, decode
    from tianfu.crypto import verify_vote
    from tianfu.types import Vote, VoteDomain

    if ctx.sender.kind not in ("node", "admin") and not is_open(ctx):
        raise ContractError("only a member organisation's node or admin may submit evidence")
    votes: list[Vote] = []
    for raw in (vote_a_bytes, vote_b_bytes):
        if not isinstance(raw, bytes):
            raise ContractError("evidence votes must be the canonical bytes of two votes")
        with failing_as((CodecError, ValueError), "malformed vote"):
            vote = decode(raw, Vote)
            vote.validate()
        votes.append(vote)
    a, b = votes
    if a.chain_id != ctx.get("chain_id") or b.chain_id != a.chain_id:
        raise ContractError("the votes are not for this chain")
    if a.validator != b.validator:
        raise ContractError("the votes are from different validators")
    if (a.height, a.round, a.type) != (b.height, b.round, b.type):
        raise ContractError("the votes are for different heights, rounds or types")
    if a.block_hash == b.block_hash:
        raise ContractError("the votes are for the same block: no double sign")
    if a.height > ctx.height + 1:
        raise ContractError(f"height {a.height} is beyond the chain (at {ctx.height})")
    vs = validator_set_from_records(valset_at(ctx, a.height))
    validator = vs.by_key(a.validator)
    if validator is None:
        raise ContractError(f"the signer was not a validator at height {a.height}")
    # Only a version-2 genesis's state holds the hash its votes sign. It is looked for
    # without gas and charged as an ordinary read only where present: evidence on a chain
    # of a version-1 genesis uses the gas it used before version 2 existed, so that the
    # chain's receipts roots stay what they were when it is synced or replayed.
    signed_hash = ctx.peek(GOVERNANCE, "genesis_hash")  # type: ignore[attr-defined]
    if signed_hash is not None:
        signed_hash = ctx.get("genesis_hash")  # charged (the governance contract's state)
    domain = VoteDomain(a.chain_id, bytes(signed_hash) if signed_hash is not None else None)
    if not (verify_vote(a, vs, domain) and verify_vote(b, vs, domain)):
        raise ContractError("a vote's signature is not valid")
    key = f"evidence/{validator.name}/{a.height}/{a.round}/{a.type}"
    if ctx.has(key):
        raise ContractError(f"this double sign is already recorded ({key})")
    first, second = sorted([vote_a_bytes, vote_b_bytes])
    record = {
        "validator": validator.name,
        "org": validator.org,
        "height": a.height,
        "round": a.round,
        "type": a.type,
        "votes": [first, second],
        "submitted_by": ctx.sender.address,
        "recorded_height": ctx.height,
        "slashed": False,
    }
    ctx.emit(
        "DoubleSignEvidence",
        validator=validator.name,
        org=validator.org,
        height=a.height,
        round=a.round,
        type=a.type,
    )
    if is_open(ctx):  # validators by stake: burn a share of the bond and jail (staking)
        from tianfu.contracts import staking

        slashed = staking.slash(ctx, validator.name, validator.public_key, a.height)
        record["slashed"] = slashed is not None
    elif params(ctx)["slash_double_sign"]:
        record["slashed"] = _slash(ctx, validator.name, validator.public_key)
    ctx.put(key, record)
    return {"key": key, "validator": validator.name, "slashed": record["slashed"]}


def _slash(ctx: Context, name: str, public_key: bytes) -> bool:
    """Take the validator out of the set (power 0) from ctx.height + 2, if that is safe and
    it still has the offending key (a name governance reused for another key is not it)."""
    records = list(ctx.get("validators") or [])
    remaining = [r for r in records if not (r["name"] == name and r["public_key"] == public_key)]
    if len(remaining) == len(records) or not remaining:
        return False
    write_validators(ctx, remaining)
    ctx.emit("ValidatorSlashed", validator=name, effective_height=ctx.height + ACTIVATION_DELAY)
    return True
