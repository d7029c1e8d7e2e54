"""Peers that served something valid are preferred to strangers on the observer port (ADR
0025): links from many hosts, one each, filled the port for good (a full port lets a host
push out only a host holding two more links), and connections churned from 4+ hosts took
every handshake slot in turn, an honest peer's included. Counted in links and slots."""

import asyncio

from test_observer_port import make, wait_for
from test_observer_slots import _link_from, _linked

from tianfu.p2p.observer_room import Credits, _Link, room_for
from tianfu.p2p.protocol import PeerId
from tianfu.p2p.queues import HandshakeSlots


def _peer(i: int) -> PeerId:
    return PeerId(f"{i:040x}", "", f"observer-{i}", bytes([i]) * 32)


def _links(n: int) -> list[_Link]:
    """`n` inbound outsiders' links, one host each (hosts 10.0.0.1 …), the idlest first."""
    return [
        _Link(
            _peer(i),
            None,
            None,
            None,
            None,
            role="observer",
            host=f"10.0.0.{i}",
            inbound=True,
            last_in=float(i),
        )  # fmt: skip
        for i in range(1, n + 1)
    ]


def test_many_hosts_one_link_each_cannot_keep_a_useful_key_out():
    links = _links(64)
    credits = Credits()
    never = lambda _key: False  # noqa: E731 - no validator keys here
    # A stranger from a 65th host: the port is full of hosts holding one link each.
    assert room_for(links, _peer(100), "10.0.1.1", 64, 16, never, credits.__contains__) == (
        False, None,
    )  # fmt: skip
    credits.credit(_peer(101).address)  # it served valid transactions on an earlier link
    fits, victim = room_for(links, _peer(101), "10.0.1.2", 64, 16, never, credits.__contains__)
    assert fits and victim is links[0]  # the idlest stranger's place


def test_a_useful_links_place_is_never_taken_by_a_stranger():
    links = _links(3)
    for link in links:
        link.host = "10.0.0.1"  # one host holds all three: the imbalance rule applies
    credits = Credits()
    never = lambda _key: False  # noqa: E731
    fits, victim = room_for(links, _peer(50), "10.0.9.9", 3, 16, never, credits.__contains__)
    assert fits and victim is links[0]
    for link in links:
        credits.credit(link.peer.address)
    # Credited links are kept one a host (`CREDITED_PER_HOST`): the host's oldest, links[0],
    # is never taken by a stranger; its further links give way like strangers' (credited
    # keys from a few hosts held a whole port: tests/unit/test_observer_credits_cap.py).
    fits, victim = room_for(links, _peer(50), "10.0.9.9", 3, 16, never, credits.__contains__)
    assert fits and victim is links[1]
    for i, link in enumerate(links):
        link.host = f"10.0.0.{i + 1}"  # each within its host's cap: never taken
    assert room_for(links, _peer(50), "10.0.9.9", 3, 16, never, credits.__contains__) == (
        False, None,
    )  # fmt: skip
    credits.credit(_peer(50).address)  # not by a credited key either
    assert room_for(links, _peer(50), "10.0.9.9", 3, 16, never, credits.__contains__) == (
        False, None,
    )  # fmt: skip
    small = Credits(max_entries=2)
    for i in range(5):
        small.credit(str(i))
    assert len(small) == 2 and "4" in small and "0" not in small  # bounded


def test_handshake_churn_from_many_hosts_never_aborts_a_credited_hosts_handshake():
    slots = HandshakeSlots(total=4, per_host=1, grace=1.0)
    credited = {"10.0.0.1"}
    aborted = []
    mine = slots.take("10.0.0.1", 0.0, credited.__contains__)
    mine.abort = lambda: aborted.append("credited")
    for i in range(2, 5):
        slots.take(f"10.0.1.{i}", 0.0, credited.__contains__)
    # 40 connections churned from 40 hosts, each past the grace of the ones before.
    for i in range(40):
        slot = slots.take(f"10.0.2.{i}", 2.0 + 2 * i, credited.__contains__)
        assert slot is not None
        slot.abort = lambda: aborted.append("stranger")
    # The three first strangers' slots, then each churned one but the last three: never the
    # credited host's, which still holds its slot.
    assert aborted.count("credited") == 0 and aborted.count("stranger") == 37
    assert slots.evicted == 40 and len(slots) == 4 and mine in slots._pending


def test_an_observer_that_served_transactions_links_again_through_a_full_port():
    """End to end: three strangers from three hosts fill a port of three links; an observer
    whose transactions were admitted before (credited by `served`) links again, in the
    idlest stranger's place; a fresh stranger from a fifth host is still refused."""

    async def run():
        server = make("validator", [], max_links=3)
        await server.start()
        target = [server.listen_address]
        honest = make("observer", [], listen=None, peers=target)
        late = []
        try:
            await honest.start()
            await wait_for(lambda: _linked(server, honest))
            [peer] = server.peers()
            server.served(peer, 2)  # gossip admitted two of its transactions
            await honest.stop()
            await wait_for(lambda: not server.peers())
            strangers = [await _link_from(server, f"127.0.0.{i}") for i in (2, 3, 4)]
            late.extend(strangers)
            await wait_for(lambda: len(server.peers()) == 3)
            refused = server.stats["links_refused_full"]
            late.append(await _link_from(server, "127.0.0.5"))
            await wait_for(lambda: server.stats["links_refused_full"] > refused)
            back = make("observer", [], listen=None, peers=target)
            back._keypair, back.address = honest._keypair, honest.address  # the same key
            late.append(back)
            await back.start()
            await wait_for(lambda: _linked(server, back))
            assert len(server.peers()) == 3 and server.stats["links_evicted"] == 1
            assert server.stats["served_txs"] == 2
        finally:
            for t in late:
                await t.stop()
            await server.stop()

    asyncio.run(run())


def test_gossip_credits_the_link_whose_transactions_it_admitted(tmp_path):
    """The wiring: gossip's admitted transactions credit the observer-port key that sent
    them (`on_admitted` -> `served`); a member's are not the port's business."""
    from tianfu.codec import encode
    from tianfu.contracts.examples import example_source
    from tianfu.mempool.gossip import TxBatch, TxGossip
    from tianfu.p2p.observer import CombinedNetwork
    from tianfu.p2p.protocol import KIND_TXS
    from tianfu.testing.appchain import AppChain

    chain = AppChain(tmp_path)
    chain.deploy("kv", example_source("kv"))
    chain.service.on_tx = None  # admit only
    alice = chain.identity("org1", "alice")

    async def run():
        class Route:
            def append(self, frame):
                gossip.handle(*frame)

        validator = make("validator", Route())
        gossip = TxGossip(
            validator, lambda tx: False, admit_many=chain.service.gossip_verdicts,
            on_admitted=validator.served,
        )  # fmt: skip
        await validator.start()
        observer = make("observer", [], listen=None, peers=[validator.listen_address])
        await observer.start()
        try:
            await wait_for(lambda: validator.peers() and observer.peers())
            good = chain.sign(alice, "kv", "put", "a", 1)
            observer.broadcast(KIND_TXS, encode(TxBatch([good.encoded()])))
            await wait_for(lambda: validator.stats["served_txs"] == 1)
            assert observer.address in validator._credits
            assert "127.0.0.1" in validator._credits
        finally:
            await observer.stop()
            await validator.stop()

    try:
        asyncio.run(run())
    finally:
        chain.close()

    class Members:
        def roles(self):
            return {}

    port = make("validator", [])
    CombinedNetwork(Members(), port).served(PeerId("ab" * 20, "org1", "node1", b"\x01" * 32), 3)
    assert port.stats["served_txs"] == 0 and len(port._credits) == 0
