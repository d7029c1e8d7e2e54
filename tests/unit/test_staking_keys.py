"""A consensus key belongs to the validator entry that first bonded it (open profile, ADR
0025): a jailed owner cannot bond its key again under a new name and sign again, nobody can
bond an out-of-set validator's key first (squatting) — a genesis validator's included — and
evidence against the key still burns the stake that signed. Through the real Executor and
Ledger, every block re-executed by a replica."""

import test_staking_attacks
from test_staking import bond_key, call, names, view
from test_staking_attacks import add_member_validator, bond_whale_validator, double_sign

from tianfu.crypto import generate_keypair
from tianfu.crypto.schemes import ED25519

staked = test_staking_attacks.staked  # the fixture: an open chain and a whale with 100 units


def _keys_in_set(chain, height):
    return {v.public_key: v.name for v in chain.ledger.validator_set(height).validators}


def test_a_jailed_owner_cannot_bond_its_key_again_under_a_new_name(staked):
    chain, whale, _ = staked
    vkey = bond_whale_validator(chain, whale, 40)
    h = chain.ledger.height
    r = call(chain, whale, "staking", "submit_evidence", *double_sign(chain, vkey, h))
    assert r.ok and r.result["slashed"] is True, (r.error, r.result)
    assert view(chain, "get_bond", "whale-v")["jailed"]
    # The dodge: the same key under a new name, with the stake left. Refused.
    r = bond_key(chain, whale, "whale-v2", vkey, 10)
    assert not r.ok and "whale-v" in r.error and "jailed" in r.error, r.error
    assert view(chain, "get_bond", "whale-v2") is None
    chain.block()
    chain.block()
    assert vkey.public_key not in _keys_in_set(chain, chain.ledger.height + 2)
    # Nor under a new name by another account the stake moved to.
    friend = generate_keypair()
    friend_address = chain.register(friend)
    assert call(chain, whale, "staking", "transfer", friend_address, 20).ok
    r = bond_key(chain, friend, "friend-v", vkey, 20)
    assert not r.ok and "public key already used" in r.error, r.error
    # A fresh key is a new validator, as it always was.
    fresh = generate_keypair()
    chain.keys[fresh.public_key] = fresh
    assert bond_key(chain, whale, "whale-v3", fresh, 5).ok


def test_nobody_can_bond_an_out_of_set_validators_key_and_its_evidence_burns_its_stake(staked):
    """Validator "whale-v" unbonds to 0 (out of the set); another staker bonding its key
    first would lock its owner out ("public key already used") and take the blame for the
    key's double sign. Refused; the double sign the key made while
    in the set burns its own unbonding stake, not the would-be squatter's."""
    chain, whale, whale_address = staked
    squatter = generate_keypair()
    squatter_address = chain.register(squatter)
    assert call(chain, whale, "staking", "transfer", squatter_address, 30).ok
    vkey = bond_whale_validator(chain, whale, 40)
    signed_at = chain.ledger.height
    assert names(chain.ledger.validator_set(signed_at))["whale-v"] == 40
    assert call(chain, whale, "staking", "unbond", "whale-v", 40).ok
    chain.block()
    chain.block()
    assert vkey.public_key not in _keys_in_set(chain, chain.ledger.height + 2)
    r = bond_key(chain, squatter, "squat-v", vkey, 30)
    assert not r.ok and "public key already used by validator whale-v" in r.error, r.error
    assert view(chain, "get_bond", "squat-v") is None
    assert view(chain, "get_stake", squatter_address)["balance"] == 30
    # Evidence of the double sign it made in the set burns the stake that signed (half).
    r = call(chain, squatter, "staking", "submit_evidence", *double_sign(chain, vkey, signed_at))
    assert r.ok and r.result["slashed"] is True, (r.error, r.result)
    assert view(chain, "burnt") == 20
    [entry] = view(chain, "get_stake", whale_address)["unbonding"]
    assert entry["amount"] == 20 and entry["validator"] == "whale-v"
    assert view(chain, "get_stake", squatter_address) == {"balance": 30, "unbonding": []}


def test_the_owner_bonds_its_own_key_back_under_its_name(staked):
    chain, whale, _ = staked
    vkey = bond_whale_validator(chain, whale, 40)
    assert call(chain, whale, "staking", "unbond", "whale-v", 40).ok
    chain.block()
    chain.block()
    r = bond_key(chain, whale, "whale-v", vkey, 10)
    assert r.ok, r.error
    assert _keys_in_set(chain, chain.ledger.height + 2)[vkey.public_key] == "whale-v"
    r = bond_key(chain, whale, "whale-v9", vkey, 10)
    assert not r.ok and "public key already used" in r.error, r.error


def test_a_genesis_validators_key_cannot_be_bonded_under_another_name(staked):
    """The genesis bonds' keys are not in the key index (the genesis state is unchanged):
    a genesis validator governance removed and unbarred (out of the set, its bond kept)
    still holds its key."""
    chain, whale, _ = staked
    gkey = view(chain, "get_bond", "org4-v")["public_key"]
    pid = chain.ok(chain.admins["org1"], "propose_remove_validator", "org4-v")
    chain.pass_proposal(pid)
    pid = chain.ok(chain.admins["org1"], "propose_unbar_validator", "org4-v")
    chain.pass_proposal(pid)
    chain.block()
    chain.block()
    assert gkey not in _keys_in_set(chain, chain.ledger.height + 2)
    r = call(chain, whale, "staking", "bond", "squat-v", ED25519, gkey, 30)
    assert not r.ok and "public key already used by validator org4-v" in r.error, r.error
    assert gkey not in _keys_in_set(chain, chain.ledger.height + 2)


def test_a_member_validator_removed_for_a_double_sign_cannot_come_back_by_stake(staked):
    """A validator governance added (no bond) that double signs leaves the set (nothing to
    burn). Its key must not come back by stake, under a new name or its own: its holder
    would sign again, past the jail."""
    chain, whale, _ = staked
    key = add_member_validator(chain, "org2-v2")
    h = chain.ledger.height
    r = call(chain, whale, "staking", "submit_evidence", *double_sign(chain, key, h))
    assert r.ok and r.result["slashed"] is True, (r.error, r.result)
    chain.block()
    chain.block()
    assert key.public_key not in _keys_in_set(chain, chain.ledger.height + 2)
    for name in ("org2-v3", "org2-v2"):
        r = bond_key(chain, whale, name, key, 30)
        assert not r.ok and "public key already used by validator org2-v2" in r.error, r.error
        assert view(chain, "get_bond", name) is None
    chain.block()
    chain.block()
    assert key.public_key not in _keys_in_set(chain, chain.ledger.height + 2)


def test_a_new_bond_writes_the_key_index_and_a_genesis_bond_has_none(staked):
    """The new state entry, pinned: a new bond writes `governance/stake/key/<key hex>` =
    its name (a string); a genesis bond has no such entry (the open genesis state is
    unchanged); growing the bond leaves it as it is."""
    from tianfu.codec import decode
    from tianfu.execution.contract_api import state_key

    chain, whale, _ = staked

    def indexed(key):
        raw = chain.ledger.latest.get(state_key("governance", f"stake/key/{key.hex()}"))
        return None if raw is None else decode(raw, str)

    assert indexed(view(chain, "get_bond", "org1-v")["public_key"]) is None
    vkey = generate_keypair()
    r = bond_key(chain, whale, "whale-v", vkey, 10)
    assert r.ok, r.error
    assert indexed(vkey.public_key) == "whale-v"
    assert bond_key(chain, whale, "whale-v", vkey, 5).ok
    assert indexed(vkey.public_key) == "whale-v"
