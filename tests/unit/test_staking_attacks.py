"""Attacks on validators by stake (open profile, ADR 0025) by an outsider with accounts and
stake: taking over a member's validator by its name, escaping a slash by unbonding first,
slashing an honest validator with old evidence of another key under the same name, a
double signer without a bond — and the edges that hold (amounts, quorum, the same key
twice, evidence used twice). Through the real Executor and Ledger, every block re-executed
by a replica."""

import pytest
from test_open_accounts import HELLO, POW_BITS, OpenChain
from test_staking import bond_key, call, names, view

from tianfu.codec import encode
from tianfu.crypto import generate_keypair, sign_vote
from tianfu.execution.contract_api import address_of
from tianfu.types import PREVOTE, OpenProfile, StakeGrant

UNBONDING = 5


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


def double_sign(chain, key, height, kind=PREVOTE):
    cid = chain.genesis.chain_id
    a = encode(sign_vote(key, cid, height, 0, kind, b"\x01" * 32))
    b = encode(sign_vote(key, cid, height, 0, kind, b"\x02" * 32))
    return a, b


def bond_whale_validator(chain, whale, amount):
    """A new key bonded by `whale` as validator "whale-v" with `amount`, two blocks on (in
    the set)."""
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey
    assert bond_key(chain, whale, "whale-v", vkey, amount).ok
    chain.block()
    chain.block()
    return vkey


def add_member_validator(chain, name):
    """Governance adds validator `name` of org2 (no stake behind it)."""
    key = generate_keypair()
    chain.keys[key.public_key] = key
    pid = chain.ok(
        chain.admins["org2"], "propose_add_validator", name, "org2", key.scheme,
        key.public_key, 5,
    )  # fmt: skip
    h = chain.pass_proposal(pid)
    chain.block()
    chain.block()
    assert names(chain.ledger.validator_set(h + 2))[name] == 5
    return key


def test_an_outsider_cannot_take_over_a_members_validator_by_its_name(staked):
    """A validator added by governance has no bond; bonding 1 unit under its name must not
    replace its key (and power) in the set with the outsider's."""
    chain, whale, _ = staked
    member_key = add_member_validator(chain, "org2-v2")
    mine = generate_keypair()
    chain.keys[mine.public_key] = mine
    r = bond_key(chain, whale, "org2-v2", mine, 1)
    assert not r.ok and "org2-v2" in r.error, r.result
    h = chain.ledger.height
    [v] = [v for v in chain.ledger.validator_set(h + 2).validators if v.name == "org2-v2"]
    assert v.public_key == member_key.public_key and v.power == 5
    # Governance adds a validator under the name of a bond that has left the set: its
    # owner bonding again must not replace that validator either.
    assert bond_key(chain, whale, "whale-v", mine, 1).ok
    assert call(chain, whale, "staking", "unbond", "whale-v", 1).ok
    gov_key = add_member_validator(chain, "whale-v")
    r = bond_key(chain, whale, "whale-v", mine, 1)
    assert not r.ok and "member organisation" in r.error, r.result
    h = chain.ledger.height
    [v] = [v for v in chain.ledger.validator_set(h + 2).validators if v.name == "whale-v"]
    assert v.public_key == gov_key.public_key and v.power == 5


def test_a_double_signer_without_a_bond_leaves_the_set(staked):
    """A member validator (no stake) that double signs on an open chain leaves the set from
    H + 2, as a staked one does."""
    chain, whale, _ = staked
    key = add_member_validator(chain, "org2-v2")
    h = chain.ledger.height
    reporter = generate_keypair()
    chain.register(reporter)
    r = call(chain, reporter, "staking", "submit_evidence", *double_sign(chain, key, h))
    assert r.ok and r.result["slashed"] is True, (r.error, r.result)
    h = chain.ledger.height
    assert "org2-v2" in names(chain.ledger.validator_set(h + 1))
    assert "org2-v2" not in names(chain.ledger.validator_set(h + 2))


def test_unbonding_first_does_not_escape_the_slash(staked):
    """A validator unbonds all its stake at H (still signing at H + 1) and double signs at
    H + 1: the evidence burns the share of the stake still unbonding, and the withdrawal
    after the period returns only what is left."""
    chain, whale, address = staked
    vkey = bond_whale_validator(chain, whale, 40)
    r = call(chain, whale, "staking", "unbond", "whale-v", 40)
    assert r.ok, r.error
    h = chain.ledger.height
    assert names(chain.ledger.validator_set(h + 1))["whale-v"] == 40  # still signs at h + 1
    evidence = double_sign(chain, vkey, h + 1)
    r = call(chain, whale, "staking", "submit_evidence", *evidence)
    assert r.ok and r.result["slashed"] is True, r.error
    assert view(chain, "burnt") == 20
    assert view(chain, "get_bond", "whale-v")["jailed"]
    assert sum(e["amount"] for e in view(chain, "get_stake", address)["unbonding"]) == 20
    while chain.ledger.height < h + UNBONDING:
        chain.block()
    r = call(chain, whale, "staking", "withdraw")
    assert r.ok and r.result == {"withdrawn": 20, "balance": 80}, (r.error, r.result)


def test_stake_unbonded_before_the_double_sign_is_not_slashed(staked):
    """Stake that had left the set (unbonded at H, out from H + 2) before the double-signed
    height is not burnt; the stake still bonded is."""
    chain, whale, address = staked
    vkey = bond_whale_validator(chain, whale, 40)
    assert call(chain, whale, "staking", "unbond", "whale-v", 30).ok
    h = chain.ledger.height
    chain.block()
    chain.block()
    r = call(chain, whale, "staking", "submit_evidence", *double_sign(chain, vkey, h + 2))
    assert r.ok and r.result["slashed"] is True, r.error
    assert view(chain, "burnt") == 5  # half of the 10 still bonded at h + 2
    assert view(chain, "get_stake", address)["unbonding"][0]["amount"] == 30


def test_old_evidence_of_another_key_under_the_same_name_does_not_slash(staked):
    """A member validator removed by governance leaves its name free; a staker who bonds
    that name later is not slashed by evidence of the old key's double sign."""
    chain, whale, address = staked
    old_key = add_member_validator(chain, "org2-v2")
    old_height = chain.ledger.height
    pid = chain.ok(chain.admins["org2"], "propose_remove_validator", "org2-v2")
    chain.pass_proposal(pid)
    chain.block()
    chain.block()
    mine = generate_keypair()
    chain.keys[mine.public_key] = mine
    r = bond_key(chain, whale, "org2-v2", mine, 40)
    assert r.ok, r.error
    chain.block()
    chain.block()
    reporter = generate_keypair()
    chain.register(reporter)
    evidence = double_sign(chain, old_key, old_height)
    r = call(chain, reporter, "staking", "submit_evidence", *evidence)
    assert r.ok and r.result["slashed"] is False, (r.error, r.result)
    bond = view(chain, "get_bond", "org2-v2")
    assert bond["amount"] == 40 and not bond["jailed"] and view(chain, "burnt") == 0
    assert names(chain.ledger.validator_set(chain.ledger.height + 2))["org2-v2"] == 40


def test_amount_and_key_edges_hold(staked):
    """Zero, negative, boolean, fractional and huge amounts are refused; one consensus key
    cannot be bonded under two names; unbonding more than the bond is refused; a
    withdrawal before the period frees nothing."""
    chain, whale, address = staked
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey
    for amount in (0, -1, True, 1.5, 10**15 + 1, 2**63 - 1):
        r = bond_key(chain, whale, "w-v", vkey, amount)
        assert not r.ok and "amount" in r.error, (amount, r.error)
    assert bond_key(chain, whale, "w-v", vkey, 10).ok
    r = bond_key(chain, whale, "w-v2", vkey, 10)
    assert not r.ok and "public key already used" in r.error, r.error
    r = call(chain, whale, "staking", "unbond", "w-v", 11)
    assert not r.ok and "has 10 bonded" in r.error
    assert call(chain, whale, "staking", "unbond", "w-v", 10).ok
    r = call(chain, whale, "staking", "withdraw")
    assert not r.ok and "free yet" in r.error
    assert view(chain, "get_stake", address)["balance"] == 90


def test_evidence_of_another_round_does_not_slash_twice(staked):
    """The same validator's double signs in two rounds are two records, but it is burnt and
    jailed once; the same votes again are refused."""
    chain, whale, _ = staked
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey
    assert bond_key(chain, whale, "w-v", vkey, 40).ok
    chain.block()
    chain.block()
    h = chain.ledger.height
    cid = chain.genesis.chain_id
    first = double_sign(chain, vkey, h)
    other_round = [encode(sign_vote(vkey, cid, h, 1, PREVOTE, bytes([i]) * 32)) for i in (3, 4)]
    r = call(chain, whale, "staking", "submit_evidence", *first)
    assert r.ok and r.result["slashed"] is True
    r = call(chain, whale, "staking", "submit_evidence", *other_round)
    assert r.ok and r.result["slashed"] is False, r.result
    assert view(chain, "burnt") == 20
    r = call(chain, whale, "staking", "submit_evidence", *reversed(first))
    assert not r.ok and "already recorded" in r.error


def test_dust_validators_filling_the_set_cannot_lock_out_a_larger_bond(staked):
    """Validators of 1 unit each fill the set (`max_validators`); a newcomer bonding more
    than the least of them takes its place (it stays bonded, out of the set, and can
    unbond and withdraw); a newcomer bonding no more is refused; member organisations'
    validators are never displaced."""
    chain, whale, address = staked
    pid = chain.ok(chain.admins["org1"], "propose_set_params", {"max_validators": 6})
    chain.pass_proposal(pid)
    dust = []
    for i in range(2):  # 4 member validators + 2 of 1 unit: the set is full
        k = generate_keypair()
        chain.keys[k.public_key] = k
        assert bond_key(chain, whale, f"dust{i}", k, 1).ok
        dust.append(k)
    honest = generate_keypair()
    honest_address = address_of(honest.scheme, honest.public_key)
    chain.keys[honest.public_key] = honest
    chain.register(honest)
    assert call(chain, whale, "staking", "transfer", honest_address, 30).ok
    r = bond_key(chain, honest, "honest-v", honest, 20)
    assert r.ok, r.error
    h = chain.ledger.height
    late = generate_keypair()
    r = bond_key(chain, whale, "late-v", late, 1)
    assert not r.ok and "set is full" in r.error, r.error  # no more than the least (1)
    after = names(chain.ledger.validator_set(h + 2))
    assert after["honest-v"] == 20 and "dust0" not in after and after["dust1"] == 1
    assert {"org1-v", "org2-v", "org3-v", "org4-v"} <= set(after)
    assert view(chain, "get_bond", "dust0")["amount"] == 1  # still bonded, out of the set
    # Unbonding a displaced validator does not bring it back.
    r = call(chain, whale, "staking", "unbond", "dust0", 1)
    assert r.ok, r.error
    assert "dust0" not in names(chain.ledger.validator_set(chain.ledger.height + 2))


def test_stake_bonded_after_the_double_sign_is_not_slashed(staked):
    """Power 20 signed the double-signed height; 60 more bonded after it: only a share of
    the 20 is burnt."""
    chain, whale, _ = staked
    vkey = bond_whale_validator(chain, whale, 20)
    h = chain.ledger.height
    assert names(chain.ledger.validator_set(h))["whale-v"] == 20
    evidence = double_sign(chain, vkey, h)
    assert bond_key(chain, whale, "whale-v", vkey, 60).ok
    chain.block()
    chain.block()
    r = call(chain, whale, "staking", "submit_evidence", *evidence)
    assert r.ok and r.result["slashed"] is True, r.error
    assert view(chain, "burnt") == 10  # half of the 20 that signed, not of the 80 bonded
    assert view(chain, "get_bond", "whale-v")["amount"] == 70


def test_stake_unbonded_and_bonded_again_after_the_double_sign_is_burnt_once(staked):
    """40 signed; 30 unbonded and 30 bonded again after it: half of the 40, once."""
    chain, whale, address = staked
    vkey = bond_whale_validator(chain, whale, 40)
    h = chain.ledger.height
    evidence = double_sign(chain, vkey, h)
    assert call(chain, whale, "staking", "unbond", "whale-v", 30).ok
    assert bond_key(chain, whale, "whale-v", vkey, 30).ok
    r = call(chain, whale, "staking", "submit_evidence", *evidence)
    assert r.ok and r.result["slashed"] is True, r.error
    assert view(chain, "burnt") == 20
    assert view(chain, "get_stake", address)["unbonding"][0]["amount"] == 15
    assert view(chain, "get_bond", "whale-v")["amount"] == 35


def test_stake_bonded_and_unbonded_after_the_double_sign_is_not_slashed(staked):
    """Power 20 signed the double-signed height; 60 more bonded after it and then unbonded
    (still unbonding): the burn is half of the 20 that signed, not half of the 60 that
    never signed it."""
    chain, whale, address = staked
    vkey = bond_whale_validator(chain, whale, 20)
    h = chain.ledger.height
    assert names(chain.ledger.validator_set(h))["whale-v"] == 20
    evidence = double_sign(chain, vkey, h)
    assert bond_key(chain, whale, "whale-v", vkey, 60).ok
    chain.block()
    chain.block()
    assert call(chain, whale, "staking", "unbond", "whale-v", 60).ok
    r = call(chain, whale, "staking", "submit_evidence", *evidence)
    assert r.ok and r.result["slashed"] is True, r.error
    assert view(chain, "burnt") == 10
    bond = view(chain, "get_bond", "whale-v")["amount"]
    unbonding = sum(e["amount"] for e in view(chain, "get_stake", address)["unbonding"])
    assert bond + unbonding == 70  # 80 bonded at most, less the 10 burnt
    assert view(chain, "get_stake", address)["balance"] + bond + unbonding + 10 == 100


def test_unbonding_in_small_pieces_does_not_round_the_slash_away(staked):
    """A validator that double signs, then unbonds part of its stake one unit at a time
    before the evidence lands: each unbonding alone rounds 50% of one unit down to 0, so
    burning each piece's share separately left the pieces untouched (16 of the 40 units
    that signed burnt, not 20). The share is taken of the whole stake that signed, rounded
    down once."""
    chain, whale, address = staked
    vkey = bond_whale_validator(chain, whale, 40)
    h = chain.ledger.height
    assert names(chain.ledger.validator_set(h))["whale-v"] == 40
    evidence = double_sign(chain, vkey, h)
    pieces = [chain.account_tx(whale, "staking", "unbond", "whale-v", 1) for _ in range(8)]
    for tx in pieces:
        chain.admit(tx)
    assert all(r.ok for r in chain.block(pieces))
    r = call(chain, whale, "staking", "submit_evidence", *evidence)
    assert r.ok and r.result["slashed"] is True, r.error
    assert view(chain, "burnt") == 20
    bond = view(chain, "get_bond", "whale-v")
    unbonding = view(chain, "get_stake", address)["unbonding"]
    assert bond["amount"] + sum(e["amount"] for e in unbonding) == 20
    assert view(chain, "get_stake", address)["balance"] == 60  # 100 granted, 40 bonded
