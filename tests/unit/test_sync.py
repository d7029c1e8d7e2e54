"""Block sync between in-process nodes: honest catch-up, lying peers, limits, coordination."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from test_sync_support import CHAIN_LEN, Consortium, FakeNetwork, Hub, chain_hashes, peer_id

from tianfu.codec import decode, encode
from tianfu.crypto import generate_keypair, sign_vote
from tianfu.execution.contract_api import state_key
from tianfu.ledger import Ledger
from tianfu.ledger.ledger import ExecutedBlock
from tianfu.p2p.protocol import KIND_BLOCKS_REQUEST, KIND_BLOCKS_RESPONSE, KIND_STATUS, PeerId
from tianfu.sync import (
    BlocksRequest,
    BlocksResponse,
    BlockSyncer,
    BlockWithCert,
    Status,
    SyncConfig,
)
from tianfu.types import PRECOMMIT, Block, BlockHeader, CommitCertificate, CommitSig


class Node:
    def __init__(self, hub: Hub, ledger: Ledger, name: str, **kw: object) -> None:
        self.id = peer_id(name)
        self.ledger = ledger
        self.committed: list[int] = []
        self.caught_up: list[int] = []
        self.started: list[tuple[int, int]] = []
        self.net = hub.attach(self.id, self._handle)
        kw.setdefault("max_batch", 10)
        kw.setdefault("request_timeout_s", 2.0)
        self.syncer = BlockSyncer(
            ledger,
            self.net,
            on_commit=self._committed,
            on_caught_up=self.caught_up.append,
            on_sync_started=lambda h, t: self.started.append((h, t)),
            **kw,  # type: ignore[arg-type]
        )

    def _handle(self, peer: PeerId, kind: int, payload: bytes) -> None:
        self.syncer.handle(peer, kind, payload)

    def _committed(self, executed: ExecutedBlock) -> None:
        self.committed.append(executed.block.header.height)


def honest_items(ledger: Ledger, req: BlocksRequest) -> list[BlockWithCert]:
    top = min(ledger.height, req.from_height + req.count - 1)
    out = []
    for h in range(req.from_height, top + 1):
        block, cert = ledger.store.load_block(h), ledger.store.load_cert(h)
        assert block is not None and cert is not None
        out.append(BlockWithCert(block, cert))
    return out


class Liar:
    """A peer that claims a height and answers every request with `respond(request)`."""

    def __init__(
        self, hub: Hub, respond: Callable[[BlocksRequest], bytes | None], height: int
    ) -> None:
        self.id = peer_id("liar")
        self.respond = respond
        self.height = height
        self.requests: list[BlocksRequest] = []
        self.net: FakeNetwork = hub.attach(self.id, self._handle)

    def _handle(self, peer: PeerId, kind: int, payload: bytes) -> None:
        if kind == KIND_BLOCKS_REQUEST:
            req = decode(payload, BlocksRequest)
            self.requests.append(req)
            out = self.respond(req)
            if out is not None:
                self.net.send(peer.address, KIND_BLOCKS_RESPONSE, out)

    def announce(self, to: PeerId) -> None:
        self.net.send(to.address, KIND_STATUS, encode(Status(self.height, b"\x07" * 32)))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def sync_until(node: Node, height: int, limit: int = 200) -> None:
    for _ in range(limit):
        if node.ledger.height >= height:
            return
        await node.syncer.sync_from_peers_once()
        await asyncio.sleep(0.001)
    raise AssertionError(f"stuck at {node.ledger.height}, wanted {height}")


# -- honest sync ----------------------------------------------------------------------------


def test_empty_node_syncs_to_identical_chain(world, tmp_path: Path) -> None:
    c, a_ledger = world
    hub = Hub()
    a = Node(hub, a_ledger, "a")
    b = Node(hub, c.ledger(tmp_path / "b"), "b")
    hub.connect(a.id, b.id)

    async def main() -> None:
        a.syncer.broadcast_status()
        await settle()
        assert b.syncer.behind_by() == CHAIN_LEN
        await sync_until(b, CHAIN_LEN)

    asyncio.run(main())
    assert chain_hashes(b.ledger) == chain_hashes(a_ledger)
    assert b.committed == list(range(1, CHAIN_LEN + 1))
    assert b.started == [(0, CHAIN_LEN)]
    assert b.caught_up == [CHAIN_LEN]
    assert not b.syncer.syncing and b.syncer.behind_by() == 0
    assert b.syncer.progress["applied"] == CHAIN_LEN and b.syncer.progress["rate"] > 0
    # Same receipts and state, not just the same headers.
    for h in (1, 15, CHAIN_LEN):
        assert b.ledger.store.load_receipts(h) == a_ledger.store.load_receipts(h)
    key = state_key("governance", f"roles/{c.user.info.address}")
    roles = b.ledger.store.get_latest(key)
    assert roles is not None and roles == a_ledger.store.get_latest(key)
    assert b.ledger.state.root(CHAIN_LEN) == a_ledger.state.root(CHAIN_LEN)


def test_run_tasks_sync_two_nodes_and_announce(world, tmp_path: Path) -> None:
    """Three nodes running `run()`: B and C start empty; both catch up and report it."""
    c, a_ledger = world
    hub = Hub()
    cfg = SyncConfig(status_interval_s=0.05, consensus_gap=1)
    a = Node(hub, a_ledger, "a", config=cfg)
    b = Node(hub, c.ledger(tmp_path / "b"), "b", config=cfg)
    n3 = Node(hub, c.ledger(tmp_path / "c"), "c", config=cfg)
    for x, y in ((a, b), (b, n3), (a, n3)):
        hub.connect(x.id, y.id)

    async def main() -> None:
        tasks = [asyncio.create_task(n.syncer.run()) for n in (a, b, n3)]
        try:
            async with asyncio.timeout(120):
                while not (b.caught_up and n3.caught_up):
                    await asyncio.sleep(0.01)
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            for n in (a, b, n3):
                await n.syncer.drain()

    asyncio.run(main())
    for n in (b, n3):
        assert chain_hashes(n.ledger) == chain_hashes(a_ledger)
        assert n.caught_up == [CHAIN_LEN]
        assert n.committed == list(range(1, CHAIN_LEN + 1))
    assert not a.started and not a.caught_up  # A was never behind
    statuses = [e for e in hub.sent if e[2] == KIND_STATUS]
    assert len(statuses) >= 3


# -- lying peers ----------------------------------------------------------------------------


def _swap_tx(c: Consortium, items: list[BlockWithCert]) -> list[BlockWithCert]:
    first = items[0]
    txs = list(first.block.txs)
    txs[0] = c.txs(first.block.header.height, 1)[0]  # a different, validly signed tx
    return [BlockWithCert(Block(first.block.header, txs), first.cert), *items[1:]]


def _drop_tx(c: Consortium, items: list[BlockWithCert]) -> list[BlockWithCert]:
    first = items[0]
    return [BlockWithCert(Block(first.block.header, first.block.txs[:-1]), first.cert)]


def _with_header(item: BlockWithCert, **changes: object) -> Block:
    h = item.block.header
    fields = {f: getattr(h, f) for f in BlockHeader.__struct_fields__}
    fields.update(changes)
    return Block(BlockHeader(**fields), item.block.txs)


def _header_changed_old_cert(c: Consortium, items: list[BlockWithCert]) -> list[BlockWithCert]:
    block = _with_header(items[0], state_root=b"\x01" * 32)
    return [BlockWithCert(block, items[0].cert), *items[1:]]


def _wrong_roots_signed_by_quorum(c: Consortium, items: list[BlockWithCert]) -> list[BlockWithCert]:
    # A Byzantine quorum certified a block whose state root is wrong: execution catches it.
    block = _with_header(items[0], state_root=b"\x01" * 32)
    return [BlockWithCert(block, c.cert(block.header)), *items[1:]]


def _outsider_cert(c: Consortium, items: list[BlockWithCert]) -> list[BlockWithCert]:
    outsiders = [generate_keypair() for _ in range(3)]
    return [BlockWithCert(items[0].block, c.cert(items[0].block.header, outsiders))]


def _below_quorum(c: Consortium, items: list[BlockWithCert]) -> list[BlockWithCert]:
    header = items[0].block.header
    return [BlockWithCert(items[0].block, c.cert(header, c.keys[: c.quorum - 1]))]


def _one_signature_thrice(c: Consortium, items: list[BlockWithCert]) -> list[BlockWithCert]:
    cert = items[0].cert
    one: CommitSig = cert.signatures[0]
    forged = type(cert)(
        cert.version, cert.chain_id, cert.height, cert.round, cert.block_hash, [one, one, one]
    )
    return [BlockWithCert(items[0].block, forged)]


def _skip_first(c: Consortium, items: list[BlockWithCert]) -> list[BlockWithCert]:
    return items[1:]


def _cert_of_other_block(c: Consortium, items: list[BlockWithCert]) -> list[BlockWithCert]:
    return [BlockWithCert(items[0].block, items[1].cert)]


def _another_chain_same_validators(
    c: Consortium, items: list[BlockWithCert]
) -> list[BlockWithCert]:
    # Another chain run by the same validators (a test network with the members' keys):
    # the block and its certificate are signed by a quorum, for that chain.
    block = _with_header(items[0], chain_id="other-chain")
    h = block.header
    sigs = []
    for k in c.keys[: c.quorum]:
        vote = sign_vote(k, "other-chain", h.height, 0, PRECOMMIT, h.hash, h.time_ms + 1)
        sigs.append(CommitSig(vote.validator, vote.time_ms, vote.signature))
    return [BlockWithCert(block, CommitCertificate(1, "other-chain", h.height, 0, h.hash, sigs))]


TAMPERS = {  # name -> (tamper, expected reason)
    "tx swapped": (_swap_tx, "transaction root mismatch"),
    "tx dropped": (_drop_tx, "tx_count does not match"),
    "header changed, old certificate": (_header_changed_old_cert, "different block hash"),
    "wrong roots signed by a quorum": (_wrong_roots_signed_by_quorum, "state root mismatch"),
    "certificate by non-validators": (_outsider_cert, "outside the validator set"),
    "certificate below quorum": (_below_quorum, "2 of 4 voting power"),
    "one signature counted thrice": (_one_signature_thrice, "lists a validator twice"),
    "wrong height (first block skipped)": (_skip_first, "sent block 2 where 1 was due"),
    "certificate of another block": (_cert_of_other_block, "certificate is for height 2"),
    "another chain, same validators": (_another_chain_same_validators, "other-chain"),
}


def _run_liar_then_honest(
    world, tmp_path: Path, respond: Callable[[BlocksRequest], bytes | None], **kw: object
) -> tuple[Node, Liar]:
    c, a_ledger = world
    hub = Hub()
    b = Node(hub, c.ledger(tmp_path / "b"), "b", **kw)
    liar = Liar(hub, respond, CHAIN_LEN)
    a = Node(hub, a_ledger, "a")
    hub.connect(b.id, liar.id)

    async def main() -> None:
        liar.announce(b.id)
        await settle()
        assert b.syncer.behind_by() == CHAIN_LEN
        await b.syncer.sync_from_peers_once()
        assert liar.requests, "the liar was asked"
        liar_phase.append(chain_hashes(b.ledger))
        hub.connect(a.id, b.id)
        a.syncer.broadcast_status()
        await settle()
        await sync_until(b, CHAIN_LEN)

    liar_phase: list[list[tuple[bytes, bytes]]] = []
    asyncio.run(main())
    # Whatever was applied while only the liar was connected is A's own chain prefix.
    honest = chain_hashes(a_ledger)
    assert liar_phase[0] == honest[: len(liar_phase[0])]
    assert chain_hashes(b.ledger) == honest
    return b, liar


@pytest.mark.parametrize("name", list(TAMPERS))
def test_lying_peer_applies_nothing_and_honest_peer_completes(world, tmp_path, name) -> None:
    c, a_ledger = world
    tamper, reason = TAMPERS[name]

    def respond(req: BlocksRequest) -> bytes:
        return encode(BlocksResponse(tamper(c, honest_items(a_ledger, req))))

    b, liar = _run_liar_then_honest(world, tmp_path, respond)
    assert b.committed == list(range(1, CHAIN_LEN + 1))  # nothing from the liar
    assert reason in b.syncer.banned_peers()[liar.id.address]
    assert len(liar.requests) == 1  # banned: never asked again


def test_missing_height_keeps_checked_prefix_only(world, tmp_path) -> None:
    c, a_ledger = world

    def respond(req: BlocksRequest) -> bytes:
        items = honest_items(a_ledger, req)
        return encode(BlocksResponse([items[0], items[2], items[3]]))  # height 2 missing

    b, liar = _run_liar_then_honest(world, tmp_path, respond)
    assert "where 2 was due" in b.syncer.banned_peers()[liar.id.address]


@pytest.mark.parametrize(
    "payload",
    [
        b"garbage",
        b"",
        encode(Status(3, b"\x01" * 32)),  # a well-formed message of another kind
        encode(BlocksResponse([])) + b"\x00",  # trailing bytes
        b"\xdc" + b"\xff" * 64,  # a huge array header
    ],
)
def test_garbage_response_bans_and_applies_nothing(world, tmp_path, payload) -> None:
    b, liar = _run_liar_then_honest(world, tmp_path, lambda req: payload)
    assert "malformed" in b.syncer.banned_peers()[liar.id.address]
    assert b.committed == list(range(1, CHAIN_LEN + 1))


def test_oversize_response_is_refused(world, tmp_path) -> None:
    cfg = SyncConfig(max_response_bytes=1 << 10)
    big: list[bytes] = []

    def respond(req: BlocksRequest) -> bytes:
        big.append(b"\x91" + b"\x00" * (24 << 20))  # bigger than any allowed response
        return big[-1]

    b, liar = _run_liar_then_honest(world, tmp_path, respond, config=cfg)
    assert len(big[0]) > b.syncer.max_response_in
    assert "exceeds the limit" in b.syncer.banned_peers()[liar.id.address]


def test_more_items_than_requested_is_refused(world, tmp_path) -> None:
    c, a_ledger = world

    def respond(req: BlocksRequest) -> bytes:
        return encode(BlocksResponse(honest_items(a_ledger, BlocksRequest(req.from_height, 20))))

    b, liar = _run_liar_then_honest(world, tmp_path, respond, max_batch=5)
    assert "for a request of 5" in b.syncer.banned_peers()[liar.id.address]
    assert b.committed == list(range(1, CHAIN_LEN + 1))


def test_silent_peer_times_out_and_another_is_tried(world, tmp_path) -> None:
    b, liar = _run_liar_then_honest(world, tmp_path, lambda req: None, request_timeout_s=0.05)
    assert liar.id.address not in b.syncer.banned_peers()  # slow is not dishonest


def test_peer_claiming_blocks_it_lacks_is_believed_no_more(world, tmp_path) -> None:
    b, liar = _run_liar_then_honest(world, tmp_path, lambda req: encode(BlocksResponse([])))
    assert liar.id.address not in b.syncer.banned_peers()
    assert b.syncer.peer_heights()[liar.id.address] == 0


def test_unsolicited_response_is_ignored(world, tmp_path) -> None:
    c, a_ledger = world
    hub = Hub()
    b = Node(hub, c.ledger(tmp_path / "b"), "b")
    liar = Liar(hub, lambda req: None, CHAIN_LEN)
    hub.connect(b.id, liar.id)
    items = honest_items(a_ledger, BlocksRequest(1, 5))

    async def main() -> None:
        liar.net.send(b.id.address, KIND_BLOCKS_RESPONSE, encode(BlocksResponse(items)))
        await settle()

    asyncio.run(main())
    assert b.ledger.height == 0 and not b.committed


def test_block_committed_elsewhere_meanwhile_is_not_blamed_on_the_peer(world, tmp_path) -> None:
    """Consensus commits height 1 while the batch is in flight: the peer is not banned."""
    c, a_ledger = world
    hub = Hub()
    b = Node(hub, c.ledger(tmp_path / "b"), "b")
    first = honest_items(a_ledger, BlocksRequest(1, 1))[0]

    def respond(req: BlocksRequest) -> bytes:
        if b.ledger.height == 0:
            b.ledger.commit(b.ledger.execute(first.block), first.cert)  # "consensus" wins
        return encode(BlocksResponse(honest_items(a_ledger, req)))

    racer = Liar(hub, respond, CHAIN_LEN)
    hub.connect(b.id, racer.id)

    async def main() -> None:
        racer.announce(b.id)
        await settle()
        assert await b.syncer.sync_from_peers_once() == 0
        assert not b.syncer.banned_peers()
        await sync_until(b, CHAIN_LEN)

    asyncio.run(main())
    assert chain_hashes(b.ledger) == chain_hashes(a_ledger)


# -- coordination with consensus ------------------------------------------------------------


def test_gap_of_one_is_left_to_consensus(world, tmp_path) -> None:
    c, a_ledger = world
    hub = Hub()
    b = Node(hub, c.ledger(tmp_path / "b"), "b")
    peer = Liar(hub, lambda req: None, 1)
    hub.connect(b.id, peer.id)

    async def main() -> None:
        peer.announce(b.id)
        await settle()

    asyncio.run(main())
    assert b.syncer.behind_by() == 1
    assert not b.syncer._update_mode() and not b.syncer.syncing and not b.started
    # A node without consensus syncs even one block.
    b.syncer.config = SyncConfig(consensus_gap=0)
    assert b.syncer._update_mode() and b.syncer.syncing and b.started == [(0, 1)]


def test_notify_committed_broadcasts_status(world, tmp_path) -> None:
    c, a_ledger = world
    hub = Hub()
    a = Node(hub, a_ledger, "a")
    seen: list[Status] = []
    watcher = peer_id("w")
    hub.attach(watcher, lambda p, k, d: seen.append(decode(d, Status)))
    hub.connect(a.id, watcher)

    async def main() -> None:
        a.syncer.notify_committed(CHAIN_LEN)
        await settle()

    asyncio.run(main())
    head = a_ledger.head()
    assert head is not None
    assert seen == [Status(CHAIN_LEN, head.hash)]


# -- answering requests ---------------------------------------------------------------------


def test_response_limits_count_bytes_and_range(world) -> None:
    c, a_ledger = world
    hub = Hub()
    a = Node(hub, a_ledger, "a")
    full = decode(a.syncer.response_for(BlocksRequest(1, 100)), BlocksResponse)
    assert [i.block.header.height for i in full.items] == list(range(1, CHAIN_LEN + 1))
    some = decode(a.syncer.response_for(BlocksRequest(5, 3)), BlocksResponse)
    assert [i.block.header.height for i in some.items] == [5, 6, 7]
    past = decode(a.syncer.response_for(BlocksRequest(CHAIN_LEN + 1, 10)), BlocksResponse)
    assert past.items == []
    a.syncer.config = SyncConfig(max_response_bytes=1)
    one = decode(a.syncer.response_for(BlocksRequest(1, 50)), BlocksResponse)
    assert len(one.items) == 1  # always at least one block
    size = len(encode(full.items[0])) + len(encode(full.items[1])) + 10
    a.syncer.config = SyncConfig(max_response_bytes=size)
    two = decode(a.syncer.response_for(BlocksRequest(1, 50)), BlocksResponse)
    assert len(two.items) == 2
    with pytest.raises(ValueError):
        BlocksRequest(1, 101).validate()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_requests_are_rate_limited_per_peer(world) -> None:
    c, a_ledger = world
    hub = Hub()
    clock = Clock()
    a = Node(hub, a_ledger, "a", config=SyncConfig(serve_rate=1.0, serve_burst=3), clock=clock)
    got: list[BlocksResponse] = []
    asker = peer_id("asker")
    net = hub.attach(asker, lambda p, k, d: got.append(decode(d, BlocksResponse)))
    hub.connect(a.id, asker)
    req = encode(BlocksRequest(1, 2))

    async def ask() -> int:
        before = len(got)
        net.send(a.id.address, KIND_BLOCKS_REQUEST, req)
        await settle()  # delivered; an accepted request now has an answer in preparation
        await a.syncer.drain()
        await settle()  # the answer delivered
        return len(got) - before

    async def main() -> None:
        assert [await ask() for _ in range(4)] == [1, 1, 1, 0]  # burst of 3
        clock.t += 1.0
        assert await ask() == 1  # one token back per second
        assert await ask() == 0
        # Requests arriving while one is being answered are dropped, not queued.
        clock.t += 10.0
        for _ in range(5):
            net.send(a.id.address, KIND_BLOCKS_REQUEST, req)
        await settle()
        await a.syncer.drain()
        await settle()

    asyncio.run(main())
    assert len(got) == 5
    assert all([i.block.header.height for i in r.items] == [1, 2] for r in got)


@pytest.mark.parametrize(
    "payload",
    [
        encode(BlocksRequest(1, 1))[:-1],
        b"\x92\x00\x05",  # from height 0
        b"\x92\x01\x00",  # count 0
        b"\x92\x01\xcc\xc8",  # count 200
        b"\x92\x01\x05\x00",  # trailing byte
        b"\xff" * 100,  # oversize garbage
    ],
)
def test_bad_requests_get_no_answer(world, payload) -> None:
    c, a_ledger = world
    hub = Hub()
    a = Node(hub, a_ledger, "a")
    got: list[bytes] = []
    asker = peer_id("asker")
    net = hub.attach(asker, lambda p, k, d: got.append(d))
    hub.connect(a.id, asker)

    async def main() -> None:
        net.send(a.id.address, KIND_BLOCKS_REQUEST, payload)
        net.send(a.id.address, KIND_STATUS, payload)
        await settle()  # both frames handled (one loop hop each)
        await a.syncer.drain()  # and any answer prepared and sent
        await settle()

    asyncio.run(main())
    assert [x for x in hub.sent if x[0] == a.id.address] == []  # a sent nothing at all
    assert got == []
    assert a.syncer.peer_heights().get(asker.address, 0) == 0


def test_constructor_rejects_bad_batch(world) -> None:
    c, a_ledger = world
    hub = Hub()
    with pytest.raises(ValueError):
        Node(hub, a_ledger, "a", max_batch=0)
    with pytest.raises(ValueError):
        Node(hub, a_ledger, "a2", max_batch=101)


def test_constructor_rejects_a_serving_rate_that_answers_nothing(world) -> None:
    c, a_ledger = world
    hub = Hub()
    with pytest.raises(ValueError):
        Node(hub, a_ledger, "a", config=SyncConfig(serve_rate=0.0))
    with pytest.raises(ValueError):
        Node(hub, a_ledger, "a2", config=SyncConfig(serve_burst=0))


def test_answers_are_prepared_by_a_few_threads_of_their_own(world) -> None:
    """Many peers asking at once (on an open network: anonymous observer links, one request
    each) get at most `MAX_SERVING` answers in preparation, read on the serving threads,
    not on the loop's default executor that the consensus driver's signing and WAL use."""
    import threading
    import time

    from tianfu.sync import serving

    c, a_ledger = world
    hub = Hub()
    a = Node(hub, a_ledger, "a")
    got: list[BlocksResponse] = []
    release = threading.Event()
    lock = threading.Lock()
    threads: list[str] = []
    active = peak = 0
    answer = a.syncer.response_for

    def slow_answer(req: BlocksRequest) -> bytes:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            threads.append(threading.current_thread().name)
        release.wait(60)
        with lock:
            active -= 1
        return answer(req)

    a.syncer.response_for = slow_answer  # type: ignore[method-assign]
    askers = 12

    async def main() -> None:
        for i in range(askers):
            asker = peer_id(f"asker{i}")
            net = hub.attach(asker, lambda p, k, d: got.append(decode(d, BlocksResponse)))
            hub.connect(a.id, asker)
            net.send(a.id.address, KIND_BLOCKS_REQUEST, encode(BlocksRequest(1, 2)))
        await settle()
        deadline = time.monotonic() + 60
        while len(threads) < serving.SERVE_THREADS:
            assert time.monotonic() < deadline, "no answer was ever prepared"
            await asyncio.sleep(0.001)
        release.set()
        await a.syncer.drain()
        await settle()

    asyncio.run(main())
    assert a.syncer.dropped_busy == askers - serving.MAX_SERVING
    assert len(got) == serving.MAX_SERVING and peak <= serving.SERVE_THREADS
    assert all(name.startswith("sync-serve") for name in threads)
