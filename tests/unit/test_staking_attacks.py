"""Attacks on validators by stake (open profile, ADR 0025) by an outsider with accounts and
stake: taking over a member's validator by its name, escaping a slash by unbonding first,
slashing an honest validator with old evidence of another key under the same name, a
double signer without a bond — and the edges that hold (amounts, quorum, the same key
twice, evidence used twice). Through the real Executor and Ledger, every block re-executed
by a replica."""

import pytest
from test_open_accounts import HELLO, POW_BITS, OpenChain
from test_staking import call, names

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
    r = call(chain, whale, "staking", "bond", "org2-v2", mine.scheme, mine.public_key, 1)
    assert not r.ok and "org2-v2" in r.error, r.result
    h = chain.ledger.height
    [v] = [v for v in chain.ledger.validator_set(h + 2).validators if v.name == "org2-v2"]
    assert v.public_key == member_key.public_key and v.power == 5
    # Governance adds a validator under the name of a bond that has left the set: its
    # owner bonding again must not replace that validator either.
    assert call(chain, whale, "staking", "bond", "whale-v", mine.scheme, mine.public_key, 1).ok
    assert call(chain, whale, "staking", "unbond", "whale-v", 1).ok
    gov_key = add_member_validator(chain, "whale-v")
    r = call(chain, whale, "staking", "bond", "whale-v", mine.scheme, mine.public_key, 1)
    assert not r.ok and "member organisation" in r.error, r.result
    h = chain.ledger.height
    [v] = [v for v in chain.ledger.validator_set(h + 2).validators if v.name == "whale-v"]
    assert v.public_key == gov_key.public_key and v.power == 5
