"""Batched sync: one fsync per batch with every block its own store transaction (a crash or a
power loss mid-batch leaves the store whole at a block boundary), and signature checks ahead
of execution that refuse exactly what in-line checks refuse."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pytest
from test_sync_support import CHAIN_LEN, Consortium, Hub, chain_hashes, peer_id

from tianfu.codec import encode
from tianfu.crypto import sign_vote
from tianfu.crypto.merkle import merkle_root
from tianfu.ledger import Ledger
from tianfu.store import Store, StoreError
from tianfu.store.check import check_store
from tianfu.sync import BlocksRequest, BlocksResponse, BlockSyncer, BlockWithCert, SyncConfig
from tianfu.types import PRECOMMIT, Block, CommitCertificate, CommitSig

SRC = Path(__file__).resolve().parents[2] / "src"


def items(ledger: Ledger, start: int, stop: int) -> list[BlockWithCert]:
    out = []
    for h in range(start, stop + 1):
        block, cert = ledger.store.load_block(h), ledger.store.load_cert(h)
        assert block is not None and cert is not None
        out.append(BlockWithCert(block, cert))
    return out


def apply_directly(ledger: Ledger, batch: list[BlockWithCert]) -> None:
    for item in batch:
        ledger.commit(ledger.execute(item.block), item.cert)


def assert_whole_prefix(ledger: Ledger, source: Ledger, lowest: int, highest: int) -> int:
    """The store passes the full check and is `source`'s chain up to a height in range."""
    check_store(ledger.store, ledger.genesis.hash, full=True)
    h = ledger.height
    assert lowest <= h <= highest
    assert chain_hashes(ledger) == chain_hashes(source)[:h]
    return h


# -- the batch's durability ----------------------------------------------------------------


def test_power_loss_mid_batch_leaves_the_batch_whole_or_absent(world, tmp_path: Path) -> None:
    """The disk as a power loss may leave it while the batch's COMMIT is written: the
    database as of the batch's start and any prefix of the WAL (cut at an arbitrary byte).
    The batch is one transaction: the store holds all of it or none of it."""
    c, a = world
    b = c.ledger(tmp_path / "b")
    apply_directly(b, items(a, 1, 10))
    db = Path(b.store.path)
    disk_wal: list[tuple[bytes, bytes]] = []
    real = b.store._checkpoint

    def checkpoint(conn):  # type: ignore[no-untyped-def]
        disk_wal.append((db.read_bytes(), Path(str(db) + "-wal").read_bytes()))
        real(conn)

    b.store._checkpoint = checkpoint  # type: ignore[method-assign]
    with b.grouped_commits():
        apply_directly(b, items(a, 11, 25))
    assert b.height == 25
    b.store.close()
    assert len(disk_wal) == 1  # one COMMIT (and checkpoint) for the 15 blocks
    disk, wal = disk_wal[0]
    assert len(wal) > 15 * 4096  # the batch's blocks are in the WAL only
    seen: set[int] = set()
    cuts = sorted({0, 32, len(wal), *range(100, len(wal), max(1, len(wal) // 23))})
    for i, cut in enumerate(cuts):
        d = tmp_path / f"cut{i}"
        d.mkdir()
        (d / "chain.db").write_bytes(disk)
        (d / "chain.db-wal").write_bytes(wal[:cut])
        ledger = c.ledger(d)
        seen.add(assert_whole_prefix(ledger, a, 10, 25))
        ledger.store.close()
    assert seen == {10, 25}


CHILD = """
import sys
from pathlib import Path
from tianfu.ledger import Ledger
from tianfu.store import Store
from tianfu.types.genesis import decode_genesis

src, dst, genesis, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3]).read_bytes(), int(sys.argv[4])
a = Store(src)
b = Ledger(Store(dst), decode_genesis(genesis))
for start in (6, 11):  # a batch of 5 blocks, then one killed after its block `stop`
    with b.grouped_commits():
        for h in range(start, a.height() + 1):
            b.commit(b.execute(a.load_block(h)), a.load_cert(h))
            print(h, flush=True)
            if h == stop:
                sys.stdin.readline()  # killed here, mid-batch, before the batch's COMMIT
            if h == 10:
                break
"""


def test_kill_9_mid_batch_leaves_the_batch_before_and_sync_resumes(world, tmp_path: Path) -> None:
    c, a = world
    b = c.ledger(tmp_path / "b")
    apply_directly(b, items(a, 1, 5))
    b.store.close()
    genesis = tmp_path / "genesis.bin"
    genesis.write_bytes(encode(c.genesis))
    args = [a.store.path, str(tmp_path / "b" / "chain.db"), str(genesis), "20"]
    env = dict(os.environ, PYTHONPATH=str(SRC))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    try:
        for line in child.stdout:
            if int(line) == 20:
                break
        else:
            pytest.fail(f"the child stopped early (exit {child.wait()})")
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    b = c.ledger(tmp_path / "b")
    # The committed batch (6..10) is there; the killed one (11..20) is wholly absent.
    assert assert_whole_prefix(b, a, 10, 10) == 10
    # A restarted node syncs on from there through its syncer.
    hub = Hub()
    na, nb = Node(hub, a, "a"), Node(hub, b, "b")
    sync_all(nb, na, hub, CHAIN_LEN)
    assert nb.committed == list(range(11, CHAIN_LEN + 1))
    assert chain_hashes(b) == chain_hashes(a)
    check_store(b.store, b.genesis.hash, full=True)


def test_a_failure_mid_batch_stores_none_of_it_and_the_ledger_goes_on(
    world, tmp_path: Path
) -> None:
    c, a = world
    b = c.ledger(tmp_path / "b")
    apply_directly(b, items(a, 1, 3))
    with pytest.raises(RuntimeError), b.grouped_commits():
        apply_directly(b, items(a, 4, 9))
        assert b.height == 9  # this thread sees its own writes
        raise RuntimeError("stop")
    assert b.height == 3 and b.store.load_header(4) is None
    assert b.head() == a.store.load_header(3)
    # Nothing of the rolled-back blocks is left in the ledger's memory (their state values
    # would make the same blocks re-execute to other roots).
    apply_directly(b, items(a, 4, CHAIN_LEN))
    assert chain_hashes(b) == chain_hashes(a)
    check_store(b.store, b.genesis.hash, full=True)


def test_a_failed_commit_of_the_batch_is_a_store_error_and_keeps_nothing(
    world, tmp_path: Path
) -> None:
    c, a = world
    b = c.ledger(tmp_path / "b")
    apply_directly(b, items(a, 1, 3))
    writer = b.store._writer
    assert writer is not None

    class FailingCommit:
        def execute(self, sql: str, *args: object) -> object:
            if sql == "COMMIT":
                raise sqlite3.OperationalError("disk I/O error")
            return writer.execute(sql, *args)  # type: ignore[union-attr]

        def __getattr__(self, name: str) -> object:
            return getattr(writer, name)

    b.store._writer = FailingCommit()  # type: ignore[assignment]
    with pytest.raises(StoreError), b.grouped_commits():
        apply_directly(b, items(a, 4, 9))
    b.store._writer = writer
    assert b.height == 3 and b.store.load_header(4) is None
    apply_directly(b, items(a, 4, CHAIN_LEN))
    assert chain_hashes(b) == chain_hashes(a)


def test_other_threads_see_the_batch_at_its_end(world, tmp_path: Path) -> None:
    c, a = world
    b = c.ledger(tmp_path / "b")
    apply_directly(b, items(a, 1, 3))
    seen: dict[str, object] = {}
    written: dict[bytes, bytes | None] = {}
    with b.grouped_commits():
        for item in items(a, 4, 9):
            executed = b.execute(item.block)
            b.commit(executed, item.cert)
            written.update(executed.result.updates)
        assert written and all(b._state_reader()(k) == v for k, v in written.items())

        def look() -> None:
            seen["height"] = b.height
            seen["head"] = b.head()
            seen["header9"] = b.store.load_header(9)
            seen["has_tx"] = any(b.store.has_tx(t.hash) for t in a.store.load_block(9).txs)
            seen["latest"] = {k: b.latest.get(k) for k in written}

        reader = threading.Thread(target=look)
        reader.start()
        reader.join()
        # Another thread's write waits for the batch and is not part of it.
        writer = threading.Thread(target=b.store.set_meta, args=("x", b"1"))
        writer.start()
    writer.join()
    assert seen == {
        "height": 3,
        "head": a.store.load_header(3),
        "header9": None,
        "has_tx": False,
        "latest": {k: a.state.get(k, 3) for k in written},
    }
    assert b.height == 9 and b.head() == a.store.load_header(9)
    assert {k: b.latest.get(k) for k in written} == written
    assert b.store.get_meta("x") == b"1"


def test_a_group_reads_its_tree_nodes_and_state_rows_from_memory(world, tmp_path: Path) -> None:
    """Inside a group the tree nodes and state rows are written once, at its end: this thread
    reads them from memory meanwhile, other threads do not see them, and a scan that could
    not see them is refused."""
    c, a = world
    b = c.ledger(tmp_path / "b")
    apply_directly(b, items(a, 1, 3))
    got: dict[str, object] = {}
    with b.grouped_commits():
        item = items(a, 4, 4)[0]
        executed = b.execute(item.block)
        b.commit(executed, item.cert)
        node_key, node = next(iter(executed.batch.new_nodes.items()))
        key, value = next((k, v) for k, v in executed.result.updates.items() if v is not None)
        assert b.store.get_node(node_key) == node and b.store.get_latest(key) == value
        # A transaction of the group's blocks is committed for the next blocks' replay check.
        tx = item.block.txs[0]
        assert b.store.has_tx(tx.hash) and b.store.committed_txs([tx.hash]) == {tx.hash}
        with pytest.raises(StoreError):
            next(b.store.iter_latest(b""))

        def look() -> None:
            got["node"] = b.store.get_node(node_key)
            got["value"] = b.store.get_latest(key)
            got["tx"] = b.store.has_tx(tx.hash)

        reader = threading.Thread(target=look)
        reader.start()
        reader.join()
    assert got == {"node": None, "value": a.state.get(key, 3), "tx": False}
    assert b.store.get_node(node_key) == node and b.store.get_latest(key) == value
    assert (key, value) in list(b.store.iter_latest(key))


def test_validator_sets_and_parameters_are_read_from_the_tree_once(world, tmp_path) -> None:
    """Each block's validator set and parameters come from the block before (carried at
    its commit), not from a tree read per block."""
    c, a = world
    b = c.ledger(tmp_path / "b")
    apply_directly(b, items(a, 1, 3))
    b = c.ledger(tmp_path / "b")  # restarted: nothing cached
    reads: list[tuple[bytes, int]] = []
    real = b.state.get

    def get(key: bytes, version: int) -> bytes | None:
        reads.append((key, version))
        return real(key, version)

    b.state.get = get  # type: ignore[method-assign]
    with b.grouped_commits():
        apply_directly(b, items(a, 4, 4))
        first = len(reads)
        apply_directly(b, items(a, 5, CHAIN_LEN))
    assert 0 < first and len(reads) == first


# -- the syncer's batches ------------------------------------------------------------------


class Node:
    def __init__(
        self,
        hub: Hub,
        ledger: Ledger,
        name: str,
        max_batch: int = 50,
        ahead: bool = True,
        config: SyncConfig | None = None,
    ) -> None:
        self.id = peer_id(name)
        self.ledger = ledger
        self.committed: list[int] = []
        self.net = hub.attach(self.id, lambda p, k, d: self.syncer.handle(p, k, d))
        self.syncer = BlockSyncer(
            ledger,
            self.net,
            on_commit=lambda e: self.committed.append(e.block.header.height),
            max_batch=max_batch,
            config=config or SyncConfig(check_ahead=ahead),
        )


def sync_all(b: Node, a: Node, hub: Hub, top: int) -> None:
    async def main() -> None:
        hub.connect(a.id, b.id)
        a.syncer.broadcast_status()
        for _ in range(20):
            await asyncio.sleep(0)
        for _ in range(50):
            if b.ledger.height >= top:
                return
            await b.syncer.sync_from_peers_once()
            await asyncio.sleep(0.001)

    asyncio.run(main())


def test_served_bytes_are_the_canonical_response(world) -> None:
    c, a = world
    syncer = BlockSyncer(a, Hub().attach(peer_id("a"), lambda *x: None), on_commit=print)
    for start, count in ((1, 1), (3, 17), (25, 50)):
        want = encode(BlocksResponse(items(a, start, min(start + count - 1, CHAIN_LEN))))
        assert syncer.response_for(BlocksRequest(start, count)) == want


class Liar:
    """Serves A's chain with block `bad` replaced by `tamper(item)`."""

    def __init__(self, hub: Hub, a: Ledger, bad: int, tamper) -> None:  # type: ignore[no-untyped-def]
        self.id = peer_id("liar")
        self.net = hub.attach(self.id, self._handle)
        self.a, self.bad, self.tamper = a, bad, tamper

    def _handle(self, peer, kind, payload) -> None:  # type: ignore[no-untyped-def]
        from tianfu.codec import decode
        from tianfu.p2p.protocol import KIND_BLOCKS_REQUEST, KIND_BLOCKS_RESPONSE

        if kind != KIND_BLOCKS_REQUEST:
            return
        req = decode(payload, BlocksRequest)
        out = items(self.a, req.from_height, min(self.a.height, req.from_height + req.count - 1))
        out = [self.tamper(x) if x.block.header.height == self.bad else x for x in out]
        self.net.send(peer.address, KIND_BLOCKS_RESPONSE, encode(BlocksResponse(out)))


def _forged_signature(c: Consortium, item: BlockWithCert) -> BlockWithCert:
    cert = item.cert
    sig = cert.signatures[1]
    bad = CommitSig(sig.validator, sig.time_ms, bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    sigs = [cert.signatures[0], bad, *cert.signatures[2:]]
    return BlockWithCert(item.block, msgspec.structs.replace(cert, signatures=sigs))


def _bad_last_commit(c: Consortium, item: BlockWithCert) -> BlockWithCert:
    # The header's certificate of the block before, with a forged signature, certified.
    last = item.block.header.last_commit
    assert last is not None
    sig = last.signatures[0]
    bad = CommitSig(sig.validator, sig.time_ms, bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    forged = msgspec.structs.replace(last, signatures=[bad, *last.signatures[1:]])
    header = msgspec.structs.replace(item.block.header, last_commit=forged)
    return BlockWithCert(Block(header, item.block.txs), c.cert(header))


def _bad_tx_signature(c: Consortium, item: BlockWithCert) -> BlockWithCert:
    # A Byzantine quorum certified a block holding a transaction with a forged signature.
    txs = list(item.block.txs)
    tx = txs[1]
    txs[1] = msgspec.structs.replace(tx, signature=bytes([tx.signature[0] ^ 1]) + tx.signature[1:])
    root = merkle_root([encode(t) for t in txs])
    header = msgspec.structs.replace(item.block.header, tx_root=root)
    return BlockWithCert(Block(header, txs), c.cert(header))


def _old_signers_cert(c: Consortium, item: BlockWithCert) -> BlockWithCert:
    h = item.block.header
    sigs = []
    for k in c.keys[: c.quorum - 1]:
        vote = sign_vote(k, h.chain_id, h.height, 0, PRECOMMIT, h.hash, h.time_ms + 1)
        sigs.append(CommitSig(vote.validator, vote.time_ms, vote.signature))
    return BlockWithCert(item.block, CommitCertificate(1, h.chain_id, h.height, 0, h.hash, sigs))


MID_BATCH = {  # tamper of block 12 (of a batch 1..30) -> the reason it is refused for
    "certificate signature forged": (_forged_signature, "invalid signature of validator"),
    "last_commit signature forged": (
        _bad_last_commit,
        "last commit: certificate carries an invalid signature",
    ),
    "transaction signature forged": (_bad_tx_signature, "invalid transaction: bad signature"),
    "certificate below quorum": (_old_signers_cert, "more than 2/3"),
}


@pytest.mark.parametrize("ahead", [True, False], ids=["checked ahead", "in line"])
@pytest.mark.parametrize("name", list(MID_BATCH))
def test_a_bad_signature_mid_batch_is_refused_after_the_blocks_before_it(
    world, tmp_path: Path, name: str, ahead: bool
) -> None:
    refuse_mid_batch(world, tmp_path, name, SyncConfig(check_ahead=ahead, check_in_process=False))


def refuse_mid_batch(world, tmp_path: Path, name: str, config: SyncConfig) -> None:  # type: ignore[no-untyped-def]
    """A liar's block 12 tampered as MID_BATCH[name] says: blocks 1-11 are stored, the
    liar is banned for block 12 with the reason of the in-line check."""
    c, a = world
    tamper, reason = MID_BATCH[name]
    hub = Hub()
    b = Node(hub, c.ledger(tmp_path / "b"), "b", config=config)
    liar = Liar(hub, a, 12, lambda item: tamper(c, item))
    hub.connect(liar.id, b.id)

    async def main() -> None:
        from tianfu.p2p.protocol import KIND_STATUS
        from tianfu.sync import Status

        liar.net.send(b.id.address, KIND_STATUS, encode(Status(CHAIN_LEN, b"\x07" * 32)))
        for _ in range(5):
            await asyncio.sleep(0)
        assert await b.syncer.sync_from_peers_once() == 11

    asyncio.run(main())
    assert b.committed == list(range(1, 12))
    assert chain_hashes(b.ledger) == chain_hashes(a)[:11]
    banned = b.syncer.banned_peers()[liar.id.address]
    assert banned.startswith("block 12: ") and reason in banned, banned
    check_store(b.ledger.store, c.genesis.hash, full=True)


def test_sync_across_validator_set_changes_checks_each_set(tmp_path: Path) -> None:
    """A batch that spans validator-set changes (effective at H + 2) is checked ahead with
    the set known at its start; the certificates after a change are checked against the new
    set, and one that the old set would accept is refused."""
    from test_light_client_valsets import Env

    env = Env(tmp_path)
    try:
        a = env.chain.ledger
        top = a.height
        assert env.added < env.powered < env.removed <= top
        hub = Hub()
        na = Node(hub, a, "a")
        nb = Node(hub, Ledger(Store(tmp_path / "c.db"), a.genesis), "b", max_batch=100)
        sync_all(nb, na, hub, top)
        assert chain_hashes(nb.ledger) == chain_hashes(a)
        assert nb.committed == list(range(1, top + 1))
        names = {v.name for v in a.validator_set(env.removed).validators}
        assert "org4-v" not in names and "org5-v" in names
        # The sets and parameters carried from block to block are those in the tree.
        fresh = Ledger(Store(tmp_path / "c.db"), a.genesis)
        for h in range(1, top + 3):
            assert nb.ledger.validator_set(h) == fresh.validator_set(h), h
            assert nb.ledger.params(h) == fresh.params(h), h
        fresh.store.close()

        # The block where org4's validator is gone, certified by the genesis set (org4-v
        # included, org5-v absent): valid for the set the batch was checked with ahead,
        # not for its own.
        def by_old_set(item: BlockWithCert) -> BlockWithCert:
            h = item.block.header
            sigs = []
            for v in a.genesis.validators:
                k = env.chain.keys[v.public_key]
                vote = sign_vote(k, h.chain_id, h.height, 0, PRECOMMIT, h.hash, h.time_ms + 1)
                sigs.append(CommitSig(vote.validator, vote.time_ms, vote.signature))
            cert = CommitCertificate(1, h.chain_id, h.height, 0, h.hash, sigs)
            return BlockWithCert(item.block, cert)

        hub2 = Hub()
        nc = Node(hub2, Ledger(Store(tmp_path / "d.db"), a.genesis), "c", max_batch=100)
        liar = Liar(hub2, a, env.removed, by_old_set)
        hub2.connect(liar.id, nc.id)

        async def main() -> None:
            from tianfu.p2p.protocol import KIND_STATUS
            from tianfu.sync import Status

            liar.net.send(nc.id.address, KIND_STATUS, encode(Status(top, b"\x07" * 32)))
            for _ in range(5):
                await asyncio.sleep(0)
            await nc.syncer.sync_from_peers_once()

        asyncio.run(main())
        assert nc.ledger.height == env.removed - 1
        assert "outside the validator set" in nc.syncer.banned_peers()[liar.id.address]
        nb.ledger.store.close()
        nc.ledger.store.close()
    finally:
        env.close()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_next_batch_is_requested_while_one_is_applied(world, tmp_path: Path) -> None:
    """From a peer whose batch was applied whole, the next batch is asked for before the
    current one is applied (and applied from that answer); the first batch is not."""
    from tianfu.codec import decode
    from tianfu.p2p.protocol import KIND_BLOCKS_REQUEST

    c, a = world
    hub = Hub()
    b = Node(hub, c.ledger(tmp_path / "b"), "b", max_batch=7)
    source = Node(hub, a, "a")
    asked: list[int] = []
    serve = source.syncer.handle

    def handle(peer, kind, payload) -> None:  # type: ignore[no-untyped-def]
        if kind == KIND_BLOCKS_REQUEST:
            asked.append(decode(payload, BlocksRequest).from_height)
        serve(peer, kind, payload)

    source.syncer.handle = handle  # type: ignore[method-assign]
    ahead_at_end: list[tuple[int, bool]] = []
    apply = b.syncer._apply_items

    def apply_items(batch: list[BlockWithCert], from_height: int, *more):  # type: ignore[no-untyped-def]
        out = apply(batch, from_height, *more)
        following = from_height + len(batch)
        deadline = time.monotonic() + (30 if from_height > 1 else 0)
        while following not in asked and following <= CHAIN_LEN and time.monotonic() < deadline:
            time.sleep(0.005)
        ahead_at_end.append((from_height, following in asked))
        return out

    b.syncer._apply_items = apply_items  # type: ignore[method-assign]
    sync_all(b, source, hub, CHAIN_LEN)
    assert chain_hashes(b.ledger) == chain_hashes(a)
    assert ahead_at_end[0] == (1, False)  # not yet: nothing of that peer's applied before
    assert [ahead for h, ahead in ahead_at_end[1:] if h + 7 <= CHAIN_LEN] == [True, True, True]
    assert sorted(asked) == asked == [1, 8, 15, 22, 29]  # each batch asked for once
