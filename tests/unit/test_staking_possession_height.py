"""The proof of possession in `staking.bond` takes effect from a height (ADR 0025): a chain
made from a genesis of seven open settings (`OpenProfileV1`), before the proof existed,
holds bonds without one; it must replay to the same state (same gas, same receipts) on this
version, and needs a proof only from the height a governance `set_params` of
`possession_height` names. An eight-field `OpenProfile` names the height (0 by default). Through the real Executor and Ledger, every
block re-executed by a replica."""

import msgspec
import pytest
from test_open_accounts import HELLO, POW_BITS, OpenChain
from test_staking import call, prove, view

from tianfu.codec import encode
from tianfu.contracts import reviewed_admission
from tianfu.crypto import generate_keypair
from tianfu.execution.contract_api import address_of
from tianfu.types import (
    OpenGenesis,
    OpenGenesisV1,
    OpenProfile,
    OpenProfileV1,
    StakeGrant,
    decode_genesis,
)

# The gas a new validator's `bond` without a proof used on the code before the proof of
# possession existed (commit 90ad3b91^), on a chain made as `legacy` makes it: a chain
# replayed on this version must charge the same (the account's gas bucket is state).
# The same chain's second bond to that validator: 4332.
OLD_BOND_GAS, OLD_MORE_GAS = 4692, 4332


def _chain(tmp_path, genesis_class, profile_class, **extra):
    whale = generate_keypair()
    address = address_of(whale.scheme, whale.public_key)
    profile = profile_class(
        open_contracts=["hello"], pow_bits=POW_BITS, unbonding_blocks=5,
        slash_fraction_bps=5000, stake=[StakeGrant(address, 100)], **extra,
    )  # fmt: skip
    c = OpenChain(tmp_path, profile, genesis_class)
    c.block()
    c.deploy("hello", HELLO)
    c.register(whale)
    return c, whale


@pytest.fixture
def legacy(tmp_path):
    c, whale = _chain(tmp_path, OpenGenesisV1, OpenProfileV1)
    yield c, whale
    c.close()


def bond_without_proof(chain, owner, name, amount=10):
    vkey = generate_keypair()
    chain.keys[vkey.public_key] = vkey
    return vkey, call(chain, owner, "staking", "bond", name, vkey.scheme, vkey.public_key, amount)


def test_an_old_open_genesis_keeps_its_bytes_and_genesis_state(legacy):
    chain, _ = legacy
    g = chain.genesis
    data = encode(g)
    fields = msgspec.msgpack.decode(data)
    assert len(fields) == 9 and len(fields[8]) == 7  # as written before the proof existed
    again = decode_genesis(data)
    assert type(again) is OpenGenesisV1 and encode(again) == data and again.hash == g.hash
    assert "possession_height" not in reviewed_admission.genesis_entries(g)["params"]
    profile = OpenProfile(*msgspec.structs.astuple(g.open_profile), possession_height=7)
    base = [getattr(g, f) for f in g.__struct_fields__[:-1]]
    new = OpenGenesis(*base, open_profile=profile)
    fields = msgspec.msgpack.decode(encode(new))
    assert len(fields) == 9 and len(fields[8]) == 8
    back = decode_genesis(encode(new))
    assert type(back) is OpenGenesis and back.open_profile.possession_height == 7
    assert reviewed_admission.genesis_entries(new)["params"]["possession_height"] == 7
    bad = OpenGenesis(*base, open_profile=msgspec.structs.replace(profile, possession_height=-1))
    with pytest.raises(ValueError, match="possession_height"):
        bad.validate()


def test_an_old_chains_bond_without_proof_replays_with_the_same_gas(legacy):
    chain, whale = legacy
    vkey, r = bond_without_proof(chain, whale, "old-v")
    assert r.ok, r.error  # the replica re-executed it to the same roots
    assert view(chain, "get_bond", "old-v")["public_key"] == vkey.public_key
    assert r.gas_used == OLD_BOND_GAS
    r = call(chain, whale, "staking", "bond", "old-v", vkey.scheme, vkey.public_key, 10)
    assert r.ok and r.gas_used == OLD_MORE_GAS, (r.error, r.gas_used)
    # A chain of the same genesis format made by the code between (proofs from block 1)
    # sent proofs: a proof given is checked, as that code did.
    other = generate_keypair()
    r = call(chain, whale, "staking", "bond", "x-v", other.scheme, other.public_key, 1, b"p")
    assert not r.ok and "proof of possession" in r.error, r.error
    r = call(chain, whale, "staking", "bond", "x-v", other.scheme, other.public_key, 1,
             prove(chain, whale, other))  # fmt: skip
    assert r.ok, r.error


def test_governance_sets_the_height_on_an_old_chain(legacy):
    chain, whale = legacy
    start = chain.ledger.height + 8
    pid = chain.ok(chain.admins["org1"], "propose_set_params", {"possession_height": start})
    chain.pass_proposal(pid)
    assert chain.ledger.height < start - 1
    _, r = bond_without_proof(chain, whale, "before-v")
    assert r.ok, r.error  # below the height: the old meaning
    while chain.ledger.height + 1 < start:
        chain.block()
    _, r = bond_without_proof(chain, whale, "after-v")
    assert not r.ok and "proof of possession" in r.error, r.error
    assert view(chain, "get_bond", "after-v") is None
    vkey = generate_keypair()
    r = call(chain, whale, "staking", "bond", "proved-v", vkey.scheme, vkey.public_key, 5,
             prove(chain, whale, vkey))  # fmt: skip
    assert r.ok, r.error


def test_an_eight_field_open_profile_names_the_height(tmp_path):
    chain, whale = _chain(tmp_path, OpenGenesis, OpenProfile, possession_height=8)
    try:
        assert chain.ledger.height < 7
        _, r = bond_without_proof(chain, whale, "early-v")
        assert r.ok, r.error
        while chain.ledger.height + 1 < 8:
            chain.block()
        _, r = bond_without_proof(chain, whale, "late-v")
        assert not r.ok and "proof of possession" in r.error, r.error
    finally:
        chain.close()


def test_a_new_chain_needs_the_proof_from_its_first_block(tmp_path):
    chain, whale = _chain(tmp_path, OpenGenesis, OpenProfile)
    try:
        assert chain.genesis.open_profile.possession_height == 0
        _, r = bond_without_proof(chain, whale, "any-v")
        assert not r.ok and "proof of possession" in r.error, r.error
    finally:
        chain.close()
