"""A member peer turned hostile, against a real 4-organisation network of node processes.

The fourth organisation's node is stopped and its identity (node certificate and validator
key) is used by a hand-driven peer that sends only validly signed messages: proposals of
the next height with big blocks, far-future heights and rounds, one round's proposal for
ever other blocks (evidence), a commit of the current height with its own precommit only,
a status claiming a height nobody has, and it never answers the block requests that
status draws. The three honest nodes (over 2/3 of the power) must keep committing the same
chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Iterator

import pytest

from tianfu.bench.netcheck import assert_identical, free_base_ports, height, wait_height
from tianfu.codec import encode
from tianfu.consensus.messages import sign_proposal
from tianfu.consensus.peers import CommitFrame
from tianfu.crypto import sign_vote
from tianfu.identity import Identity
from tianfu.node import faults
from tianfu.node.localnet import LocalNetwork
from tianfu.p2p.network import TlsNetwork
from tianfu.p2p.protocol import KIND_COMMIT, KIND_PROPOSAL, KIND_STATUS, KIND_VOTE, PeerId
from tianfu.sync.messages import Status
from tianfu.types import PRECOMMIT, PREVOTE, CommitCertificate, CommitSig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WAIT_S = 180.0


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@pytest.fixture
def net(tmp_path, monkeypatch) -> Iterator[LocalNetwork]:
    monkeypatch.setenv(faults.ENV, "1")
    api, p2p = free_base_ports(5)
    network, _ = LocalNetwork.prepare(
        tmp_path / "net", 4, True, api_base_port=api, p2p_base_port=p2p
    )
    network.start()
    try:
        network.wait_ready(timeout=120)
        yield network
    finally:
        network.stop()


async def attack(net: LocalNetwork, urls: list[str], seconds: float) -> dict[str, int]:
    """Run the hostile peer for `seconds`; what it sent, by kind of abuse."""
    bad_cfg = net.configs[3]
    me = Identity.load(bad_cfg.identity)
    key = me.keypair
    chain = net.genesis.chain_id
    domain = net.genesis.vote_domain  # what the chain's votes sign (ADR 0039)
    cas = {o.name: o.ca_cert for o in net.genesis.orgs}
    asked: list[int] = []

    def handler(peer: PeerId, kind: int, payload: bytes) -> None:
        asked.append(kind)  # block requests (drawn by our status) are never answered

    transport = TlsNetwork(
        me,
        lambda: cas,
        lambda _a: False,
        handler,
        ("127.0.0.1", 0),
        [("127.0.0.1", c.p2p_port) for c in net.configs[:3]],
        max_frame=16 << 20,
    )
    await transport.start()
    sent: dict[str, int] = dict.fromkeys(
        ("next_height_blocks", "far_future", "conflicting", "lone_commit", "status"), 0
    )
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + WAIT_S
        while len(transport.peers()) < 3:
            assert loop.time() < deadline, "the hostile peer did not connect"
            await asyncio.sleep(0.1)
        end = loop.time() + seconds
        n = 0
        while loop.time() < end:
            h = await asyncio.to_thread(height, urls[0]) + 1  # the height being decided
            # The next height's proposals, each a different 1 MiB block, many rounds.
            for r in range(40):
                block = os.urandom(1 << 20)
                p = sign_proposal(key, chain, h + 1, r, -1, sha256(block), block)
                transport.broadcast(KIND_PROPOSAL, encode(p))
                sent["next_height_blocks"] += 1
            # Far-future heights and rounds.
            for far_h, far_r in ((h + 10**6, 0), (h, 10**6), (h + 1, 10**9)):
                for t in (PREVOTE, PRECOMMIT):
                    v = sign_vote(key, domain, far_h, far_r, t, sha256(b"x%d" % n), 0)
                    transport.broadcast(KIND_VOTE, encode(v))
                    sent["far_future"] += 1
            # One round's proposal for ever other (empty) blocks: evidence each time.
            for r in range(9):
                for i in range(30):
                    p = sign_proposal(key, chain, h, r, -1, sha256(b"%d.%d.%d" % (n, r, i)), b"")
                    transport.broadcast(KIND_PROPOSAL, encode(p))
                    sent["conflicting"] += 1
            # A commit of the height being decided, signed by us alone.
            block = os.urandom(1 << 16)
            bh = sha256(block)
            v = sign_vote(key, domain, h, 0, PRECOMMIT, bh, int(time.time() * 1000))
            cert = CommitCertificate(
                1, chain, h, 0, bh, [CommitSig(v.validator, v.time_ms, v.signature)]
            )
            transport.broadcast(KIND_COMMIT, encode(CommitFrame(1, h, block, cert)))
            sent["lone_commit"] += 1
            # A height nobody has: the honest nodes ask us for blocks; we never answer.
            transport.broadcast(KIND_STATUS, encode(Status(h + 10**6, sha256(b"nothing"))))
            sent["status"] += 1
            n += 1
            await asyncio.sleep(0.5)
    finally:
        await transport.stop()
    sent["requests_seen"] = len(asked)
    return sent


def test_a_hostile_member_neither_halts_nor_splits_the_chain(net: LocalNetwork) -> None:
    urls = [net.url(c) for c in net.configs[:3]]
    net.stop_node(net.configs[3].name)
    start = min(height(u) for u in urls)
    wait_height(urls, start + 2, WAIT_S)  # three of four decide on their own
    before = min(height(u) for u in urls)
    sent = asyncio.run(attack(net, urls, seconds=20.0))
    assert all(sent.values()), sent
    during = min(height(u) for u in urls)
    assert during >= before + 5, (before, during, sent)  # it kept committing meanwhile
    wait_height(urls, during + 3, WAIT_S)  # and after
    assert assert_identical(urls) >= during + 3
