"""Block answers for outsiders (open profile, ADR 0025): observer-port keys that are not
validators' — anyone can make them — get at most `MAX_SERVING_OUTSIDERS` of the answers in
preparation, so a member (or a validator by stake) that asks still gets one however many
identities ask first."""

from __future__ import annotations

import asyncio
import threading
import time

from test_sync import Node, settle
from test_sync_support import Hub, peer_id

from tianfu.codec import decode, encode
from tianfu.p2p.protocol import KIND_BLOCKS_REQUEST
from tianfu.sync import BlocksRequest, BlocksResponse, serving


def test_outsiders_asking_first_leave_answers_for_a_member(world) -> None:
    _, a_ledger = world
    hub = Hub()
    a = Node(hub, a_ledger, "a", outsider=lambda peer: peer.name.startswith("sybil"))
    got: list[str] = []
    release = threading.Event()
    started = 0
    lock = threading.Lock()
    answer = a.syncer.response_for

    def slow_answer(req: BlocksRequest) -> bytes:
        nonlocal started
        with lock:
            started += 1
        release.wait(60)
        return answer(req)

    a.syncer.response_for = slow_answer  # type: ignore[method-assign]
    sybils = 12

    def asker(name: str) -> None:
        me = peer_id(name)
        net = hub.attach(me, lambda p, k, d: got.append(name) if decode(d, BlocksResponse) else 0)
        hub.connect(a.id, me)
        net.send(a.id.address, KIND_BLOCKS_REQUEST, encode(BlocksRequest(1, 2)))

    async def main() -> None:
        for i in range(sybils):
            asker(f"sybil{i}")
        await settle()
        assert a.syncer.dropped_busy == sybils - serving.MAX_SERVING_OUTSIDERS
        asker("member")
        await settle()
        assert a.syncer.dropped_busy == sybils - serving.MAX_SERVING_OUTSIDERS
        deadline = time.monotonic() + 60
        while started < serving.SERVE_THREADS:
            assert time.monotonic() < deadline, "no answer was ever prepared"
            await asyncio.sleep(0.001)
        release.set()
        await a.syncer.drain()
        await settle()

    asyncio.run(main())
    assert "member" in got and len(got) == serving.MAX_SERVING_OUTSIDERS + 1
