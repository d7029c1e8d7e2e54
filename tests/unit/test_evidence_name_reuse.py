"""Consortium slashing (`slash_double_sign`): evidence removes the validator that still has
the offending key, not whichever validator now carries its name."""

from test_governance_admission import PRECOMMIT, Chain, _double_sign, names

from tianfu.crypto import generate_keypair
from tianfu.types import ConsensusParams


def test_old_evidence_does_not_remove_a_new_key_under_a_reused_name(tmp_path):
    chain = Chain(tmp_path, ConsensusParams(slash_double_sign=True))
    try:
        chain.block()
        old = chain.genesis.validators[2]  # org3-v
        old_key = chain.keys[old.public_key]
        evidence = _double_sign(chain, old_key, 1, 0, PRECOMMIT)
        pid = chain.ok(chain.admins["org3"], "propose_remove_validator", old.name)
        chain.pass_proposal(pid)
        new = generate_keypair()
        chain.keys[new.public_key] = new
        pid = chain.ok(
            chain.admins["org3"], "propose_add_validator", old.name, "org3", new.scheme,
            new.public_key, 10,
        )  # fmt: skip
        chain.pass_proposal(pid)
        chain.block()
        chain.block()
        res = chain.ok(chain.admins["org1"], "submit_evidence", *evidence)
        assert res["slashed"] is False, res
        after = chain.ledger.validator_set(chain.ledger.height + 2)
        assert old.name in names(after)
        [v] = [v for v in after.validators if v.name == old.name]
        assert v.public_key == new.public_key and v.power == 10
    finally:
        chain.close()
