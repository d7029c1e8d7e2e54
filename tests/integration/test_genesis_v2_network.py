"""A chain of each genesis version run end to end by four consensus drivers with real ledgers
over the in-memory network of `test_driver` (ADR 0039): blocks finalize, a transaction's
proof document verifies against the genesis, and double-sign evidence is accepted only
with the votes' bytes of the chain's genesis. With a version-2 genesis the document is
refused against a relaunched genesis of the same chain id and validator keys (its votes
sign the genesis hash); with a version-1 genesis a verifier cannot tell the two apart."""

from __future__ import annotations

import msgspec
import pytest
from test_driver import Cluster, run

from tianfu.codec import encode
from tianfu.crypto import sign_tx, sign_vote
from tianfu.ledger.proofs import ledger_proofs
from tianfu.proofs.documents import make_document, verify_document
from tianfu.proofs.errors import VerificationError
from tianfu.proofs.valchain import TrustOptions
from tianfu.types import PREVOTE, Policies, TxBody, VoteDomain


def _evidence_tx(cluster: Cluster, domain: VoteDomain, height: int):
    """Admin 0 submits two different prevotes node 1 signed at `height`, round 0, with the
    bytes of `domain`."""
    key = cluster.node_ids[1].keypair
    a = sign_vote(key, domain, height, 0, PREVOTE, b"\x0a" * 32)
    b = sign_vote(key, domain, height, 0, PREVOTE, b"\x0b" * 32)
    admin = cluster.admins[0]
    cluster._nonce += 1
    body = TxBody(1, cluster.genesis.chain_id, admin.keypair.scheme, admin.keypair.public_key,
                  cluster._nonce, 500, "governance", "submit_evidence", [encode(a), encode(b)],
                  admin.cert_der)  # fmt: skip
    return sign_tx(admin.keypair, body)


@pytest.mark.parametrize("version", [1, 2])
def test_a_chain_of_each_genesis_version_finalizes_proves_and_takes_evidence(tmp_path, version):
    cluster = Cluster(tmp_path)
    cluster.genesis = msgspec.structs.replace(cluster.genesis, version=version)
    cluster.genesis.validate()
    domain = cluster.genesis.vote_domain
    assert (domain.genesis_hash is not None) == (version == 2)
    other = VoteDomain(domain.chain_id, None if version == 2 else cluster.genesis.hash)
    role = cluster.tx(0, "reviewer")
    good = _evidence_tx(cluster, domain, 1)
    wrong = _evidence_tx(cluster, other, 2)  # signed for the other version's bytes

    async def scenario():
        await cluster.start()
        cluster.submit(role)
        await cluster.wait_height(2)
        cluster.submit(good)
        cluster.submit(wrong)
        every = [role, good, wrong]
        while not all(tx.hash in nd.receipts for tx in every for nd in cluster.nodes):
            await cluster.wait_height(max(nd.height for nd in cluster.nodes) + 1)
        await cluster.wait_height(max(nd.height for nd in cluster.nodes) + 1)
        await cluster.stop_all()

    run(scenario())
    assert cluster.check_agreement() >= 3
    for nd in cluster.nodes:
        assert nd.receipts[role.hash] == 0
        assert nd.receipts[good.hash] == 0  # the double sign is recorded
        assert nd.receipts[wrong.hash] != 0  # "a vote's signature is not valid"

    node = cluster.nodes[0]
    node.store = type(node.store)(node.dir / "chain.db")
    from tianfu.ledger import Ledger

    ledger = Ledger(node.store, cluster.genesis)
    try:
        opts = TrustOptions(now_ms=cluster.genesis.time_ms + 600_000)
        bundle = ledger_proofs(ledger).tx_bundle(good.hash)
        doc = make_document("tx", bundle, cluster.genesis, opts)
        verify_document(doc, cluster.genesis, kind="tx", options=opts)
    finally:
        node.store.close()
    relaunched = msgspec.structs.replace(
        cluster.genesis,
        time_ms=cluster.genesis.time_ms + 1,
        policies=Policies("all", "all"),
    )
    assert relaunched.chain_id == cluster.genesis.chain_id
    assert relaunched.hash != cluster.genesis.hash
    forged = {**doc, "genesis_hash": relaunched.hash.hex()}
    if version == 2:
        with pytest.raises(VerificationError, match="invalid signature"):
            verify_document(forged, relaunched, kind="tx", options=opts)
    else:  # README.md#what-a-verifier-trusts: a version-1 chain cannot be told apart
        verify_document(forged, relaunched, kind="tx", options=opts)
