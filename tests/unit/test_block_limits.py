"""Validators refuse blocks over the size limits, not only proposers respect them."""

import time

import pytest

from tianfu.crypto import sign_tx
from tianfu.identity import OrgCA
from tianfu.ledger import InvalidBlock, Ledger
from tianfu.store import Store
from tianfu.types import ConsensusParams, Genesis, OrgConfig, TxBody, Validator


def test_replica_refuses_a_block_with_too_many_transactions(tmp_path):
    ca = OrgCA.create("org1")
    admin = ca.issue("admin", "admin")
    node = ca.issue("node1", "node")
    genesis = Genesis(
        version=1,
        chain_id="limits",
        time_ms=int(time.time() * 1000),
        orgs=[OrgConfig("org1", ca.cert_der)],
        validators=[Validator("node1", "org1", node.keypair.scheme, node.keypair.public_key, 1)],
        params=ConsensusParams(max_block_txs=2),
    )
    proposer = Ledger(Store(tmp_path / "a.db"), genesis)
    replica = Ledger(Store(tmp_path / "b.db"), genesis)
    txs = [
        sign_tx(
            admin.keypair,
            TxBody(
                1,
                "limits",
                admin.keypair.scheme,
                admin.keypair.public_key,
                n,
                50,
                "governance",
                "get_identity",
                ["x"],
                admin.cert_der,
            ),
        )
        for n in range(3)
    ]
    # An honest builder keeps to the limit (the third waits for the next block) ...
    honest = proposer.build_block(txs, node.keypair.public_key)
    assert list(honest.block.txs) == txs[:2] and honest.result.deferred == 1
    # ... a Byzantine one, building under a larger limit, makes a block the replica refuses.
    proposer.params = lambda height: ConsensusParams(max_block_txs=10)  # type: ignore[method-assign]
    over = proposer.build_block(txs, node.keypair.public_key)
    assert len(over.block.txs) == 3
    with pytest.raises(InvalidBlock, match="limit is 2"):
        replica.execute(over.block)
    within = proposer.build_block(txs[:2], node.keypair.public_key)
    assert replica.execute(within.block).batch.root == within.batch.root
