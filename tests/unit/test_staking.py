"""Unit tests: validators by stake (open profile) — genesis bonds, bond / unbond / withdraw
changing voting power from H + 2, the unbonding period, and slashing of a proven double sign
(a share burnt, the validator jailed and out of the set) — through the real Executor and
Ledger, every block re-executed by a replica."""

import pytest
from test_open_accounts import HELLO, POW_BITS, OpenChain

from tianfu.codec import encode
from tianfu.contracts.staking import prove_possession
from tianfu.crypto import generate_keypair, sign_vote
from tianfu.execution.contract_api import address_of
from tianfu.execution.refusals import AccessRefused
from tianfu.types import PREVOTE, OpenProfile, StakeGrant

UNBONDING = 5


def names(valset):
    return {v.name: v.power for v in valset.validators}


@pytest.fixture
def staked(tmp_path):
    whale = generate_keypair()
    address = address_of(whale.scheme, whale.public_key)
    profile = OpenProfile(
        open_contracts=["hello"], pow_bits=POW_BITS, unbonding_blocks=UNBONDING,
        slash_fraction_bps=5000, stake=[StakeGrant(address, 100)],
    )  # fmt: skip
    c = OpenChain(tmp_path, profile)
    c.block()
    c.deploy("hello", HELLO)
    c.register(whale)
    yield c, whale, address
    c.close()


def call(chain, kp, contract, method, *args):
    tx = chain.account_tx(kp, contract, method, *args)
    chain.admit(tx)
    [r] = chain.block([tx])
    return r


def prove(chain, owner, vkey):
    """The proof of possession of `vkey` a new bond by `owner` (a key pair) carries."""
    owner_address = address_of(owner.scheme, owner.public_key)
    return prove_possession(vkey, chain.genesis.chain_id, owner_address)


def bond_key(chain, owner, name, vkey, amount):
    """`owner` bonds `amount` to a validator `name` of key `vkey`, with its proof of possession."""
    return call(
        chain, owner, "staking", "bond", name, vkey.scheme, vkey.public_key, amount,
        prove(chain, owner, vkey),
    )  # fmt: skip


def view(chain, method, *args):
    return chain.ledger.executor.query(
        "staking", method, list(args), chain.ledger.latest.get, chain.ledger.height, 0
    )


def test_genesis_bonds_and_balances(staked):
    chain, _, address = staked
    assert view(chain, "get_stake", address) == {"balance": 100, "unbonding": []}
    bond = view(chain, "get_bond", "org1-v")
    assert bond["amount"] == 10 and not bond["jailed"]
    assert bond["owner"] == address_of(bond["scheme"], bond["public_key"])


def test_bond_and_unbond_change_power_at_h_plus_2(staked):
    chain, whale, address = staked
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey  # the test signs certificates for the new validator
    r = bond_key(chain, whale, "whale-v", vkey, 30)
    assert r.ok, r.error
    h = chain.ledger.height
    assert r.result == {"validator": "whale-v", "power": 30, "effective_height": h + 2}
    assert "whale-v" not in names(chain.ledger.validator_set(h + 1))
    assert names(chain.ledger.validator_set(h + 2))["whale-v"] == 30
    assert view(chain, "get_stake", address)["balance"] == 70
    # Bonding more raises the power, again from H + 2.
    r = bond_key(chain, whale, "whale-v", vkey, 20)
    h = chain.ledger.height
    assert names(chain.ledger.validator_set(h + 1))["whale-v"] == 30
    assert names(chain.ledger.validator_set(h + 2))["whale-v"] == 50
    # Unbond: the power drops from H + 2; the stake is free UNBONDING blocks later.
    r = call(chain, whale, "staking", "unbond", "whale-v", 50)
    assert r.ok, r.error
    h = chain.ledger.height
    assert r.result["release"] == h + UNBONDING
    assert names(chain.ledger.validator_set(h + 1))["whale-v"] == 50
    assert "whale-v" not in names(chain.ledger.validator_set(h + 2))
    r = call(chain, whale, "staking", "withdraw")
    assert not r.ok and "free yet" in r.error
    while chain.ledger.height < h + UNBONDING - 1:
        chain.block()
    r = call(chain, whale, "staking", "withdraw")  # executed at height h + UNBONDING
    assert r.ok and r.result == {"withdrawn": 50, "balance": 100}, r


def test_bond_refusals(staked):
    chain, whale, _ = staked
    vkey = generate_keypair()
    for args, msg in (
        (("x-v", vkey.scheme, vkey.public_key, 101), "holds 100"),
        (("org1-v", vkey.scheme, vkey.public_key, 1), "belongs to"),
        (("bad name!", vkey.scheme, vkey.public_key, 1), "validator name"),
        (("y-v", vkey.scheme, b"short", 1), "public_key"),
        (("z-v", vkey.scheme, vkey.public_key, 0), "amount"),
    ):
        r = call(chain, whale, "staking", "bond", *args)
        assert not r.ok and msg in r.error, (args, r.error)
    r = call(chain, whale, "staking", "unbond", "org1-v", 1)
    assert not r.ok and "no validator named" in r.error


def test_transfer(staked):
    chain, whale, address = staked
    other = address_of(*(lambda k: (k.scheme, k.public_key))(generate_keypair()))
    r = call(chain, whale, "staking", "transfer", other, 40)
    assert r.ok, r.error
    assert view(chain, "get_stake", address)["balance"] == 60
    assert view(chain, "get_stake", other)["balance"] == 40
    r = call(chain, whale, "staking", "transfer", other, 61)
    assert not r.ok and "holds 60" in r.error


def test_double_sign_is_slashed_and_jailed(staked):
    chain, whale, address = staked
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey
    assert bond_key(chain, whale, "whale-v", vkey, 8).ok
    chain.block()
    chain.block()
    h = chain.ledger.height
    assert "whale-v" in names(chain.ledger.validator_set(h))
    a = encode(sign_vote(vkey, chain.genesis.chain_id, h, 0, PREVOTE, b"\x01" * 32))
    b = encode(sign_vote(vkey, chain.genesis.chain_id, h, 0, PREVOTE, b"\x02" * 32))
    # Anyone may prove it on an open chain: here an account with no stake at all.
    reporter = generate_keypair()
    chain.register(reporter)
    with pytest.raises(AccessRefused, match="not open"):  # governance is members' only...
        chain.admit(chain.account_tx(reporter, "governance", "submit_evidence", a, b))
    r = call(chain, reporter, "staking", "submit_evidence", a, b)  # ...staking is open
    assert r.ok and r.result["slashed"] is True, r.error
    h = chain.ledger.height
    bond = view(chain, "get_bond", "whale-v")
    assert bond["jailed"] and bond["amount"] == 4
    assert view(chain, "burnt") == 4
    assert "whale-v" in names(chain.ledger.validator_set(h + 1))
    assert "whale-v" not in names(chain.ledger.validator_set(h + 2))
    events = [e.name for e in r.events]
    assert "ValidatorSlashed" in events
    # Jailed: it cannot bond again; its remaining stake can still be unbonded.
    r = bond_key(chain, whale, "whale-v", vkey, 1)
    assert not r.ok and "jailed" in r.error
    r = call(chain, whale, "staking", "unbond", "whale-v", 4)
    assert r.ok, r.error
    # The same evidence again is refused.
    r = chain.call(chain.admins["org3"], "submit_evidence", b, a)
    assert not r.ok and "already recorded" in r.error


def test_a_validator_governance_removes_is_barred_from_bonding_until_lifted(staked):
    chain, whale, _ = staked
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey
    assert bond_key(chain, whale, "whale-v", vkey, 30).ok
    friend = generate_keypair()
    friend_address = chain.register(friend)
    assert call(chain, whale, "staking", "transfer", friend_address, 10).ok
    pid = chain.ok(chain.admins["org1"], "propose_remove_validator", "whale-v")
    chain.pass_proposal(pid)
    h = chain.ledger.height
    assert "whale-v" not in names(chain.ledger.validator_set(h + 2))
    # Its owner may not bond back, under its name or another, with its key or another...
    fresh = generate_keypair()
    for name, key in (("whale-v", vkey), ("whale-v2", vkey), ("whale-v3", fresh)):
        r = bond_key(chain, whale, name, key, 10)
        assert not r.ok and "removed by governance" in r.error, r.error
    # ...nor may another account bond its key.
    r = bond_key(chain, friend, "friend-v", vkey, 10)
    assert not r.ok and "removed by governance" in r.error, r.error
    assert "whale-v" not in names(chain.ledger.validator_set(chain.ledger.height + 2))
    # Its stake is not locked in: it may be unbonded.
    assert call(chain, whale, "staking", "unbond", "whale-v", 5).ok
    # Governance lifts the bar: the validator may bond and come back.
    pid = chain.ok(chain.admins["org1"], "propose_unbar_validator", "whale-v")
    chain.pass_proposal(pid)
    r = bond_key(chain, whale, "whale-v", vkey, 10)
    assert r.ok, r.error
    assert names(chain.ledger.validator_set(chain.ledger.height + 2))["whale-v"] == 35
    # Nothing to lift any more.
    r = chain.call(chain.admins["org1"], "propose_unbar_validator", "whale-v")
    assert not r.ok and "not barred" in r.error


def test_a_barred_owner_cannot_move_its_stake_to_a_new_key(staked):
    """The owner of a validator governance removed unbonds, withdraws and would transfer
    its stake to a fresh address to bond a fresh key (a new validator, past the vote):
    its stake stays with it until the bar is lifted."""
    chain, whale, address = staked
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey
    assert bond_key(chain, whale, "whale-v", vkey, 30).ok
    pid = chain.ok(chain.admins["org1"], "propose_remove_validator", "whale-v")
    chain.pass_proposal(pid)
    assert call(chain, whale, "staking", "unbond", "whale-v", 30).ok
    release = view(chain, "get_stake", address)["unbonding"][0]["release"]
    while chain.ledger.height < release:
        chain.block()
    assert call(chain, whale, "staking", "withdraw").ok
    assert view(chain, "get_stake", address)["balance"] == 100
    alias = generate_keypair()
    alias_address = chain.register(alias)
    r = call(chain, whale, "staking", "transfer", alias_address, 100)
    assert not r.ok and "removed by governance" in r.error, r.error
    assert view(chain, "get_stake", alias_address)["balance"] == 0
    r = bond_key(chain, alias, "alias-v", alias, 50)
    assert not r.ok and "holds 0" in r.error, r.error
    # Lifted by governance: the stake moves again.
    pid = chain.ok(chain.admins["org1"], "propose_unbar_validator", "whale-v")
    chain.pass_proposal(pid)
    assert call(chain, whale, "staking", "transfer", alias_address, 100).ok
