"""Unit tests: a transaction with a bad signature from a peer is the peer's misbehaviour — the
service's typed refusal (`TxBadSignature`, gossip's verdict `FORGED`) reaches the transport:
an observer-port link that sends them is struck and banned; a member's link is counted, not
banned. Real service (AppChain) and real transports on loopback."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from test_batch_service import _forged
from test_observer_port import make, wait_for

from tianfu.codec import encode
from tianfu.contracts.examples import example_source
from tianfu.mempool.gossip import FORGED, TxBatch, TxGossip
from tianfu.p2p.observer import CombinedNetwork
from tianfu.p2p.protocol import KIND_TXS, PeerId
from tianfu.testing.appchain import AppChain
from tianfu.types import Transaction


@pytest.fixture
def chain(tmp_path):
    c = AppChain(tmp_path)
    c.deploy("kv", example_source("kv"))
    c.service.on_tx = None  # admit only
    yield c
    c.close()


def test_the_service_blames_the_sender_of_a_bad_signature_only(chain):
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok
    good = chain.sign(alice, "kv", "put", "a", 1)
    forged = _forged(chain.sign(alice, "kv", "put", "b", 2))
    other = chain.sign(alice, "kv", "put", "c", 3)
    wrong = Transaction(msgspec.structs.replace(other.body, chain_id="elsewhere"), other.signature)
    # Admitted; forged (the sender's fault); refused (a duplicate, a wrong chain: no blame).
    verdicts = chain.service.gossip_verdicts([good, forged, good, wrong])
    assert verdicts == [True, FORGED, False, False]


def test_an_observer_link_sending_bad_signatures_is_struck_and_banned(chain):
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "first", 0).ok

    def frame(*txs):
        return encode(TxBatch([t.encoded() for t in txs]))

    async def run():
        class Route:  # the validator's frames go to its gossip
            def append(self, frame):
                gossip.handle(*frame)

        validator = make("validator", Route(), max_strikes=2)
        gossip = TxGossip(
            validator,
            lambda tx: False,
            admit_many=chain.service.gossip_verdicts,
            on_forged=validator.forged,
        )
        await validator.start()
        observer = make("observer", [], listen=None, peers=[validator.listen_address])
        await observer.start()
        try:
            await wait_for(lambda: validator.peers() and observer.peers())
            g = gossip
            # Valid transactions, and refusals that are nobody's fault, strike nothing.
            good = chain.sign(alice, "kv", "put", "a", 1)
            observer.broadcast(KIND_TXS, frame(good))
            observer.broadcast(KIND_TXS, frame(good))  # a duplicate
            await wait_for(lambda: g.stats["admitted"] == 1 and g.stats["refused"] == 1)
            assert validator.peers() and validator.stats["forged_txs"] == 0
            # Bad signatures: each frame a strike; at max_strikes (2) the key is banned and
            # disconnected.
            for i in range(2):
                forged = _forged(chain.sign(alice, "kv", "put", f"f{i}", i))
                observer.broadcast(KIND_TXS, frame(forged))
                await wait_for(lambda i=i: g.stats["forged"] == i + 1)
            await wait_for(lambda: not validator.peers())
            assert validator.is_banned(observer.address)
            assert validator.stats["forged_txs"] == 2
        finally:
            await observer.stop()
            await validator.stop()

    asyncio.run(run())


def test_a_member_link_sending_bad_signatures_is_counted_not_banned():
    class Members:
        def roles(self):
            return {}

    observers = make("validator", [], max_strikes=1)
    net = CombinedNetwork(Members(), observers)
    member = PeerId("ab" * 20, "org1", "node1", b"\x01" * 32)
    net.forged(member, 3)
    net.forged(member, 1)
    assert net.member_forged == {member.address: 4}
    assert not observers.is_banned(member.address) and observers.stats["forged_txs"] == 0


def test_a_member_sending_bad_signatures_in_a_loop_is_logged_once_a_minute(caplog):
    """A member link sending a forged transaction in every frame logged one WARNING per
    frame (a log flood at the frame rate), and every certificate an organisation issued
    itself stayed a key of `member_forged`; now a peer is logged at most once a minute and
    at most `MAX_MEMBERS_TRACKED` peers are counted."""
    from tianfu.p2p.observer import MAX_MEMBERS_TRACKED

    class Members:
        def roles(self):
            return {}

    net = CombinedNetwork(Members(), make("validator", [], max_strikes=1))
    member = PeerId("ab" * 20, "org1", "node1", b"\x01" * 32)
    with caplog.at_level("WARNING", logger="tianfu.p2p.observer"):
        for _ in range(1000):
            net.forged(member, 1)
    assert net.member_forged[member.address] == 1000
    assert len([r for r in caplog.records if "bad signature" in r.getMessage()]) == 1
    for i in range(MAX_MEMBERS_TRACKED + 500):
        net.forged(PeerId(f"{i:040x}", "org1", f"n{i}", b"\x01" * 32), 1)
    assert len(net.member_forged) <= MAX_MEMBERS_TRACKED


def test_an_observer_link_closed_before_the_verdict_is_still_struck():
    """Gossip's verdict on a chunk comes after the frame (decoded later, in turns): an
    observer-port link that sent forged transactions and closed at once was no longer a
    peer of the port, so it was counted as a member (`member_forged`) and never struck;
    the port is told by the peer's id (org "")."""

    class Members:
        def roles(self):
            return {}

    observers = make("validator", [], max_strikes=2)
    net = CombinedNetwork(Members(), observers)
    gone = PeerId("cd" * 20, "", "observer-cdcdcdcd", b"\x02" * 32)  # no longer linked
    net.forged(gone, 3)
    net.forged(gone, 1)
    assert net.member_forged == {}
    assert observers.stats["forged_txs"] == 4 and observers.is_banned(gone.address)
