"""Governance's `add_validator` on an open chain reads the staking key index (ADR 0025): a
vote cannot add a key a jailed validator holds (its holder would sign again under a new
name), nor one a bond holds (in the set or out of it), nor one of a validator governance
added and evidence removed. A proposal made before the key was bonded (and unbonded again) fails
when it is applied. Through the real Executor and Ledger, every block re-executed by a replica."""

import test_staking_attacks
from test_staking import bond_key, call, names
from test_staking_attacks import add_member_validator, bond_whale_validator, double_sign

from tianfu.crypto import generate_keypair

staked = test_staking_attacks.staked  # the fixture: an open chain and a whale with 100 units


def _propose_add(chain, name, key):
    return chain.call(
        chain.admins["org2"], "propose_add_validator", name, "org2", key.scheme, key.public_key, 5
    )


def _keys_in_set(chain):
    h = chain.ledger.height + 2
    return {v.public_key: v.name for v in chain.ledger.validator_set(h).validators}


def test_a_vote_cannot_add_a_jailed_validators_key_under_a_new_name(staked):
    chain, whale, _ = staked
    vkey = bond_whale_validator(chain, whale, 40)
    h = chain.ledger.height
    r = call(chain, whale, "staking", "submit_evidence", *double_sign(chain, vkey, h))
    assert r.ok and r.result["slashed"] is True, (r.error, r.result)
    chain.block()
    chain.block()
    assert vkey.public_key not in _keys_in_set(chain)
    r = _propose_add(chain, "org2-v9", vkey)
    assert not r.ok, r.result
    assert "public key already used by validator whale-v" in r.error, r.error
    assert "jailed" in r.error, r.error
    assert vkey.public_key not in _keys_in_set(chain)


def test_a_vote_cannot_take_a_key_an_out_of_set_bond_holds(staked):
    chain, whale, _ = staked
    vkey = bond_whale_validator(chain, whale, 40)
    assert call(chain, whale, "staking", "unbond", "whale-v", 40).ok
    chain.block()
    chain.block()
    assert vkey.public_key not in _keys_in_set(chain)
    r = _propose_add(chain, "org2-v9", vkey)
    assert not r.ok and "validator whale-v (bonded by stake)" in r.error, r.error
    # Its owner bonds it back, as before.
    assert bond_key(chain, whale, "whale-v", vkey, 10).ok


def test_a_vote_cannot_bring_back_a_member_validator_evidence_removed(staked):
    chain, whale, _ = staked
    key = add_member_validator(chain, "org2-v2")
    h = chain.ledger.height
    r = call(chain, whale, "staking", "submit_evidence", *double_sign(chain, key, h))
    assert r.ok and r.result["slashed"] is True, (r.error, r.result)
    chain.block()
    chain.block()
    assert key.public_key not in _keys_in_set(chain)
    for name in ("org2-v2", "org2-v3"):
        r = _propose_add(chain, name, key)
        assert not r.ok and "public key already used by validator org2-v2" in r.error, r.error


def test_a_proposal_fails_when_its_key_was_bonded_before_the_vote(staked):
    chain, whale, _ = staked
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey
    r = _propose_add(chain, "org2-v9", vkey)
    assert r.ok, r.error
    pid = r.result
    assert bond_key(chain, whale, "whale-v", vkey, 10).ok
    assert call(chain, whale, "staking", "unbond", "whale-v", 10).ok  # out of the set again
    for org in ("org1", "org2", "org3"):
        res = chain.ok(chain.admins[org], "vote", pid, True)
    assert res["status"] == "failed", res
    assert "public key already used by validator whale-v" in res["error"], res
    chain.block()
    chain.block()
    assert vkey.public_key not in _keys_in_set(chain)
    assert "org2-v9" not in names(chain.ledger.validator_set(chain.ledger.height + 2))


def test_a_fresh_key_is_still_added_by_a_vote(staked):
    chain, _, _ = staked
    key = add_member_validator(chain, "org2-v2")
    assert _keys_in_set(chain)[key.public_key] == "org2-v2"


def _set_of(chain):
    h = chain.ledger.height + 2
    return {v.name: (v.public_key, v.power) for v in chain.ledger.validator_set(h).validators}


def _displaced_bond_and_a_member_validator_of_its_name(chain, whale):
    """Bond "whale-a" (10), then "whale-c" (20) into a set full at 5 (whale-a is displaced,
    still bonded); a vote raises the bound and adds a member validator named "whale-a" with
    another key. Returns (the bond's key, the member validator's key)."""
    pid = chain.ok(chain.admins["org1"], "propose_set_params", {"max_validators": 5})
    chain.pass_proposal(pid)
    a, c = generate_keypair(), generate_keypair()
    for k in (a, c):
        chain.keys[k.public_key] = k
    assert bond_key(chain, whale, "whale-a", a, 10).ok
    assert bond_key(chain, whale, "whale-c", c, 20).ok
    chain.block()
    chain.block()
    assert "whale-a" not in _set_of(chain) and "whale-c" in _set_of(chain)
    pid = chain.ok(chain.admins["org1"], "propose_set_params", {"max_validators": 6})
    chain.pass_proposal(pid)
    member = add_member_validator(chain, "whale-a")
    assert _set_of(chain)["whale-a"] == (member.public_key, 5)
    return a, member


def test_unbonding_a_displaced_bond_leaves_a_member_validator_of_its_name_alone(staked):
    """The bond's owner unbonds from its displaced "whale-a": the set's "whale-a" (another
    key, a member organisation's) kept its key and power. The set was written by name only:
    the owner's key took its place with the bond's power (and the member's organisation),
    and unbonding all of it took the member's validator out of the set."""
    chain, whale, _ = staked
    _, member = _displaced_bond_and_a_member_validator_of_its_name(chain, whale)
    assert call(chain, whale, "staking", "unbond", "whale-a", 4).ok
    chain.block()
    chain.block()
    assert _set_of(chain)["whale-a"] == (member.public_key, 5)
    assert call(chain, whale, "staking", "unbond", "whale-a", 6).ok
    chain.block()
    chain.block()
    assert _set_of(chain)["whale-a"] == (member.public_key, 5)


def test_evidence_against_a_displaced_bond_leaves_a_member_validator_of_its_name(staked):
    chain, whale, _ = staked
    h = chain.ledger.height + 1
    bond, member = _displaced_bond_and_a_member_validator_of_its_name(chain, whale)
    # The bond signed while in the set: its evidence jails it, not the member's validator.
    signed = next(
        x for x in range(h, chain.ledger.height)
        if "whale-a" in {v.name for v in chain.ledger.validator_set(x).validators}
        and bond.public_key in {v.public_key for v in chain.ledger.validator_set(x).validators}
    )  # fmt: skip
    r = call(chain, whale, "staking", "submit_evidence", *double_sign(chain, bond, signed))
    assert r.ok and r.result["slashed"] is True, (r.error, r.result)
    chain.block()
    chain.block()
    assert _set_of(chain)["whale-a"] == (member.public_key, 5)


def test_a_genesis_validator_governance_removed_comes_back_under_its_name_only(staked):
    chain, _, _ = staked
    from tianfu.crypto.schemes import ED25519

    gkey = next(
        v.public_key for v in chain.ledger.validator_set(1).validators if v.name == "org4-v"
    )
    pid = chain.ok(chain.admins["org1"], "propose_remove_validator", "org4-v")
    chain.pass_proposal(pid)
    chain.block()
    chain.block()
    assert gkey not in _keys_in_set(chain)
    args = ("org4", ED25519, gkey, 7)
    r = chain.call(chain.admins["org1"], "propose_add_validator", "org4-v2", *args)
    assert not r.ok and "public key already used by validator org4-v" in r.error, r.error
    pid = chain.ok(chain.admins["org1"], "propose_add_validator", "org4-v", *args)
    chain.pass_proposal(pid)
    chain.block()
    chain.block()
    assert _set_of(chain)["org4-v"] == (gkey, 7)
