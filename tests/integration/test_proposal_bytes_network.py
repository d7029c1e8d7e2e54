"""A byzantine validator that gives one honest node its proposals without their blocks,
against a real 4-organisation network of node processes.

The fourth organisation's node is stopped and its identity (node certificate and validator
key) is used by a hand-driven peer. In each round 0 it proposes, it builds a valid empty
block (from the previous header and certificate that any node serves), sends the signed
proposal with its block to two honest nodes and without it to the third (the signature
covers the block's hash only, so the copy is validly signed), and prevotes the block; it
never precommits. The two locked on the block with its prevote; the third executed "no
bytes" as the block, found it invalid, and could never vote for or commit it at that
height: the chain halted. Now the bytes are waited for, and the chain keeps committing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import msgspec
import pytest

from tianfu.bench.netcheck import assert_identical, free_base_ports, height, wait_height
from tianfu.codec import decode, encode
from tianfu.consensus.core import weighted_round_robin
from tianfu.consensus.messages import Proposal, sign_proposal
from tianfu.crypto import sign_vote
from tianfu.crypto.merkle import merkle_root
from tianfu.identity import Identity
from tianfu.node import faults
from tianfu.node.localnet import LocalNetwork
from tianfu.p2p.network import TlsNetwork
from tianfu.p2p.protocol import KIND_PROPOSAL, KIND_VOTE, PeerId
from tianfu.types import (
    NO_HASH,
    PRECOMMIT,
    PREVOTE,
    Block,
    CommitCertificate,
    CommitSig,
    ValidatorSet,
    Vote,
)
from tianfu.types.block import BlockHeader, median_time

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WAIT_S = 180.0
ATTACKS = 2  # heights at which the byzantine validator proposes this way


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


def empty_block_after(
    prev: BlockHeader, cert: CommitCertificate, proposer: bytes, valset: ValidatorSet
) -> Block:
    """A valid empty block after `prev` (certified by `cert`), as a proposer builds it."""
    header = BlockHeader(
        version=1,
        chain_id=prev.chain_id,
        height=prev.height + 1,
        time_ms=median_time(cert, valset),
        prev_hash=prev.hash,
        tx_root=merkle_root([]),
        state_root=prev.state_root,  # an empty block changes no state
        receipts_root=merkle_root([]),
        validators_hash=prev.validators_hash,
        proposer=proposer,
        tx_count=0,
        last_commit=cert,
    )
    return Block(header, [])


class Byzantine:
    """The hand-driven validator: it watches the honest nodes' proposals and precommits;
    as soon as a height H it sees certified is followed by a height it proposes in round
    0, it sends that proposal (block to all but the victim) and its prevote."""

    def __init__(self, net: LocalNetwork, victim: bytes) -> None:
        self.me = Identity.load(net.configs[3].identity)
        self.key = self.me.keypair
        self.chain = net.genesis.chain_id
        self.domain = net.genesis.vote_domain  # what the chain's votes sign (ADR 0039)
        self.valset = net.genesis.validator_set
        self.victim = victim
        self.headers: dict[bytes, BlockHeader] = {}  # proposed blocks' headers by hash
        self.precommits: dict[tuple[int, int, bytes], dict[bytes, Vote]] = {}
        self.attacked: list[int] = []
        self.transport: TlsNetwork | None = None

    def handle(self, peer: PeerId, kind: int, payload: bytes) -> None:
        if kind == KIND_PROPOSAL:
            p = decode(payload, Proposal)
            if p.block and p.block_hash not in self.headers:
                self.headers[p.block_hash] = decode(p.block, Block).header
        elif kind == KIND_VOTE:
            v = decode(payload, Vote)
            if v.type != PRECOMMIT or v.block_hash == NO_HASH:
                return
            votes = self.precommits.setdefault((v.height, v.round, v.block_hash), {})
            votes[v.validator] = v
            if 3 * len(votes) > 2 * len(self.valset.validators):  # (equal powers)
                self.certified(v.height, v.round, v.block_hash, list(votes.values()))

    def certified(self, height: int, round: int, block_hash: bytes, votes: list[Vote]) -> None:
        h = height + 1
        prev = self.headers.get(block_hash)
        if (
            prev is None
            or h in self.attacked
            or len(self.attacked) >= ATTACKS
            or weighted_round_robin(self.valset, h, 0) != self.key.public_key
        ):
            return
        sigs = [CommitSig(v.validator, v.time_ms, v.signature) for v in votes]
        cert = CommitCertificate(1, self.chain, height, round, block_hash, sigs)
        block = empty_block_after(prev, cert, self.key.public_key, self.valset)
        data = encode(block)
        p = sign_proposal(self.key, self.chain, h, 0, -1, block.hash, data)
        blockless = msgspec.structs.replace(p, block=b"")
        assert self.transport is not None
        for peer in self.transport.peers():
            copy = blockless if peer.public_key == self.victim else p
            self.transport.send(peer.address, KIND_PROPOSAL, encode(copy))
        prevote = sign_vote(self.key, self.domain, h, 0, PREVOTE, block.hash, 0)
        self.transport.broadcast(KIND_VOTE, encode(prevote))
        self.attacked.append(h)


async def attack(net: LocalNetwork, victim: bytes) -> list[int]:
    """Run the byzantine validator until it proposed at `ATTACKS` heights (or a deadline
    passed); the heights attacked."""
    bad = Byzantine(net, victim)
    cas = {o.name: o.ca_cert for o in net.genesis.orgs}
    transport = TlsNetwork(
        bad.me,
        lambda: cas,
        lambda _a: False,
        bad.handle,
        ("127.0.0.1", 0),
        [("127.0.0.1", c.p2p_port) for c in net.configs[:3]],
        max_frame=16 << 20,
    )
    bad.transport = transport
    await transport.start()
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + WAIT_S
        while len(transport.peers()) < 3:
            assert loop.time() < deadline, "the byzantine peer did not connect"
            await asyncio.sleep(0.1)
        while len(bad.attacked) < ATTACKS and loop.time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # (the last frames are sent)
    finally:
        await transport.stop()
    return bad.attacked


def test_a_proposal_without_its_block_to_one_node_does_not_halt_the_chain(
    net: LocalNetwork,
) -> None:
    urls = [net.url(c) for c in net.configs[:3]]
    net.stop_node(net.configs[3].name)
    start = min(height(u) for u in urls)
    wait_height(urls, start + 2, WAIT_S)  # three of four decide on their own
    victim = Identity.load(net.configs[2].identity).keypair.public_key
    attacked = asyncio.run(attack(net, victim))
    assert len(attacked) == ATTACKS, attacked
    wait_height(urls, max(attacked) + 3, WAIT_S)  # the attacked heights were decided
    assert assert_identical(urls) >= max(attacked) + 3
