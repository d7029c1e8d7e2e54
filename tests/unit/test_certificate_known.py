"""A block's `last_commit` is not verified a second time by a validator of the network.

The precommits a certificate lists arrived at every validator as votes, and the consensus
gossip verified each signature then (`PeerGossip.verify`, remembered in its cache). When
the next height's proposed block is executed (`LedgerWork.execute` → `Ledger.execute`),
`verify_commit` of its header's `last_commit` asks the gossip (`PeerGossip.known`) and
verifies only the signatures it has not seen: each signature is verified once per node.
Everything else of the certificate is still checked (quorum, members, duplicates), and a
signature the gossip did not verify — other bytes, another time, a forgery — is verified.
"""

from __future__ import annotations

import threading
from collections import Counter

import msgspec
import pytest
from test_governance_admission import Chain

from tianfu.codec import encode
from tianfu.consensus.driver import ConsensusDriver
from tianfu.consensus.ledgerwork import LedgerWork
from tianfu.consensus.peers import PeerGossip
from tianfu.consensus.wal import ConsensusWAL
from tianfu.crypto import signing
from tianfu.ledger import InvalidBlock
from tianfu.mempool import Mempool
from tianfu.types import CommitCertificate


class _Net:
    def broadcast(self, kind, payload):
        pass

    def send(self, peer, kind, payload):
        pass


class _Clock:
    def now(self):
        return 0.0


@pytest.fixture
def chain(tmp_path):
    c = Chain(tmp_path)
    c.block()
    c.block()  # stored at height 2 with its certificate on both ledgers
    yield c
    c.close()


@pytest.fixture
def verifies(monkeypatch):
    """Signature verifications of certificates (the verify `certificate_signers` calls)."""
    count = Counter()
    real = signing.verify

    def counted(scheme, key, msg, sig):
        count["verify"] += 1
        return real(scheme, key, msg, sig)

    monkeypatch.setattr(signing, "verify", counted)
    return count


def _gossip(chain) -> PeerGossip:
    return PeerGossip(None, _Net(), chain.genesis.chain_id, None, timers=_Clock(), stats=Counter())


def _saw_as_votes(gossip: PeerGossip, chain, cert: CommitCertificate) -> None:
    """The gossip verified each precommit of `cert` when it arrived as a vote."""
    vals = chain.ledger.validator_set(cert.height)
    for cs in cert.signatures:
        v = vals.by_key(cs.validator)
        assert gossip.verify(
            v.scheme, v.public_key, cert.signing_bytes(cs, chain.genesis.vote_domain), cs.signature
        )


def _next_block(chain, cert: CommitCertificate | None = None):
    """Height 3's block proposed on the replica's chain; `cert` replaces its last commit."""
    block = chain.ledger.build_block([], b"\x01" * 32).block
    if cert is not None:
        header = msgspec.structs.replace(block.header, last_commit=cert)
        block = msgspec.structs.replace(block, header=header)
    return block


def _work(chain, tmp_path, known):
    wal = ConsensusWAL(tmp_path / "cs.wal")
    return LedgerWork(chain.replica, Mempool(), wal, threading.Lock(), None, known)


def test_precommits_verified_as_votes_are_not_verified_again(chain, tmp_path, verifies):
    cert = chain.ledger.store.load_cert(2)
    gossip = _gossip(chain)
    _saw_as_votes(gossip, chain, cert)
    block = _next_block(chain)
    assert block.header.last_commit == cert
    verifies.clear()
    executed = _work(chain, tmp_path, gossip.known).execute(encode(block), block.hash)
    assert executed.block.hash == block.hash
    assert verifies["verify"] == 0  # all four were verified as votes


def test_without_the_votes_every_signature_is_verified(chain, tmp_path, verifies):
    cert = chain.ledger.store.load_cert(2)
    block = _next_block(chain)
    verifies.clear()
    _work(chain, tmp_path, _gossip(chain).known).execute(encode(block), block.hash)
    assert verifies["verify"] == len(cert.signatures) == 4


def test_only_the_exact_signature_counts_as_known(chain, tmp_path, verifies):
    """A precommit listed with another time than the vote the gossip verified is other
    signed bytes: verified (and here invalid, so the block is refused)."""
    cert = chain.ledger.store.load_cert(2)
    gossip = _gossip(chain)
    _saw_as_votes(gossip, chain, cert)
    first = cert.signatures[0]
    moved = msgspec.structs.replace(first, time_ms=first.time_ms + 1)
    forged = msgspec.structs.replace(cert, signatures=[moved, *cert.signatures[1:]])
    block = _next_block(chain, forged)
    verifies.clear()
    with pytest.raises(InvalidBlock, match="invalid signature"):
        chain.replica.execute(block, signature_known=gossip.known)
    assert verifies["verify"] == 1  # the moved one only; the other three were known


def test_a_signature_found_invalid_is_not_known(chain):
    cert = chain.ledger.store.load_cert(2)
    gossip = _gossip(chain)
    vals = chain.ledger.validator_set(2)
    cs = cert.signatures[0]
    v = vals.by_key(cs.validator)
    bad = bytes(64)
    assert not gossip.verify(
        v.scheme, v.public_key, cert.signing_bytes(cs, chain.genesis.vote_domain), bad
    )
    assert not gossip.known(
        v.scheme, v.public_key, cert.signing_bytes(cs, chain.genesis.vote_domain), bad
    )
    assert not gossip.known(
        v.scheme, v.public_key, cert.signing_bytes(cs, chain.genesis.vote_domain), cs.signature
    )  # not seen
    assert gossip.verify(
        v.scheme, v.public_key, cert.signing_bytes(cs, chain.genesis.vote_domain), cs.signature
    )
    assert gossip.known(
        v.scheme, v.public_key, cert.signing_bytes(cs, chain.genesis.vote_domain), cs.signature
    )


def test_the_driver_executes_with_its_gossip_as_the_known_signatures(chain, tmp_path):
    driver = ConsensusDriver(
        chain.replica, Mempool(), None, ConsensusWAL(tmp_path / "d.wal"), _Net()
    )
    assert driver.work.signature_known == driver.gossip.known
