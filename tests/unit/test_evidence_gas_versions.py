"""Double-sign evidence costs on a chain of a version-1 genesis exactly the gas it cost
before genesis version 2 existed (ADR 0039): `submit_evidence` looks for the
`genesis_hash` entry of a version-2 genesis without a gas charge, and charges it as an
ordinary read only where it is present. Otherwise every successful evidence transaction
of an existing chain used 20 more gas with the new software, so its receipts root
differed: a node upgraded mid-chain forked off the nodes not yet upgraded, and one
syncing or replaying the chain from its genesis refused the block that held it."""

from __future__ import annotations

import pytest
from test_governance_admission import Chain, _double_sign

from tianfu.codec import encode
from tianfu.crypto import sign_vote
from tianfu.types import PREVOTE

# The gas of the evidence below, measured with the software of before ADR 0039 (version 1:
# commit 1a42bd0e^1) and as ADR 0039 made it (version 2: one charged read of the hash).
GAS = {1: 2886, 2: 2910}


@pytest.mark.parametrize("version", [1, 2])
def test_evidence_gas_is_that_of_the_chains_genesis_version(tmp_path, version):
    chain = Chain(tmp_path, version=version)
    try:
        chain.block()
        node = chain.cas["org2"].issue("org2-node2", "node")
        chain.ok(node, "list_orgs")  # registered first: the evidence carries no certificate
        offender = chain.ledger.validator_set(1).validators[2]
        key = chain.keys[offender.public_key]
        domain = chain.genesis.vote_domain
        a = encode(sign_vote(key, domain, 1, 0, PREVOTE, b"\xaa" * 32))
        b = encode(sign_vote(key, domain, 1, 0, PREVOTE, b"\xbb" * 32))
        r = chain.call(node, "submit_evidence", a, b)
        assert r.ok, r.error
        assert r.gas_used == GAS[version]
        # The other version's bytes are refused (the hash is read where it is present).
        other = _double_sign(chain, key, 1, 1) if version == 2 else None
        if other is not None:
            refused = chain.call(node, "submit_evidence", *other)
            assert not refused.ok and "signature is not valid" in refused.error
    finally:
        chain.close()
