"""The `staking` native contract (open profile): validators by bonded stake, unbonding after a
period, and slashing of a proven double sign.

The stake unit exists only on chain: the genesis allocates it (`OpenProfile.stake`), accounts
may move it between themselves (`transfer`), bond it to a validator key (`bond`: the
validator's voting power is its bonded stake) and unbond it (`unbond`: the power drops at
once, the stake is released `unbonding_blocks` later, `withdraw`). Every change of voting
power is written to the validator set in governance state and signs from H + 2, the same
boundary as governance changes (ADR 0012). A double sign proven on chain
(`governance.submit_evidence`) burns `slash_fraction_bps` of the offender's bonded stake, and
of the stake unbonded from it that still signed the height of the double sign and is still
unbonding, and jails it: it leaves the validator set from H + 2 and neither its name nor
its key may bond again. A consensus key belongs to the first bond of it, ever (the key
index below; a genesis bond's key without an entry there): no other name may bond it, so a
jailed owner cannot sign again under a new name, nor anyone bond an out-of-set validator's
key first. A key that can never sign (off the curve, the identity, of small order) is
refused (`reviewed_admission.InvalidConsensusKey`). A bond belongs to its consensus key:
evidence against another key once under the same name does not touch it, and a validator
governance added (no bond of its key) cannot be bonded by name. A new validator's bond
carries a proof of possession of its consensus key (`possession_message`: the key's
signature over the chain id, the bonding owner's address, the scheme and the key), so
nobody can bond a key whose private key it does not hold: before, a key an operator was
about to use (shown by its node to every peer) belonged to whoever bonded it first. The
proof is needed from the height of the `possession_height` parameter
(`possession_required`): 0 on a chain whose genesis has it, none until governance sets it on
a chain made before it existed, whose bonds without a proof keep their meaning.

Its state lives in the governance namespace (it writes the validator set there):
  stake/balance/<address>     liquid stake units of an account
  stake/bond/<validator>      {"name", "owner", "scheme", "public_key", "amount", "jailed"}
  stake/unbonding/<address>   [{"amount", "release", "validator", "height"}]: unbonded stake,
                              the height it frees, the validator it left and when
  stake/burnt                 stake units burnt by slashing, in total
  stake/key/<key hex>         the validator (name) whose bond has that consensus key:
                              written by each new bond (not at genesis), and for a
                              validator without a bond removed for a double sign (its
                              key may then bond under no name); never removed
  stake/barred/<validator>    [{"public_key", "owner", "height"}]: removed by governance;
                              its key (stake/barred_key/<key hex>) and its bond's owner
                              (stake/barred_owner/<address>) may not bond, nor
                              the owner transfer stake, until an `unbar_validator`
                              proposal
The genesis validators' powers are their genesis bonds (owner: their node key's address).
"""

from __future__ import annotations

from typing import Any

from tianfu.codec import hash_domain
from tianfu.contracts import reviewed_admission
from tianfu.execution.contract_api import Context, ContractError, address_of, view
from tianfu.types import Genesis

NAME = "staking"
GOVERNANCE = "governance"
MAX_UNBONDING_ENTRIES = 32
MAX_AMOUNT = 10**15
POSSESSION_TAG = "tianfu/stake/possession/v1"  # the consensus key's proof in a new bond


def possession_message(chain_id: str, owner: str, scheme: int, public_key: bytes) -> bytes:
    """What a consensus key signs to prove its holder lets `owner` bond it on `chain_id`
    (the chain's hash: SM3 on an SM2 chain): a proof made for another chain, owner, scheme
    or key does not verify."""
    return hash_domain(
        POSSESSION_TAG, chain_id.encode(), owner.encode(), scheme.to_bytes(8, "big"), public_key
    )


def prove_possession(keypair: Any, chain_id: str, owner: str) -> bytes:
    """The proof a new bond by `owner` of `keypair`'s public key carries (`bond`'s last
    argument), made by the consensus key's holder (`tianfu node prove-key`)."""
    msg = possession_message(chain_id, owner, keypair.scheme, keypair.public_key)
    return bytes(keypair.sign(msg))


def possession_required(ctx: Context) -> bool:
    """Whether a bond in this block follows the proof-of-possession rule: from the height
    the `possession_height` parameter names (an open genesis whose settings have eight
    fields, `OpenProfile`, sets it, 0 by default; governance may set it). A chain made from
    settings of seven fields (`OpenProfileV1`), before the proof existed, has none until
    governance sets it: its bonds without a proof keep the meaning they had, and replaying
    it gives the same state roots. The parameter is read without gas (`CallContext.peek`),
    and charged as an ordinary read only where the rule is in force: a bond before it uses
    the gas it used before the rule existed."""
    params = ctx.peek(GOVERNANCE, "params")  # type: ignore[attr-defined]
    start = params.get("possession_height") if isinstance(params, dict) else None
    if start is None or ctx.height < int(start):
        return False
    ctx.read(GOVERNANCE, "params")  # charged: the rule's own read
    return True


def _check_possession(ctx: Context, owner: str, scheme: int, key: bytes, proof: Any) -> None:
    """Refuse a new bond whose `proof` is not `key`'s signature of `possession_message`
    (`bond` calls it from the height `possession_required` names)."""
    from tianfu.crypto import get_suite

    if not isinstance(proof, bytes) or not proof:
        raise ContractError(
            "a new validator's bond needs a proof of possession of its consensus key (its "
            "signature over the chain id, your address, the scheme and the key: "
            "`tianfu node prove-key`)"
        )
    chain_id = str(ctx.read(GOVERNANCE, "chain_id"))
    if not get_suite(scheme).verify(key, possession_message(chain_id, owner, scheme, key), proof):
        raise ContractError(
            "the proof of possession does not verify: it must be made by the consensus key, "
            f"for chain {chain_id!r} and owner {owner}"
        )


def genesis_entries(genesis: Genesis) -> dict[str, Any]:
    """Staking state at height 0 (open profile only)."""
    if genesis.open is None:
        return {}
    entries: dict[str, Any] = {"stake/burnt": 0}
    for grant in genesis.open.stake:
        entries[f"stake/balance/{grant.address}"] = grant.amount
    for v in genesis.validators:
        entries[f"stake/bond/{v.name}"] = {
            "name": v.name,
            "owner": address_of(v.scheme, v.public_key),
            "scheme": v.scheme,
            "public_key": v.public_key,
            "amount": v.power,
            "jailed": False,
        }
    return entries


def _amount(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_AMOUNT:
        raise ContractError(f"an amount of stake is an integer from 1 to {MAX_AMOUNT}")
    return value


def _set_power(ctx: Context, bond: dict[str, Any], *, join: bool = False) -> int:
    """Write the validator set with `bond`'s power (its amount; absent if 0 or jailed).
    A bond out of the set enters it only if `join` (a bond, not an unbond): when the set
    holds `max_validators` already, in the place of the validator by stake (no member
    organisation) of the least power, if that is less than the bond's; else it is refused.
    The bond's record in the set is the one of its name *and* key: a validator of that name
    with another key (one governance added while the bond was out of the set) is not the
    bond's, and is left as it is. Returns the height from which the new set signs."""
    records = list(ctx.get("validators") or [])
    mine = (bond["name"], bond["public_key"])
    others = [r for r in records if (r["name"], r["public_key"]) != mine]
    old = next((r for r in records if (r["name"], r["public_key"]) == mine), None)
    if bond["amount"] > 0 and not bond["jailed"] and (old is not None or join):
        record = {
            "name": bond["name"],
            "org": "",
            "scheme": bond["scheme"],
            "public_key": bond["public_key"],
            "power": bond["amount"],
        }
        if old is not None and old.get("org"):
            record["org"] = old["org"]  # a genesis validator keeps its organisation
        if old is None and len(others) >= reviewed_admission.params(ctx)["max_validators"]:
            others.remove(_displaced(others, bond))
        others.append(record)
        others.sort(key=lambda r: r["name"])
    reviewed_admission.check_validator_set(ctx, others)
    return reviewed_admission.write_validators(ctx, others)


def _displaced(records: list[dict[str, Any]], bond: dict[str, Any]) -> dict[str, Any]:
    """The validator by stake a new `bond` takes the place of in a full set: the one of the
    least power (of those, the first by name), if less than the bond's. It stays bonded,
    out of the set, until it bonds enough to take a place again (or unbonds)."""
    staked = [r for r in records if not r["org"]]
    if staked:
        least = min(staked, key=lambda r: (r["power"], r["name"]))
        if least["power"] < bond["amount"]:
            return least
    floor = min((r["power"] for r in staked), default=None)
    raise ContractError(
        f"the validator set is full: a new validator needs more stake than the least "
        f"validator by stake ({floor})"
        if floor is not None
        else "the validator set is full of member organisations' validators"
    )


def slash(ctx: Context, name: str, public_key: bytes, height: int) -> dict[str, Any] | None:
    """Punish validator `name` for a double sign with consensus key `public_key` at `height`;
    `ctx` acts as governance. If `name`'s bond is that key's: burn the share
    `slash_fraction_bps` of the stake that signed at `height`, at most its power then: of
    the stake unbonded from it since and still unbonding first, then of the bond for the
    rest — and jail it (out of the set from H + 2). A validator of that name and key
    without a bond of that key (one governance added) leaves the set from H + 2.
    None if neither applies (a name now bonded with another key, a jailed or absent
    validator), or if it would empty the validator set."""
    records = ctx.get("validators") or []
    if not [r for r in records if r["name"] != name]:
        return None
    bond = ctx.get(f"stake/bond/{name}")
    if bond is None or bond["public_key"] != public_key:
        return _remove_unbonded(ctx, name, public_key)
    if bond["jailed"]:
        return None
    bps = int(reviewed_admission.params(ctx).get("slash_fraction_bps", 0))
    # Only the stake that signed `height` (its power then): first what has been unbonded
    # since and is still unbonding, then the bond for the rest; stake bonded after the
    # double sign is not touched, whether it is still bonded or unbonding.
    signed = next(
        (r["power"] for r in reviewed_admission.valset_at(ctx, height)
         if r["name"] == name and r["public_key"] == public_key),
        0,
    )  # fmt: skip
    owner_key = f"stake/unbonding/{bond['owner']}"
    entries = list(ctx.get(owner_key) or [])
    shares = _shares_at_risk(ctx, entries, name, height, signed)
    *entry_cuts, cut = _cuts([*shares, min(bond["amount"], signed - sum(shares))], bps)
    kept = [{**e, "amount": e["amount"] - c} if c else e
            for e, c in zip(entries, entry_cuts, strict=True) if e["amount"] > c]  # fmt: skip
    if any(entry_cuts):
        ctx.put(owner_key, kept)
    burnt = sum(entry_cuts) + cut
    bond = {**bond, "amount": bond["amount"] - cut, "jailed": True}
    ctx.put(f"stake/bond/{name}", bond)
    ctx.put("stake/burnt", int(ctx.get("stake/burnt") or 0) + burnt)
    effective = _set_power(ctx, bond)
    ctx.emit(
        "ValidatorSlashed",
        validator=name,
        burnt=burnt,
        remaining=bond["amount"],
        jailed=True,
        effective_height=effective,
    )
    return {"validator": name, "burnt": burnt, "effective_height": effective}


def _shares_at_risk(
    ctx: Context, entries: list[dict[str, Any]], name: str, height: int, signed: int
) -> list[int]:
    """The units of each of an owner's unbondings (in order) that count as having signed
    `height` for validator `name`: those unbonded from it at H with H + 2 > `height` (their
    power counted up to H + 1) and not free yet, oldest first, `signed` units of them at
    most in all (the power that signed: more was bonded after the double sign); 0 for the
    others."""
    shares, taken = [], 0
    for e in entries:
        at_risk = (
            e.get("validator") == name
            and e["height"] + reviewed_admission.ACTIVATION_DELAY > height
            and e["release"] > ctx.height
        )
        share = min(e["amount"], signed - taken) if at_risk else 0
        taken += share
        shares.append(share)
    return shares


def _cuts(shares: list[int], bps: int) -> list[int]:
    """What to burn of each share so that `bps` of their sum is burnt, rounded down once:
    each share gives its own share rounded down, and the units those roundings leave out
    are taken one each from the shares with a remainder, in order (none gives more than
    `bps` of it rounded up). Rounding each share alone would let a validator that unbonds
    in units below 10,000 / `bps` (one unit each at 5,000) keep them all."""
    cuts = [s * bps // 10_000 for s in shares]
    extra = sum(shares) * bps // 10_000 - sum(cuts)
    for i, s in enumerate(shares):
        if extra == 0:
            break
        if s * bps % 10_000:
            cuts[i] += 1
            extra -= 1
    return cuts


def _remove_unbonded(ctx: Context, name: str, public_key: bytes) -> dict[str, Any] | None:
    """Take validator `name` without a bond out of the set from H + 2, if its key is
    `public_key` (the offender's), and index the key to it (`stake/key/`) with no bond:
    no name, its own included, may bond that key. None if it is not in the set with that
    key."""
    records = list(ctx.get("validators") or [])
    if not any(r["name"] == name and r["public_key"] == public_key for r in records):
        return None
    effective = reviewed_admission.write_validators(ctx, [r for r in records if r["name"] != name])
    if ctx.get(f"stake/key/{public_key.hex()}") is None:  # jailed: no name may bond its key
        ctx.put(f"stake/key/{public_key.hex()}", name)
    ctx.emit("ValidatorSlashed", validator=name, burnt=0, remaining=0, jailed=True,
             effective_height=effective)  # fmt: skip
    return {"validator": name, "burnt": 0, "effective_height": effective}


class Staking:
    """Native contract of the open profile; every method is `method(ctx, *args)`."""

    name = NAME

    def transfer(self, ctx: Context, to: str, amount: int) -> dict[str, Any]:
        """Move liquid stake units to another address. Refused for the owner of a validator
        governance removed, until the bar is lifted: its stake — liquid, and what it
        unbonds and withdraws — stays with it, so it cannot bond back with a new address
        and key."""
        from tianfu.contracts.accounts import _check_address

        to, amount = _check_address(to), _amount(amount)
        me = ctx.sender.address
        with ctx.acting_as(GOVERNANCE):  # type: ignore[attr-defined]
            barred = ctx.get(f"stake/barred_owner/{me}")
            if barred is not None:
                raise ContractError(
                    f"validator {barred} was removed by governance: its owner's stake may not "
                    "move until a governance proposal (unbar_validator) lifts the bar"
                )
            have = int(ctx.get(f"stake/balance/{me}") or 0)
            if have < amount:
                raise ContractError(f"{me} holds {have} stake units, not {amount}")
            ctx.put(f"stake/balance/{me}", have - amount)
            ctx.put(f"stake/balance/{to}", int(ctx.get(f"stake/balance/{to}") or 0) + amount)
            ctx.emit("StakeTransferred", sender=me, to=to, amount=amount)
        return {"from": me, "to": to, "amount": amount}

    def bond(
        self,
        ctx: Context,
        name: str,
        scheme: int,
        public_key: bytes,
        amount: int,
        *proof_arg: Any,
    ) -> dict[str, Any]:
        """Bond `amount` of your stake to validator `name` with consensus key `public_key`
        (a new validator, or one you own already): its power grows by `amount` from H + 2.
        A new validator needs a proof (the last argument), the key's signature of
        `possession_message` (chain id, your address, scheme, key), from the height
        `possession_required` names; bonding more to your validator needs none. Before that
        height a new validator's bond without a proof is taken, as before the proof existed,
        and one with a proof has it checked, as since (a chain made between the two, from
        the same genesis format, sent proofs)."""
        required = possession_required(ctx)
        if len(proof_arg) > 1:
            given = 6 + len(proof_arg)
            raise TypeError(
                f"Staking.bond() takes from 6 to 7 positional arguments but {given} were given"
            )
        proof = proof_arg[0] if proof_arg else None
        amount = _amount(amount)
        if not isinstance(name, str) or not reviewed_admission.VALIDATOR_NAME_RE.match(name):
            raise ContractError("validator name must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
        me = ctx.sender.address
        with ctx.acting_as(GOVERNANCE):  # type: ignore[attr-defined]
            have = int(ctx.get(f"stake/balance/{me}") or 0)
            if have < amount:
                raise ContractError(f"{me} holds {have} stake units, not {amount}")
            bond = ctx.get(f"stake/bond/{name}")
            # A validator in the set by that name without this bond's key is one governance
            # added: bonding must not replace its key and power.
            member = next((r for r in ctx.get("validators") or [] if r["name"] == name), None)
            if member is not None and (bond is None or bond["public_key"] != member["public_key"]):
                raise ContractError(f"validator {name} is a member organisation's")
            _check_not_barred(ctx, me, public_key)
            if bond is None:
                key = reviewed_admission.check_consensus_key(scheme, public_key)
                _check_key_free(ctx, name, key)
                if required or proof_arg:
                    _check_possession(ctx, me, scheme, key, proof)
                ctx.put(f"stake/key/{key.hex()}", name)
                bond = {
                    "name": name, "owner": me, "scheme": scheme, "public_key": key,
                    "amount": 0, "jailed": False,
                }  # fmt: skip
            elif bond["owner"] != me:
                raise ContractError(f"validator {name} belongs to {bond['owner']}")
            elif bond["jailed"]:
                raise ContractError(f"validator {name} is jailed for a double sign")
            elif (bond["scheme"], bond["public_key"]) != (scheme, public_key):
                raise ContractError(f"validator {name} has another consensus key")
            bond = {**bond, "amount": bond["amount"] + amount}
            ctx.put(f"stake/balance/{me}", have - amount)
            ctx.put(f"stake/bond/{name}", bond)
            effective = _set_power(ctx, bond, join=True)
            ctx.emit("StakeBonded", validator=name, owner=me, amount=amount,
                     power=bond["amount"], effective_height=effective)  # fmt: skip
        return {"validator": name, "power": bond["amount"], "effective_height": effective}

    def unbond(self, ctx: Context, name: str, amount: int) -> dict[str, Any]:
        """Unbond `amount` from your validator `name`: its power drops from H + 2; the stake
        is yours again `unbonding_blocks` later (`withdraw`)."""
        amount = _amount(amount)
        me = ctx.sender.address
        with ctx.acting_as(GOVERNANCE):  # type: ignore[attr-defined]
            bond = ctx.get(f"stake/bond/{name}") if isinstance(name, str) else None
            if bond is None or bond["owner"] != me:
                raise ContractError(f"{me} has no validator named {name!r}")
            if bond["amount"] < amount:
                raise ContractError(f"validator {name} has {bond['amount']} bonded, not {amount}")
            entries = list(ctx.get(f"stake/unbonding/{me}") or [])
            if len(entries) >= MAX_UNBONDING_ENTRIES:
                raise ContractError("too many unbondings in progress: withdraw first")
            period = int(reviewed_admission.params(ctx)["unbonding_blocks"])
            release = ctx.height + period
            bond = {**bond, "amount": bond["amount"] - amount}
            ctx.put(f"stake/bond/{name}", bond)
            entry = {"amount": amount, "release": release, "validator": name, "height": ctx.height}
            ctx.put(f"stake/unbonding/{me}", [*entries, entry])
            effective = _set_power(ctx, bond)
            ctx.emit("StakeUnbonded", validator=name, owner=me, amount=amount,
                     power=bond["amount"], effective_height=effective, release=release)  # fmt: skip
        return {"validator": name, "power": bond["amount"], "effective_height": effective,
                "release": release}  # fmt: skip

    def withdraw(self, ctx: Context) -> dict[str, Any]:
        """Return your unbonded stake whose unbonding period has passed to your balance."""
        me = ctx.sender.address
        with ctx.acting_as(GOVERNANCE):  # type: ignore[attr-defined]
            entries = list(ctx.get(f"stake/unbonding/{me}") or [])
            free = sum(e["amount"] for e in entries if e["release"] <= ctx.height)
            if free == 0:
                raise ContractError("no unbonded stake is free yet")
            left = [e for e in entries if e["release"] > ctx.height]
            ctx.put(f"stake/unbonding/{me}", left)
            balance = int(ctx.get(f"stake/balance/{me}") or 0) + free
            ctx.put(f"stake/balance/{me}", balance)
            ctx.emit("StakeWithdrawn", owner=me, amount=free)
        return {"withdrawn": free, "balance": balance}

    def submit_evidence(self, ctx: Context, vote_a: bytes, vote_b: bytes) -> dict[str, Any]:
        """Prove a double sign (two votes of one validator for one height, round and type):
        anyone may, on an open chain. The offender is slashed and jailed."""
        with ctx.acting_as(GOVERNANCE):  # type: ignore[attr-defined]
            return reviewed_admission.submit_evidence(ctx, vote_a, vote_b)

    @view
    def get_stake(self, ctx: Context, address: str) -> dict[str, Any]:
        """An address's liquid balance and its unbondings in progress."""
        with ctx.acting_as(GOVERNANCE):  # type: ignore[attr-defined]
            return {
                "balance": int(ctx.get(f"stake/balance/{address}") or 0),
                "unbonding": list(ctx.get(f"stake/unbonding/{address}") or []),
            }

    @view
    def get_bond(self, ctx: Context, name: str) -> dict[str, Any] | None:
        with ctx.acting_as(GOVERNANCE):  # type: ignore[attr-defined]
            bond: dict[str, Any] | None = ctx.get(f"stake/bond/{name}")
            return bond

    @view
    def burnt(self, ctx: Context) -> int:
        with ctx.acting_as(GOVERNANCE):  # type: ignore[attr-defined]
            return int(ctx.get("stake/burnt") or 0)


def _check_not_barred(ctx: Context, owner: str, public_key: Any) -> None:
    """Refuse a bond by the owner, or with the consensus key, of a validator governance
    removed, until an `unbar_validator` proposal lifts the bar; `ctx` acts as governance."""
    name = ctx.get(f"stake/barred_owner/{owner}")
    if name is None and isinstance(public_key, bytes):
        name = ctx.get(f"stake/barred_key/{public_key.hex()}")
    if name is not None:
        raise ContractError(
            f"validator {name} was removed by governance: its owner and key may not bond "
            "until a governance proposal (unbar_validator) lifts the bar"
        )


def _check_key_free(ctx: Context, name: str, public_key: bytes) -> None:
    """Refuse a new bond `name` of a consensus key another validator entry has bonded: a key
    belongs to the first bond of it, ever — jailed, unbonded to 0 or displaced, it keeps it
    (so a jailed owner cannot sign again under a new name, nor anyone bond an out-of-set
    validator's key first). A key indexed to a name without a bond of it (a validator
    governance added, removed for a double sign) may bond under no name. `ctx` acts as
    governance."""
    holder = key_holder(ctx, public_key)
    if holder is None:
        return
    bond = ctx.get(f"stake/bond/{holder}")
    if bond is not None and bond["public_key"] != public_key:
        bond = None  # the name was bonded with another key: this one is not its bond's
    if holder != name or bond is None:  # no bond of it: a validator removed for a double sign
        jailed = bond is None or bond["jailed"]
        state = " (jailed for a double sign)" if jailed else ""
        raise ContractError(
            f"public key already used by validator {holder}{state}: a consensus key is bonded "
            "by one validator only"
        )


def key_holder(ctx: Context, public_key: bytes) -> str | None:
    """The validator whose bond has consensus key `public_key`, if any: the index
    `stake/key/<key hex>` (written by each new bond), else a genesis bond of it (the genesis
    validators' keys are not indexed: the genesis state is as it was). `ctx` acts as
    governance."""
    name: str | None = ctx.get(f"stake/key/{public_key.hex()}")
    if name is not None:
        return name
    for r in ctx.get("valset/1") or []:  # the genesis validators (valset/1: their set)
        if r["public_key"] == public_key:
            bond = ctx.get(f"stake/bond/{r['name']}")
            if bond is not None and bond["public_key"] == public_key:
                return str(r["name"])
    return None
