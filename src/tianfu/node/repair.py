"""`tianfu node repair`: rebuild a node's store from its peers, keeping its signer state.

The node must be stopped (the data directory's lock says so). If `data/chain.db` fails the
store check (or `fresh` is asked), it and its `-wal`/`-shm` files are moved aside into
`data/damaged-<UTC time>/` — kept for inspection, never deleted — and a new store is begun
from the genesis; a store that checks out is kept and continued (so an interrupted repair
resumes where it stopped). Then the node's own identity dials its configured peers over
mutual TLS and block sync fetches every block from them, each one checked as always
(`tianfu.sync`: a quorum certificate of that height's validator set, re-executed to the
header's roots) until this store reaches the height of the best peer. The store is checked
once more before the command reports success.

Untouched: `privval.json` (the signer's last signed height, round and step) and
`consensus.wal`. They are what keeps a validator from signing twice, and a store rebuilt
from peers does not change what this validator has signed.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tianfu.crypto import set_chain_suite, suite_of
from tianfu.identity import Identity
from tianfu.ledger import Ledger
from tianfu.node.config import NodeConfig
from tianfu.node.netnode import MAX_FRAME
from tianfu.node.storeguard import STORE_FILE, DataLock, certificate_check
from tianfu.node.trust import chain_trust
from tianfu.node.wiring import cancel_all
from tianfu.p2p.network import TlsNetwork
from tianfu.p2p.protocol import KIND_BLOCKS_REQUEST, KIND_BLOCKS_RESPONSE, KIND_STATUS, PeerId
from tianfu.stacks import set_stacks
from tianfu.store import Store, StoreDamaged, StoreError
from tianfu.store.check import check_store
from tianfu.sync import BlockSyncer, SyncConfig
from tianfu.types import Genesis
from tianfu.types.genesis import decode_genesis

log = logging.getLogger(__name__)


class RepairFailed(Exception):
    """The store could not be rebuilt (no peer reachable, peers stopped answering, ...)."""


@dataclass(frozen=True)
class RepairProgress:
    height: int  # our store's height
    target: int  # the best peer's height (0 until a peer reported)
    peers: int  # connected peers
    rate: float  # blocks per second since the start
    elapsed_s: float


@dataclass(frozen=True)
class RepairResult:
    height: int
    blocks_fetched: int
    seconds: float
    moved_aside: str | None  # where the damaged store went (None: kept and continued)
    reason: str | None  # why it was moved aside


def _move_aside(data: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = data / f"damaged-{stamp}"
    dest.mkdir(parents=True, exist_ok=False)
    for suffix in ("", "-wal", "-shm"):
        src = data / f"{STORE_FILE}{suffix}"
        if src.exists():
            shutil.move(str(src), str(dest / src.name))
    return dest


def _open_or_begin(
    data: Path, genesis: Genesis, fresh: bool
) -> tuple[Ledger, str | None, str | None]:
    """The ledger to sync into: the existing store if it checks out, else a new one (the
    old files moved aside). Returns (ledger, moved_aside, reason). `RepairFailed` if the
    store cannot be opened or read for a reason that is not damage (a full disk, a
    read-only file system, the file locked): a store that is not damaged is never moved
    aside."""
    path = data / STORE_FILE
    reason: str | None = "asked for a fresh store" if fresh else None
    if not fresh and path.exists():
        store: Store | None = None
        try:
            store = Store(path)
            ledger = Ledger(store, genesis)
            check_store(store, genesis.hash, verify_certificate=certificate_check(ledger))
            return ledger, None, None
        except (StoreError, ValueError) as exc:  # damaged, a different genesis, ...
            reason = " ".join(str(exc).split())
            if store is not None:
                store.close()
            if getattr(exc, "not_a_tx_fault", False) is True and not isinstance(
                exc, StoreDamaged
            ):  # a write refused, the file locked: the host's, not the store's
                raise RepairFailed(
                    f"cannot open the store {path}: {reason}; it is not damaged and was not "
                    "moved aside: fix that, then run the repair again"
                ) from None
    moved = str(_move_aside(data)) if path.exists() else None
    try:
        store = Store(path)
    except StoreError as exc:
        raise RepairFailed(f"cannot begin a new store {path}: {exc}") from None
    return Ledger(store, genesis), moved, reason


async def repair(
    cfg: NodeConfig,
    *,
    fresh: bool = False,
    connect_timeout_s: float = 60.0,
    stall_timeout_s: float = 60.0,
    progress: Callable[[RepairProgress], None] | None = None,
) -> RepairResult:
    """Rebuild `cfg`'s store from its peers (module docstring). `RepairFailed` if no peer
    connects within `connect_timeout_s`, or the height stops rising for `stall_timeout_s`
    while peers are ahead."""
    genesis = decode_genesis(cfg.genesis.read_bytes())
    set_chain_suite(suite_of(genesis))  # this process works for that chain only
    ident = Identity.load(cfg.identity)
    if not cfg.peers:
        raise RepairFailed(f"{cfg.home}: no peers configured ([p2p] peers in node.toml)")
    lock = DataLock(cfg.data, "repairing its store")
    try:
        ledger, moved, reason = _open_or_begin(cfg.data, genesis, fresh)
        if moved is not None:
            log.warning("store moved aside to %s: %s", moved, reason)
        try:
            return await _sync(
                cfg, ident, ledger, moved, reason, connect_timeout_s, stall_timeout_s, progress
            )
        finally:
            ledger.store.close()
    finally:
        lock.release()


async def _sync(
    cfg: NodeConfig,
    ident: Identity,
    ledger: Ledger,
    moved: str | None,
    reason: str | None,
    connect_timeout_s: float,
    stall_timeout_s: float,
    progress: Callable[[RepairProgress], None] | None,
) -> RepairResult:
    trusted_cas, is_revoked = chain_trust(ledger)
    syncer: BlockSyncer | None = None

    def route(peer: PeerId, kind: int, payload: bytes) -> None:
        if syncer is not None and kind in (KIND_STATUS, KIND_BLOCKS_REQUEST, KIND_BLOCKS_RESPONSE):
            syncer.handle(peer, kind, payload)

    network = TlsNetwork(
        ident,
        trusted_cas,
        is_revoked,
        route,
        listen=(cfg.p2p_host, 0),  # not the node's port: peers must not take this for the node
        peers=cfg.peers,
        max_frame=MAX_FRAME,
    )
    fetched = 0

    def committed(_executed: Any) -> None:
        nonlocal fetched
        fetched += 1

    syncer = BlockSyncer(ledger, network, on_commit=committed, config=SyncConfig(consensus_gap=0))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await network.start()
    task = asyncio.create_task(syncer.run(), name="repair-sync")
    try:
        last_height, last_move = ledger.height, started
        while True:
            await asyncio.sleep(1.0)
            now = loop.time()
            peers = len(network.peers())
            target = syncer.target_height()
            height = ledger.height
            if progress is not None:
                elapsed = now - started
                progress(
                    RepairProgress(height, target, peers, fetched / max(elapsed, 1e-9), elapsed)
                )
            if height != last_height:
                last_height, last_move = height, now
            if peers and target and height >= target and not syncer.syncing:
                break
            if not peers and now - started > connect_timeout_s:
                raise RepairFailed(
                    f"no peer connected in {connect_timeout_s:.0f} s "
                    f"(tried {', '.join(f'{h}:{p}' for h, p in cfg.peers)}): are they running?"
                )
            if peers and now - last_move > stall_timeout_s:
                why = syncer.store_error or "; ".join(
                    f"{a[:12]}: {r}" for a, r in syncer.banned_peers().items()
                )
                raise RepairFailed(
                    f"stuck at height {height} for {stall_timeout_s:.0f} s "
                    f"(peers at {target}){': ' + why if why else ''}"
                )
    finally:
        await cancel_all(task)
        await syncer.drain()
        await network.stop()
    try:
        report = await asyncio.to_thread(
            check_store,
            ledger.store,
            ledger.genesis.hash,
            verify_certificate=certificate_check(ledger),
        )
    except StoreDamaged as exc:
        raise RepairFailed(f"the rebuilt store does not check out: {exc}") from None
    return RepairResult(report.height, fetched, loop.time() - started, moved, reason)


def run_repair(
    home: Path,
    *,
    fresh: bool,
    connect_timeout_s: float,
    stall_timeout_s: float,
    progress: Callable[[RepairProgress], None] | None,
) -> RepairResult:
    """`repair` on its own event loop (the CLI entry point)."""
    cfg = NodeConfig.load(home)
    started = time.monotonic()
    set_stacks()  # it decodes and executes the peers' blocks in threads, as a node does
    result = asyncio.run(
        repair(
            cfg,
            fresh=fresh,
            connect_timeout_s=connect_timeout_s,
            stall_timeout_s=stall_timeout_s,
            progress=progress,
        )
    )
    log.info("repair done in %.1f s", time.monotonic() - started)
    return result
