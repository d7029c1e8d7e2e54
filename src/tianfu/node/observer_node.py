"""Wires an observer node (open profile): store, ledger, block sync and transaction gossip
over the observer port, and the REST API. No consensus driver and no signer: an observer
never votes or proposes. Composition only — no logic of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any

from tianfu.api.app import create_app
from tianfu.api.server import make_server
from tianfu.api.service import TxRejected
from tianfu.crypto import set_chain_suite, suite_of
from tianfu.identity import Identity
from tianfu.mempool import Mempool
from tianfu.mempool.gossip import TxGossip
from tianfu.node.config import ConfigError, NodeConfig
from tianfu.node.service import NodeService
from tianfu.node.storeguard import DataLock, open_checked_ledger
from tianfu.p2p import api as p2p
from tianfu.p2p.observer import ObserverTransport
from tianfu.sync import BlockSyncer
from tianfu.sync.syncer import SyncConfig
from tianfu.types import Genesis, Transaction
from tianfu.types.genesis import decode_genesis

log = logging.getLogger(__name__)
MAX_FRAME = 16 << 20  # sync responses carry blocks (as on the member port)
# What travels on the observer port, either way: sync and transaction gossip, never consensus.
OBSERVER_KINDS = frozenset(
    {p2p.KIND_STATUS, p2p.KIND_BLOCKS_REQUEST, p2p.KIND_BLOCKS_RESPONSE, p2p.KIND_TXS}
)


def check_observer_config(cfg: NodeConfig, genesis: Genesis) -> None:
    if genesis.profile != "open":
        raise ConfigError("observer nodes join open-profile chains only (this one is consortium)")
    if cfg.validator or not cfg.observer:
        raise ConfigError(f"{cfg.home}: not an observer's configuration (observer_node = true)")
    if not cfg.observer_peers:
        raise ConfigError(f"{cfg.home}: an observer needs [observer] peers to connect to")


async def serve_observer_node(cfg: NodeConfig) -> None:
    """Run the observer until stopped."""
    genesis = decode_genesis(cfg.genesis.read_bytes())
    check_observer_config(cfg, genesis)
    set_chain_suite(suite_of(genesis))
    keypair = Identity.load(cfg.identity).keypair  # its own self-made key
    lock = DataLock(cfg.data, "starting this observer")
    try:
        await _serve(cfg, genesis, keypair)
    finally:
        lock.release()


async def _serve(cfg: NodeConfig, genesis: Genesis, keypair: Any) -> None:
    ledger, _ = open_checked_ledger(cfg.home, cfg.data, genesis)
    mempool = Mempool()
    service = NodeService(
        ledger,
        mempool,
        node_name=cfg.name,
        org="",
        is_validator=False,
        max_body_bytes=cfg.max_body_bytes,
    )
    handlers: dict[int, Any] = {}

    def route(peer: p2p.PeerId, kind: int, payload: bytes) -> None:
        handler = handlers.get(kind)
        if handler is not None:
            handler(peer, kind, payload)

    transport = ObserverTransport(
        keypair,
        genesis.chain_id,
        route,
        role="observer",
        listen=(cfg.p2p_host, cfg.observer_port) if cfg.observer_port else None,
        peers=cfg.observer_peers,
        inbound_kinds=OBSERVER_KINDS,
        outbound_kinds=OBSERVER_KINDS,
        max_frame=MAX_FRAME,
    )

    def admit_from_peer(tx: Transaction) -> bool:
        try:
            service.admit(tx)
            return True
        except TxRejected:
            return False

    gossip = TxGossip(transport, admit_from_peer, admit_many=service.admit_many)
    service.on_tx = gossip.publish
    syncer = BlockSyncer(
        ledger,
        transport,
        on_commit=service.block_committed,
        commit_lock=threading.Lock(),
        config=SyncConfig(consensus_gap=0),  # no consensus here: sync to every new block
    )
    for kind in (p2p.KIND_STATUS, p2p.KIND_BLOCKS_REQUEST, p2p.KIND_BLOCKS_RESPONSE):
        handlers[kind] = syncer.handle
    handlers[p2p.KIND_TXS] = gossip.handle
    server = make_server(create_app(service), cfg.api_host, cfg.api_port)
    await transport.start()
    sync_task = asyncio.create_task(syncer.run(), name="block-sync")
    log.info(
        "observer %s (%s) up: api %s:%d, connecting to %s",
        cfg.name,
        transport.address,
        cfg.api_host,
        cfg.api_port,
        ", ".join(f"{h}:{p}" for h, p in cfg.observer_peers),
    )
    try:
        await server.serve()
    finally:
        sync_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sync_task
        await syncer.drain()
        await transport.stop()
        ledger.store.close()


def run_observer_node(cfg: NodeConfig) -> None:
    from tianfu.node import loop as event_loop

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(serve_observer_node(cfg))
