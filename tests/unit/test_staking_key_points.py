"""A validator's consensus key must be able to sign (open profile, ADR 0025): `bond` and an
`add_validator` proposal checked its size only, so a point off the curve, the identity or a
point of small order took a place in the set (and a share of the quorum's power) and never
signed. Each is refused with `InvalidConsensusKey`, on Ed25519 and on SM2. Through the real
Executor and Ledger, every block re-executed by a replica."""

import nacl.bindings
import pytest
import test_staking_attacks
from test_staking import call, view

from tianfu.contracts.reviewed_admission import InvalidConsensusKey, check_consensus_key
from tianfu.crypto import chain_suite, generate_keypair
from tianfu.crypto.schemes import ED25519, SM2

# Ed25519 encodings that are the right size but not a key of the prime-order subgroup.
ED_IDENTITY = bytes([1]) + bytes(31)  # (0, 1): order 1
ED_ORDER_8 = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
ED_ORDER_2 = bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
ED_OFF_CURVE = bytes([2]) + bytes(31)  # y = 2: no x makes it a point
ED_NON_CANONICAL = bytes([0xED]) + b"\xff" * 30 + b"\x7f"  # y = p: y mod p = 0 encoded >= p
staked = test_staking_attacks.staked  # the fixture: an open chain and a whale with 100 units
SM2_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF


@pytest.mark.parametrize(
    "key",
    [ED_IDENTITY, ED_ORDER_8, ED_ORDER_2, ED_OFF_CURVE, ED_NON_CANONICAL],
    ids=["identity", "order-8", "order-2", "off-curve", "non-canonical"],
)
def test_bond_refuses_an_ed25519_key_that_cannot_sign(staked, key):
    chain, whale, address = staked
    r = call(chain, whale, "staking", "bond", "dud-v", ED25519, key, 30)
    assert not r.ok and "invalid consensus key: not an ed25519 public key" in r.error, r.error
    assert view(chain, "get_bond", "dud-v") is None
    assert view(chain, "get_stake", address)["balance"] == 100
    with chain_suite("standard").use(), pytest.raises(InvalidConsensusKey):
        check_consensus_key(ED25519, key)


def test_bond_refuses_an_ed25519_key_with_a_small_order_component(staked):
    """A real key plus a point of order 8: it verifies nothing libsodium accepts for it."""
    chain, whale, _ = staked
    mixed = nacl.bindings.crypto_core_ed25519_add(generate_keypair().public_key, ED_ORDER_8)
    r = call(chain, whale, "staking", "bond", "dud-v", ED25519, mixed, 30)
    assert not r.ok and "invalid consensus key: not an ed25519 public key" in r.error, r.error


def test_an_add_validator_proposal_refuses_a_key_that_cannot_sign(staked):
    chain, _, _ = staked
    for key in (ED_IDENTITY, ED_ORDER_8, ED_OFF_CURVE):
        r = chain.call(
            chain.admins["org2"], "propose_add_validator", "dud-v", "org2", ED25519, key, 5
        )
        assert not r.ok and "invalid consensus key: not an ed25519 public key" in r.error, r.error


def _sm2_on_curve_x() -> int:
    with chain_suite("sm2").use():
        return next(x for x in range(1, 100) if _sm2_ok(b"\x02" + x.to_bytes(32, "big")))


def _sm2_ok(key: bytes) -> bool:
    try:
        check_consensus_key(SM2, key)
    except InvalidConsensusKey:
        return False
    return True


def test_an_sm2_key_that_cannot_sign_is_refused():
    """SM2's curve has cofactor 1: no point of small order but the identity, which has no
    33-byte encoding (its nearest, 33 zero bytes, is refused); an x with no y, an x past
    the field's prime, and an uncompressed prefix are refused too."""
    from tianfu.crypto.sm2 import generate_private_key, public_bytes

    good = public_bytes(generate_private_key())
    x = _sm2_on_curve_x()
    bad = {
        "identity": bytes(33),
        "off the curve": b"\x02" + (x + 1).to_bytes(32, "big"),
        "x + p (non-canonical)": b"\x02" + (x + SM2_P).to_bytes(32, "big"),
        "x = p": b"\x02" + SM2_P.to_bytes(32, "big"),
        "0x04 prefix": b"\x04" + good[1:],
    }
    with chain_suite("sm2").use():
        assert check_consensus_key(SM2, good) == good
        if _sm2_ok(bad["off the curve"]):  # x + 1 happened to be on the curve: take another
            bad["off the curve"] = next(
                k
                for k in (b"\x02" + y.to_bytes(32, "big") for y in range(x + 2, x + 200))
                if not _sm2_ok(k)
            )
        for what, key in bad.items():
            with pytest.raises(
                InvalidConsensusKey, match="invalid consensus key: not an sm2 public key"
            ):
                check_consensus_key(SM2, key)
            assert len(key) == 33, what
        # An Ed25519 key on an SM2 chain is refused as before, with the same type.
        with pytest.raises(InvalidConsensusKey, match="not accepted"):
            check_consensus_key(ED25519, generate_keypair().public_key)
