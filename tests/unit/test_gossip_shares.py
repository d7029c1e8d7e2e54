"""The gossip inbox's share groups (ADR 0025): on an open network anyone can make observer
identities, so the observer port's keys that are not validators' hold one share of the inbox
between them (subdivided by IP), and a member node keeps its own share however many of them
flood."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tianfu.codec import encode
from tianfu.crypto.keys import generate_keypair
from tianfu.mempool.gossip import ADMIT_CHUNK, KIND_TXS, MAX_INBOX_TXS, TxBatch, TxGossip
from tianfu.p2p.observer import OBSERVER_SHARE, CombinedNetwork, ObserverTransport
from tianfu.p2p.protocol import KIND_STATUS
from tianfu.types import Transaction, TxBody

KEY = generate_keypair()
SYBILS = 100  # observer identities made for free, all from one IP


class Net:
    def broadcast(self, kind: int, payload: bytes) -> None:
        pass


def frame(sender: str, n: int) -> bytes:
    txs = [
        Transaction(
            TxBody(1, "c", KEY.scheme, KEY.public_key, i, 10, "asset", "t", [sender], b""),
            b"s",
        )
        for i in range(n)
    ]
    return encode(TxBatch([encode(t) for t in txs]))


def share(peer: str) -> tuple[str, str]:
    """As `ObserverTransport.gossip_share`: `sybil-*` keys connect from 10.0.0.1, `obs-*`
    from 10.0.0.2; anything else is a member (a group of its own)."""
    if peer.startswith("sybil"):
        return OBSERVER_SHARE, "10.0.0.1"
    if peer.startswith("obs"):
        return OBSERVER_SHARE, "10.0.0.2"
    return peer, peer


def flood(g: TxGossip) -> None:
    per = MAX_INBOX_TXS // SYBILS
    for i in range(SYBILS):
        g.handle(f"sybil-{i}", KIND_TXS, frame(f"sybil-{i}", per))
    assert g._inbox_txs == MAX_INBOX_TXS  # noqa: SLF001


def test_each_identity_its_own_share_lets_many_identities_crowd_out_a_member() -> None:
    """Without share groups (each key its own share), a hundred free identities leave a
    member node 8,000 / 101 transactions: its frame of 200 is dropped."""

    async def run() -> TxGossip:
        g = TxGossip(Net(), lambda t: True, admit_many=lambda ts: [True] * len(ts))
        flood(g)
        g.handle("member", KIND_TXS, frame("member", 200))
        return g

    g = asyncio.run(run())
    assert g.dropped_busy == 1


def test_observer_identities_hold_one_share_and_a_member_keeps_its_own() -> None:
    """A hundred identities from one IP fill the inbox; a member's frame then takes room
    from them (two groups: 4,000 each), an honest observer from another IP takes room
    inside the observer group (its IP is a sub of its own), another identity of the
    flooding IP gets none, and admission alternates the member with the observers."""
    order: list[str] = []

    def admit_many(ts: list[Transaction]) -> list[bool]:
        order.append(ts[0].body.args[0])
        return [True] * len(ts)

    async def run() -> TxGossip:
        g = TxGossip(Net(), lambda t: True, admit_many=admit_many, share=share)
        flood(g)
        g.handle("member", KIND_TXS, frame("member", 2000))
        assert g.dropped_busy == 0 and g._inbox_txs <= MAX_INBOX_TXS  # noqa: SLF001
        g.handle("obs-honest", KIND_TXS, frame("obs-honest", ADMIT_CHUNK))
        assert g.dropped_busy == 0
        g.handle("sybil-new", KIND_TXS, frame("sybil-new", ADMIT_CHUNK))
        assert g.dropped_busy == 1  # its IP holds more than half the observer group's
        deadline = time.monotonic() + 60
        while g._inbox_txs:  # noqa: SLF001
            assert time.monotonic() < deadline, "the inbox was never admitted"
            await asyncio.sleep(0)
        return g

    g = asyncio.run(run())
    assert order.count("member") == -(-2000 // ADMIT_CHUNK) and "sybil-new" not in order
    assert order.count("obs-honest") == 1
    # Turns alternate the two groups; inside the observer group, the IPs alternate.
    assert order[1] == "member" and order[3] == "member"
    assert order.index("obs-honest") <= 3
    assert g.stats["admitted"] == MAX_INBOX_TXS - g.evicted + 2000 + ADMIT_CHUNK


def make(role: str, got: list[Any], **kw: Any) -> ObserverTransport:
    return ObserverTransport(
        generate_keypair(), "open-test", lambda peer, kind, payload: got.append(peer),
        role=role, inbound_kinds=frozenset({KIND_STATUS, KIND_TXS}),
        outbound_kinds=frozenset({KIND_STATUS, KIND_TXS}), dial_backoff=(0.05, 0.2), **kw,
    )  # fmt: skip


def test_observer_port_groups_keys_that_are_not_validators_by_ip() -> None:
    """On a real observer port: two observer keys are one group, their IP the sub; a key in
    the validator set (whatever role it claims) is a group of its own, and so is a peer of
    the member transport (through `CombinedNetwork`)."""

    async def run() -> None:
        staked = generate_keypair()
        server = make(
            "validator", [], listen=("127.0.0.1", 0), peers=[],
            is_validator_key=lambda key: key == staked.public_key,
        )  # fmt: skip
        await server.start()
        target = [server.listen_address]
        clients = [make("observer", [], listen=None, peers=target) for _ in range(2)]
        clients.append(
            ObserverTransport(
                staked,
                "open-test",
                lambda *a: None,
                role="observer",
                listen=None,
                peers=target,
                inbound_kinds=frozenset(),
                outbound_kinds=frozenset(),
                dial_backoff=(0.05, 0.2),
            )  # fmt: skip
        )
        for c in clients:
            await c.start()
        try:
            deadline = time.monotonic() + 60
            while len(server.peers()) < 3:
                assert time.monotonic() < deadline, "the observers never connected"
                await asyncio.sleep(0.02)
            shares = {p.address: server.gossip_share(p) for p in server.peers()}
            a, b, v = (c.address for c in clients)
            assert shares[a] == shares[b] == (OBSERVER_SHARE, "127.0.0.1")
            assert shares[v] == (v, v)
            outsiders = {p.address for p in server.peers() if server.is_outsider(p)}
            assert outsiders == {a, b}
            combined = CombinedNetwork(Members(), server)
            member = server.peers()[0].__class__("m" * 40, "org1", "node", b"k")
            assert combined.gossip_share(member) == ("m" * 40, "m" * 40)
            assert not combined.is_outsider(member)
            assert combined.gossip_share(server._links[a].peer) == shares[a]  # noqa: SLF001
        finally:
            for c in clients:
                await c.stop()
            await server.stop()

    asyncio.run(run())


class Members:
    def peers(self) -> list[Any]:
        return []
