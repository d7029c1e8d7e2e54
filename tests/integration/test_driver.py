"""Integration: four consensus drivers with real ledgers over an in-memory network.

Each node has its own SQLite store, signer state file and WAL; a router delivers frames
through the event loop and can drop frames or take nodes away. Checked: all nodes commit
the same blocks and state roots with transactions, a crashed node rebuilt from its files
rejoins and catches up, nothing commits with 2 of 4 down and progress resumes when one
returns, hostile frames are dropped without stalling, and no validator ever signs two
different votes for one (height, round, type), across restarts in the middle of a height.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from pathlib import Path

from tianfu.codec import decode, encode
from tianfu.consensus import peers as drv
from tianfu.consensus.driver import ConsensusDriver
from tianfu.consensus.peers import KIND_COMMIT, KIND_PROPOSAL, KIND_VOTE
from tianfu.consensus.privval import FilePrivValidator
from tianfu.consensus.wal import ConsensusWAL
from tianfu.crypto import generate_keypair, sign_tx, sign_vote
from tianfu.identity import Identity, OrgCA
from tianfu.ledger import Ledger
from tianfu.mempool import Mempool
from tianfu.p2p import protocol as p2p
from tianfu.p2p.protocol import PeerId
from tianfu.store import Store
from tianfu.types import PREVOTE, ConsensusParams, Genesis, OrgConfig, TxBody, Validator, Vote

# Deadline for what a test waits for: generous, so that a busy machine only makes a test
# slower, never failing (each wait ends as soon as its condition holds).
WAIT_S = 90.0

CHAIN = "driver-test"
PARAMS = ConsensusParams(
    timeout_propose_ms=300, timeout_vote_ms=150, timeout_delta_ms=100, block_interval_ms=30
)


class Router:
    """An in-memory frame network: asynchronous delivery, random drops, detached nodes."""

    def __init__(self, seed: int = 1) -> None:
        self.handlers: dict[str, object] = {}
        self.ids: dict[str, PeerId] = {}
        self.drop = 0.0
        self.rng = random.Random(seed)
        self.votes: dict[tuple[bytes, int, int, int], set[bytes]] = defaultdict(set)

    def attach(self, peer: PeerId, handler) -> None:
        self.ids[peer.address] = peer
        self.handlers[peer.address] = handler

    def detach(self, address: str) -> None:
        self.handlers.pop(address, None)

    def record(self, kind: int, payload: bytes) -> None:
        if kind == KIND_VOTE:
            v = decode(payload, Vote)
            self.votes[(v.validator, v.height, v.round, v.type)].add(v.block_hash)

    def deliver(self, src: str, dst: str, kind: int, payload: bytes) -> None:
        if src not in self.handlers or dst not in self.handlers:
            return
        if self.drop and self.rng.random() < self.drop:
            return
        loop = asyncio.get_running_loop()
        loop.call_later(self.rng.uniform(0, 0.003), self._arrive, src, dst, kind, payload)

    def _arrive(self, src: str, dst: str, kind: int, payload: bytes) -> None:
        handler = self.handlers.get(dst)
        if handler is not None and src in self.handlers:
            handler(self.ids[src], kind, payload)

    def double_signs(self) -> list:
        return [(k, v) for k, v in self.votes.items() if len(v) > 1]


class FakeNet:
    def __init__(self, router: Router, me: str) -> None:
        self.router, self.me = router, me

    def broadcast(self, kind: int, payload: bytes) -> None:
        self.router.record(kind, payload)
        for dst in list(self.router.handlers):
            if dst != self.me:
                self.router.deliver(self.me, dst, kind, payload)

    def send(self, peer: str, kind: int, payload: bytes) -> None:
        self.router.record(kind, payload)
        self.router.deliver(self.me, peer, kind, payload)

    def peers(self) -> list[PeerId]:
        return [p for a, p in self.router.ids.items() if a != self.me and a in self.router.handlers]


class Node:
    def __init__(self, cluster: Cluster, index: int, ident: Identity) -> None:
        self.cluster = cluster
        self.index = index
        self.ident = ident
        self.dir: Path = cluster.root / f"node{index}"
        self.dir.mkdir(parents=True, exist_ok=True)
        info = ident.info
        self.peer = PeerId(info.address, info.org, info.name, info.public_key)
        self.commits: dict[int, tuple[bytes, bytes]] = {}
        self.receipts: dict[bytes, int] = {}
        self.driver: ConsensusDriver | None = None
        self.mempool = Mempool()

    async def start(self) -> None:
        self.store = Store(self.dir / "chain.db")
        self.ledger = Ledger(self.store, self.cluster.genesis)
        self.wal = ConsensusWAL(self.dir / "cs.wal")
        FilePrivValidator.initialise(self.ident.keypair, self.dir / "privval.bin")
        privval = FilePrivValidator(self.ident.keypair, self.dir / "privval.bin")
        self.driver = ConsensusDriver(
            self.ledger,
            self.mempool,
            privval,
            self.wal,
            FakeNet(self.cluster.router, self.peer.address),
            on_commit=self._on_commit,
            gossip_interval_ms=100,
        )
        self.cluster.router.attach(self.peer, self.driver.handle_frame)
        await self.driver.start()

    def _on_commit(self, executed) -> None:
        h = executed.block.header
        self.commits[h.height] = (h.hash, h.state_root)
        for tx, r in zip(executed.block.txs, executed.result.receipts, strict=True):
            self.receipts[tx.hash] = r.status

    async def stop(self) -> None:
        self.cluster.router.detach(self.peer.address)
        assert self.driver is not None
        await self.driver.stop()
        self.wal.close()
        self.store.close()
        self.driver = None

    @property
    def height(self) -> int:
        return self.ledger.height


class Cluster:
    def __init__(self, root: Path, n: int = 4) -> None:
        self.root = root
        self.router = Router()
        cas = [OrgCA.create(f"org{i}") for i in range(n)]
        self.node_ids = [ca.issue(f"node{i}", "node") for i, ca in enumerate(cas)]
        self.admins = [ca.issue(f"admin{i}", "admin") for i, ca in enumerate(cas)]
        self.genesis = Genesis(
            version=1,
            chain_id=CHAIN,
            time_ms=int(time.time() * 1000) - 10_000,
            orgs=[OrgConfig(ca.org, ca.cert_der) for ca in cas],
            validators=[
                Validator(f"node{i}", cas[i].org, k.keypair.scheme, k.keypair.public_key, 1)
                for i, k in enumerate(self.node_ids)
            ],
            params=PARAMS,
        )
        self.nodes = [Node(self, i, ident) for i, ident in enumerate(self.node_ids)]
        self._nonce = 0

    async def start(self, which=None) -> None:
        for i in which if which is not None else range(len(self.nodes)):
            await self.nodes[i].start()

    async def stop_all(self) -> None:
        for nd in self.nodes:
            if nd.driver is not None:
                await nd.stop()

    def tx(self, org: int, role: str):
        """A governance call by an org admin: grant itself a role (registers its cert)."""
        admin = self.admins[org]
        self._nonce += 1
        body = TxBody(
            1,
            CHAIN,
            admin.keypair.scheme,
            admin.keypair.public_key,
            self._nonce,
            500,
            "governance",
            "grant_role",
            [admin.info.address, role],
            admin.cert_der,
        )
        return sign_tx(admin.keypair, body)

    def submit(self, tx, nodes=None) -> None:
        for nd in nodes if nodes is not None else self.nodes:
            nd.mempool.add(tx)

    def running(self) -> list[Node]:
        return [nd for nd in self.nodes if nd.driver is not None]

    async def wait_height(self, height: int, nodes=None, timeout: float = WAIT_S) -> None:
        nodes = nodes if nodes is not None else self.running()
        deadline = time.monotonic() + timeout
        while min(nd.height for nd in nodes) < height:
            for nd in nodes:
                if nd.driver is not None and nd.driver.failed is not None:
                    raise nd.driver.failed
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timeout waiting for height {height}: {[nd.height for nd in nodes]}"
                )
            await asyncio.sleep(0.02)

    def check_agreement(self) -> int:
        """All nodes' commits agree; return how many heights were compared."""
        by_height: dict[int, set[tuple[bytes, bytes]]] = defaultdict(set)
        for nd in self.nodes:
            for h, rec in nd.commits.items():
                by_height[h].add(rec)
        for nd in self.nodes:  # the stores too (commits made before a restart included)
            store = Store(nd.dir / "chain.db")
            try:
                for h in range(1, store.height() + 1):
                    header = store.load_header(h)
                    by_height[h].add((header.hash, header.state_root))
            finally:
                store.close()
        assert all(len(v) == 1 for v in by_height.values()), "nodes disagree on a block"
        assert not self.router.double_signs(), self.router.double_signs()
        return len(by_height)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 240))


def stalled(nodes: list[Node]) -> bool:
    """All `nodes` are at one height, each has voted there and has no event, execution or
    decision pending: with the other validators stopped (the router drops their frames),
    nothing can change any more. The event that shows a stall, rather than a time waited."""
    if len({nd.height for nd in nodes}) != 1:
        return False
    for nd in nodes:
        d = nd.driver
        last = d.privval.last_hrs()
        if len(d.inbox) or d._inflight or d.core.decided is not None:
            return False
        if last is None or last[0] != d.core.height:
            return False
    return True


async def wait_until(pred, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_kind_numbers_match_p2p_api():
    assert (KIND_PROPOSAL, KIND_VOTE, KIND_COMMIT) == (
        p2p.KIND_PROPOSAL,
        p2p.KIND_VOTE,
        p2p.KIND_COMMIT,
    )


def test_four_nodes_commit_the_same_blocks_with_transactions(tmp_path):
    cluster = Cluster(tmp_path)

    async def scenario():
        cluster.router.drop = 0.15  # lossy network: liveness needs the gossip re-sends
        await cluster.start()
        txs = [cluster.tx(i % 4, f"role{i}") for i in range(8)]
        for tx in txs:
            cluster.submit(tx)
        await cluster.wait_height(2)
        more = [cluster.tx(i % 4, f"late{i}") for i in range(4)]
        for tx in more:
            cluster.submit(tx, cluster.nodes[:1])  # only one mempool: its proposer turn
        deadline = time.monotonic() + WAIT_S
        while not all(tx.hash in nd.receipts for tx in txs + more for nd in cluster.nodes):
            assert time.monotonic() < deadline, "transactions were not committed"
            await cluster.wait_height(max(nd.height for nd in cluster.nodes) + 1)
        await cluster.wait_height(max(nd.height for nd in cluster.nodes))
        stats = [nd.driver.stats for nd in cluster.nodes]
        await cluster.stop_all()
        return txs + more, stats

    txs, stats = run(scenario())
    assert cluster.check_agreement() >= 3
    for nd in cluster.nodes:
        assert all(nd.receipts[tx.hash] == 0 for tx in txs)  # every call succeeded
        assert len(nd.mempool) == 0  # committed transactions left every mempool
    assert sum(s["gossip_resends"] for s in stats) > 0
    assert all(s["sign_refused"] == 0 for s in stats)


def test_crash_restart_quorum_loss_and_restart_mid_height(tmp_path):
    cluster = Cluster(tmp_path)
    n = cluster.nodes

    async def scenario():
        await cluster.start()
        await cluster.wait_height(2)
        await n[3].stop()  # crash: 3 of 4 still form a quorum
        h = max(nd.height for nd in cluster.running())
        await cluster.wait_height(h + 3)
        await n[2].stop()  # now 2 of 4: nothing may commit
        # a decision already in flight lands, a node one height behind fetches that commit
        await wait_until(lambda: stalled(cluster.running()), "the stall")
        heights = [nd.height for nd in cluster.running()]
        for nd in cluster.running():  # waiting for prevotes that cannot come
            assert not nd.driver.core.votes.prevotes(nd.driver.core.round).has_two_thirds_any()
        # node 1 "crashes" in the middle of the stalled height and is rebuilt from its files
        core = n[1].driver.core
        before = (core.height, core.round)
        last_signed = n[1].driver.privval.last_hrs()
        assert last_signed is not None and last_signed[0] == core.height
        await n[1].stop()
        await n[1].start()
        d1 = n[1].driver
        assert d1.replayed > 0
        assert (d1.core.height, d1.core.round) >= before  # resumed, not back to round 0
        # its own vote of that round came back from the WAL (the signer signed nothing new)
        key = n[1].ident.keypair.public_key
        own = [v for v in d1.core.votes.prevotes(before[1]).votes() if v.validator == key]
        assert own and d1.privval.last_hrs() == last_signed
        assert d1.stats["sign_refused"] == 0
        await wait_until(lambda: stalled(cluster.running()), "the stall after the restart")
        assert [nd.height for nd in cluster.running()] == heights
        # node 3 returns: it catches up block by block and progress resumes
        await n[3].start()
        await cluster.wait_height(max(heights) + 2)
        assert n[3].driver.stats["commit_frames"] > 0
        await n[2].start()
        top = max(nd.height for nd in cluster.nodes)
        await cluster.wait_height(top + 1)
        await cluster.stop_all()

    run(scenario())
    assert cluster.check_agreement() >= 6


DROPS = (
    "dropped_malformed",
    "dropped_not_validator",
    "dropped_bad_signature",
    "dropped_future_height",
    "dropped_wrong_chain",
    "dropped_kind",
    "dropped_rate_limited",
)


def test_hostile_frames_are_dropped_without_stalling(tmp_path):
    cluster = Cluster(tmp_path)
    outsider = generate_keypair()
    mallory = PeerId("mallory", "evil", "mallory", outsider.public_key)

    def hostile(height: int) -> list[tuple[int, bytes]]:
        val = cluster.node_ids[0].keypair
        good = sign_vote(val, CHAIN, height, 0, PREVOTE, b"\x07" * 32)
        forged = Vote(1, CHAIN, height, 0, PREVOTE, b"\x08" * 32, 0, val.public_key, b"\x01" * 64)
        return [
            (KIND_VOTE, b"\xc1garbage"),
            (KIND_VOTE, b"\x00" * 5000),  # oversized for a vote
            (KIND_PROPOSAL, b"\x93\x01\x02"),
            (KIND_COMMIT, b"\xff" * 100),
            (KIND_VOTE, encode(sign_vote(outsider, CHAIN, height, 0, PREVOTE, b"\x07" * 32))),
            (KIND_VOTE, encode(forged)),
            (KIND_VOTE, encode(sign_vote(val, "other-chain", height, 0, PREVOTE, b""))),
            (KIND_VOTE, encode(sign_vote(val, CHAIN, height + 50, 0, PREVOTE, b""))),
            (KIND_VOTE, encode(good)[:-1] + b"\x00"),
            (99, b"unknown kind"),
        ]

    async def scenario():
        await cluster.start()
        await cluster.wait_height(1)
        start = min(nd.height for nd in cluster.nodes)
        deadline = time.monotonic() + WAIT_S
        sent = 0

        def every_kind_dropped() -> bool:
            return all(nd.driver.stats[k] > 0 for nd in cluster.nodes for k in DROPS)

        while sent <= 2000 or not every_kind_dropped():  # a count and the drops, not a time
            assert time.monotonic() < deadline, [nd.driver.stats for nd in cluster.nodes]
            for _ in range(20):  # in bursts faster than the per-peer token bucket refills
                for nd in cluster.nodes:
                    for kind, payload in hostile(nd.driver.core.height):
                        nd.driver.handle_frame(mallory, kind, payload)
                        sent += 1
            await asyncio.sleep(0.001)
        await cluster.wait_height(start + 3)
        stats = [nd.driver.stats for nd in cluster.nodes]
        await cluster.stop_all()
        return stats, sent

    stats, sent = run(scenario())
    assert sent > 2000
    for s in stats:
        assert s["dropped_malformed"] > 0
        assert s["dropped_not_validator"] > 0 and s["dropped_bad_signature"] > 0
        assert s["dropped_future_height"] > 0
        assert s["dropped_wrong_chain"] > 0 and s["dropped_kind"] > 0
        assert s["dropped_rate_limited"] > 0  # the flood hit the per-peer token bucket
        assert s["event_errors"] == 0
    assert cluster.check_agreement() >= 4


def test_commit_frame_request_is_answered_and_bad_commits_ignored(tmp_path):
    cluster = Cluster(tmp_path)

    async def scenario():
        await cluster.start([0, 1, 2])
        await cluster.wait_height(2)
        d0 = cluster.nodes[0].driver
        got: list[tuple[str, int, bytes]] = []

        class Spy:
            def broadcast(self, kind, payload):
                pass

            def send(self, peer, kind, payload):
                got.append((peer, kind, payload))

        d0.gossip.network = Spy()  # the gossip component sends commit frames
        peer = PeerId("asker", "x", "asker", b"")
        d0.handle_frame(peer, KIND_COMMIT, encode(drv.CommitFrame(1, 1)))
        await asyncio.sleep(0)
        assert len(got) == 1 and got[0][:2] == ("asker", KIND_COMMIT)
        frame = decode(got[0][2], drv.CommitFrame, max_size=drv.MAX_COMMIT_FRAME)
        assert frame.height == 1 and frame.certificate is not None
        assert frame.certificate.block_hash == cluster.nodes[0].commits[1][0]
        # a commit frame for our current height with a forged certificate changes nothing
        await cluster.nodes[1].stop()
        await cluster.nodes[2].stop()
        await wait_until(lambda: stalled([cluster.nodes[0]]), "node 0 alone to stall")
        h = d0.core.height
        cert = frame.certificate
        import msgspec

        forged = msgspec.structs.replace(cert, height=h)
        d0.handle_frame(peer, KIND_COMMIT, encode(drv.CommitFrame(1, h, frame.block, forged)))
        assert d0.stats["commit_frames"] == 1  # taken in, then handled by the driver's loop:
        await wait_until(lambda: stalled([cluster.nodes[0]]), "the frame to be handled")
        assert cluster.nodes[0].height == h - 1
        await cluster.stop_all()

    run(scenario())
    assert cluster.check_agreement() >= 2
