"""The outbound queues of all peers together stay within `outbound_bytes`: many peers of
one member organisation that stop reading cannot hold `queue_bytes` of memory each."""

from __future__ import annotations

import pytest
from tests.integration.p2pkit import A1, ORG_B, Node, World, raw_peer, run, wait_until

from tianfu.p2p.network import TlsNetwork
from tianfu.p2p.protocol import KIND_TXS

pytestmark = pytest.mark.timeout(300)

PEERS = [ORG_B.issue(f"b-silent-{i}", "node") for i in range(4)]


def test_queues_of_silent_peers_stay_within_the_outbound_budget() -> None:
    async def body() -> None:
        world = World()
        queue_bytes, budget = 1 << 20, 3 << 19  # 1 MiB a peer, 1.5 MiB in all
        a1 = Node(world, A1, max_frame=1 << 16, queue_bytes=queue_bytes, outbound_bytes=budget)
        await a1.net.start()
        links = []
        try:
            for identity in PEERS:  # they connect, then never read
                links.append(await raw_peer(identity, world, a1.endpoint))
            await wait_until(lambda: len(a1.net.peers()) == len(PEERS))
            peers = [p.address for p in a1.net.peers()]
            for seq in range(2000):
                a1.net.broadcast(KIND_TXS, seq.to_bytes(4, "big") + bytes(8188))
                total = sum(a1.net.queued(p)[1] for p in peers)
                assert total <= budget
            assert a1.net.stats["dropped_overflow"] > 0
            # each peer's queue holds the newest frames; none is over its own bound
            assert all(0 < a1.net.queued(p)[1] <= queue_bytes for p in peers)
        finally:
            for _, writer in links:
                writer.close()
            await a1.net.stop()

    run(body)


def test_outbound_budget_must_hold_a_peer_queue() -> None:
    with pytest.raises(ValueError):
        TlsNetwork(
            A1,
            World().cas,
            World().is_revoked,
            lambda *a: None,
            ("127.0.0.1", 0),
            [],
            queue_bytes=1 << 20,
            outbound_bytes=1 << 19,
        )
