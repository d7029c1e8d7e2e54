"""A new validator's bond proves possession of its consensus key (open profile, ADR 0025):
`bond` took any valid point, so whoever saw a key an operator was about to use (its node
shows it to every peer it links with) could bond it first — and the key belongs to its first
bond, for good. Through the real Executor and Ledger, every block re-executed by a replica."""

import pytest
import test_staking_attacks
from test_staking import call, prove, view

from tianfu.contracts.staking import possession_message, prove_possession
from tianfu.crypto import chain_suite, generate_keypair, get_suite
from tianfu.crypto.schemes import SM2

staked = test_staking_attacks.staked  # the fixture: an open chain and a whale with 100 units


@pytest.fixture
def squatter(staked):
    """A second account with 10 stake units: it knows the operator's public key only."""
    chain, whale, _ = staked
    kp = generate_keypair()
    address = chain.register(kp)
    assert call(chain, whale, "staking", "transfer", address, 10).ok
    return kp, address


def test_a_key_cannot_be_bonded_by_someone_who_does_not_hold_it(staked, squatter):
    chain, whale, whale_address = staked
    squat, squat_address = squatter
    operator_key = generate_keypair()  # the operator's node shows its public key to peers
    pk = operator_key.public_key
    # Without a proof, with a proof by another key, with the operator's proof made for the
    # operator (replayed), for another chain: refused, and nothing changes.
    other = generate_keypair()
    attempts = {
        "none": (),
        "empty": (b"",),
        "another key": (prove_possession(other, chain.genesis.chain_id, squat_address),),
        "replayed": (prove(chain, whale, operator_key),),
        "another chain": (prove_possession(operator_key, "other-chain", squat_address),),
        "not bytes": ("00" * 64,),
    }
    for why, extra in attempts.items():
        r = call(chain, squat, "staking", "bond", "squat-v", operator_key.scheme, pk, 10, *extra)
        assert not r.ok and "proof of possession" in r.error, (why, r.error)
        assert view(chain, "get_bond", "squat-v") is None, why
        assert view(chain, "get_stake", squat_address)["balance"] == 10, why
    # The key is still free: its holder's owner bonds it with its proof.
    r = call(
        chain, whale, "staking", "bond", "op-v", operator_key.scheme, pk, 30,
        prove(chain, whale, operator_key),
    )  # fmt: skip
    assert r.ok, r.error
    assert view(chain, "get_bond", "op-v")["public_key"] == pk
    # Bonding more to one's own validator needs no new proof.
    assert call(chain, whale, "staking", "bond", "op-v", operator_key.scheme, pk, 5).ok
    assert view(chain, "get_bond", "op-v")["amount"] == 35
    assert view(chain, "get_stake", whale_address)["balance"] == 55


def test_the_possession_message_binds_chain_owner_scheme_and_key():
    kp = generate_keypair()
    base = possession_message("c", "a" * 40, kp.scheme, kp.public_key)
    assert len({
        base,
        possession_message("d", "a" * 40, kp.scheme, kp.public_key),
        possession_message("c", "b" * 40, kp.scheme, kp.public_key),
        possession_message("c", "a" * 40, kp.scheme + 1, kp.public_key),
        possession_message("c", "a" * 40, kp.scheme, generate_keypair().public_key),
    }) == 5  # fmt: skip
    proof = prove_possession(kp, "c", "a" * 40)
    assert get_suite(kp.scheme).verify(kp.public_key, base, proof)


def test_an_sm2_proof_of_possession_is_made_and_checked_in_the_chain_suite():
    with chain_suite("sm2").use():
        kp = generate_keypair(SM2)
        assert kp.scheme == SM2
        proof = prove_possession(kp, "sm2-chain", "a" * 40)
        msg = possession_message("sm2-chain", "a" * 40, SM2, kp.public_key)
        assert get_suite(SM2).verify(kp.public_key, msg, proof)
        other = possession_message("sm2-chain", "b" * 40, SM2, kp.public_key)
        assert not get_suite(SM2).verify(kp.public_key, other, proof)
