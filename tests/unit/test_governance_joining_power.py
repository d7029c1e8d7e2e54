"""A validator voted in with a third or more of the new set's power halted the chain until
it signed: the validators already in the set kept 2/3 or less, so without the new node —
not yet running, or never — no block was decided again, and no vote could undo the change
(a vote needs blocks). Four validators of power 10 took `add_validator(..., power=20)`.
Now a validator joins with less than half of the others' total power (ADR 0041)."""

import pytest
from test_governance_admission import Chain

from tianfu.crypto import generate_keypair


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)  # 4 validators of power 10
    c.block()
    yield c
    c.close()


def test_a_validator_joining_with_a_third_of_the_power_is_refused(chain):
    key = generate_keypair()
    args = ("ghost", "org4", key.scheme, key.public_key)
    r = chain.call(chain.admins["org1"], "propose_add_validator", *args, 20)
    assert not r.ok and "a third or more of the voting power" in r.error
    assert "below 20" in r.error
    assert [v["name"] for v in chain.query("list_validators")] == [
        "org1-v",
        "org2-v",
        "org3-v",
        "org4-v",
    ]
    pid = chain.ok(chain.admins["org1"], "propose_add_validator", *args, 19)
    h = chain.pass_proposal(pid)
    valset = chain.ledger.validator_set(h + 2)
    assert valset.total_power == 59  # the first four hold 40 > 2/3 of 59: they decide alone


def test_a_proposal_checked_again_when_approved(chain):
    """Two additions each fine alone: the second is checked against the set the first
    left (still below a third of the power there, so it passes)."""
    a, b = generate_keypair(), generate_keypair()
    chain.keys.update({a.public_key: a, b.public_key: b})  # they sign once in the set
    p1 = chain.ok(
        chain.admins["org1"], "propose_add_validator", "a", "org1", a.scheme, a.public_key, 19
    )
    p2 = chain.ok(
        chain.admins["org1"], "propose_add_validator", "b", "org2", b.scheme, b.public_key, 19
    )
    chain.pass_proposal(p1)
    h = chain.pass_proposal(p2)
    assert chain.ledger.validator_set(h + 2).total_power == 78


def test_a_single_validator_chain_grows_after_raising_its_power(tmp_path):
    c = Chain(tmp_path, validator_orgs=("org1",))  # one validator of power 10
    c.block()
    try:
        key = generate_keypair()
        args = ("second", "org2", key.scheme, key.public_key)
        r = c.call(c.admins["org1"], "propose_add_validator", *args, 5)
        assert not r.ok and "below 5" in r.error
        pid = c.ok(c.admins["org1"], "propose_add_validator", *args, 4)
        h = c.pass_proposal(pid)
        assert c.ledger.validator_set(h + 2).total_power == 14
    finally:
        c.close()
