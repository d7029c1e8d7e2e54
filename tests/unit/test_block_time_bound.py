"""A validator does not vote for a block dated too far in the future; a decided one is applied."""

import time
from types import SimpleNamespace

import pytest

from tianfu.codec import encode
from tianfu.consensus.driver import MAX_CLOCK_DRIFT_MS, ConsensusDriver
from tianfu.identity import OrgCA
from tianfu.ledger import Ledger
from tianfu.mempool import Mempool
from tianfu.store import Store
from tianfu.types import Genesis, OrgConfig, Validator


def test_future_dated_proposal_is_not_voted_for_but_applies_when_decided(tmp_path):
    ca = OrgCA.create("org1")
    node = ca.issue("node1", "node")
    genesis = Genesis(
        version=1,
        chain_id="clock",
        time_ms=int(time.time() * 1000),
        orgs=[OrgConfig("org1", ca.cert_der)],
        validators=[Validator("node1", "org1", node.keypair.scheme, node.keypair.public_key, 1)],
    )
    proposer = Ledger(Store(tmp_path / "a.db"), genesis)
    replica = Ledger(Store(tmp_path / "b.db"), genesis)
    now = time.time()
    future = proposer.build_block([], int((now + 60) * 1000), node.keypair.public_key).block
    fake = SimpleNamespace(ledger=replica, mempool=Mempool(), verified=None, clock=lambda: now)
    with pytest.raises(ValueError, match="ahead of this node's clock"):
        ConsensusDriver._execute_sync(fake, encode(future), future.hash, True)  # type: ignore[arg-type]
    # The same block, once decided by the network, is applied (no clock check).
    executed = ConsensusDriver._execute_sync(fake, encode(future), future.hash)  # type: ignore[arg-type]
    assert executed.block.hash == future.hash
    # Within the drift it is fine to vote for.
    near = (
        Ledger(Store(tmp_path / "c.db"), genesis)
        .build_block([], int(now * 1000) + MAX_CLOCK_DRIFT_MS // 2, node.keypair.public_key)
        .block
    )
    ConsensusDriver._execute_sync(
        SimpleNamespace(
            ledger=Ledger(Store(tmp_path / "d.db"), genesis),
            mempool=Mempool(),
            verified=None,
            clock=lambda: now,
        ),
        encode(near),
        near.hash,
        True,
    )  # type: ignore[arg-type]
