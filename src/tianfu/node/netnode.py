"""Wires a network node: store, ledger, mempool, p2p (mutual TLS), consensus driver, block
sync, transaction gossip, private data, the applications' p2p services (photo blobs), the
store guard and the REST API. Composition only — no logic of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn

from tianfu.api.server import make_server
from tianfu.consensus.driver import ConsensusDriver
from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator
from tianfu.consensus.wal import ConsensusWAL
from tianfu.crypto import set_chain_suite, suite_of
from tianfu.identity import Identity
from tianfu.mempool.gossip import TxGossip
from tianfu.node import faults
from tianfu.node import loop as event_loop
from tianfu.node.config import NodeConfig
from tianfu.node.evidence import EvidenceReporter
from tianfu.node.health import NodeHealth, wire_health
from tianfu.node.http import network_node_app
from tianfu.node.observer_node import CONSENSUS_KINDS, OBSERVER_KINDS, validator_key_check
from tianfu.node.storeguard import DataLock, StoreGuard
from tianfu.node.trust import chain_trust
from tianfu.node.wiring import cancel_all, node_sockets, open_service, peer_admission
from tianfu.p2p import protocol as p2p
from tianfu.p2p.combined import CombinedNetwork
from tianfu.p2p.network import TlsNetwork
from tianfu.p2p.observer import ObserverTransport
from tianfu.privdata.distribution import Distributor
from tianfu.privdata.node import PrivateDataNode, load_quotas
from tianfu.sync import BlockSyncer
from tianfu.types import Genesis
from tianfu.types.genesis import decode_genesis

log = logging.getLogger(__name__)
MAX_FRAME = 16 << 20  # sync responses carry blocks: max_response_bytes + max_block_bytes + slack


async def serve_network_node(cfg: NodeConfig, *, new_signer_state: bool = False) -> None:
    """Run the node until stopped; `StoreRefused` if its store is damaged (at start or later),
    `PrivValStateError` if its signer file is missing and `new_signer_state` is not given."""
    genesis = decode_genesis(cfg.genesis.read_bytes())
    set_chain_suite(suite_of(genesis))  # every hash and signature check of this process
    ident = Identity.load(cfg.identity)
    lock = DataLock(cfg.data, "starting this node")
    try:
        # The API's port first, before the store, the p2p links or the consensus start: a
        # taken port stops the start with one line naming it and node.toml.
        listening = [("p2p", cfg.p2p_port)]
        if genesis.profile == "open" and cfg.observer_port:
            listening.append(("observer", cfg.observer_port))
        api, listeners = node_sockets(cfg, listening)
        try:
            await _serve(cfg, api, listeners, genesis, ident, new_signer_state)
        finally:
            for sock in (api, *listeners.values()):
                sock.close()
    finally:
        lock.release()


async def _serve(
    cfg: NodeConfig,
    api_listener: socket.socket,
    listeners: dict[str, socket.socket],
    genesis: Genesis,
    ident: Identity,
    new_signer_state: bool,
) -> None:
    # Every shutdown step is pushed as soon as what it undoes exists and is safe on a part
    # started transport, driver or service: a start that fails at any step (a missing signer
    # file, a failing driver start, the API server) stops what was started and closes the
    # store, as a stop after serving does.
    async with contextlib.AsyncExitStack() as stack:
        guard = await _start(stack, cfg, api_listener, listeners, genesis, ident, new_signer_state)
    if guard.fatal is not None:
        raise guard.fatal


async def _start(
    stack: contextlib.AsyncExitStack,
    cfg: NodeConfig,
    api_listener: socket.socket,
    listeners: dict[str, socket.socket],
    genesis: Genesis,
    ident: Identity,
    new_signer_state: bool,
) -> StoreGuard:
    """Start the node's parts and serve its API until stopped; the shutdown steps are left
    on `stack`, in the reverse order of the starts."""
    service = open_service(cfg, genesis, org=cfg.org, is_validator=cfg.validator)
    ledger, mempool = service.ledger, service.mempool
    stack.callback(ledger.store.close)

    trusted_cas, is_revoked = chain_trust(ledger)
    handlers: dict[int, Any] = {}

    def route(peer: p2p.PeerId, kind: int, payload: bytes) -> None:
        handler = handlers.get(kind)
        if handler is not None:
            handler(peer, kind, payload)

    partition = faults.PartitionFilter(cfg.data / "partition") if faults.enabled() else None
    transport = TlsNetwork(
        ident,
        trusted_cas,
        is_revoked,
        partition.wrap_handler(route) if partition else route,
        listen=(cfg.p2p_host, cfg.p2p_port),
        peers=cfg.peers,
        max_frame=MAX_FRAME,
        listener=listeners["p2p"],
    )
    network: Any = partition.wrap_network(transport) if partition else transport

    # Open profile: the observer port, for nodes without member certificates (sync and
    # gossip only; consensus keeps the member transport).
    observers: ObserverTransport | None = None
    shared: Any = network
    if genesis.profile == "open" and cfg.observer_port:
        observers = ObserverTransport(
            ident.keypair,
            genesis.chain_id,
            route,
            role="validator" if cfg.validator else "observer",
            listen=(cfg.p2p_host, cfg.observer_port),
            peers=cfg.observer_peers,
            inbound_kinds=OBSERVER_KINDS,
            outbound_kinds=OBSERVER_KINDS,
            max_frame=MAX_FRAME,
            consensus_kinds=CONSENSUS_KINDS,  # with validators by stake only
            is_validator_key=validator_key_check(ledger),
            listener=listeners.get("observer"),
            idle_timeout=cfg.observer_idle_timeout,
        )
        shared = CombinedNetwork(network, observers)
    gossip = TxGossip(
        shared,
        peer_admission(service),
        admit_many=service.gossip_verdicts,
        share=shared.gossip_share if observers is not None else None,
        # Bad signatures: an observer-port link is struck, a member's counted (and in
        # gossip.stats on a consortium chain).
        on_forged=shared.forged if observers is not None else None,
        on_admitted=shared.served if observers is not None else None,
    )
    service.on_tx = gossip.publish
    commit_lock = threading.Lock()
    syncer: BlockSyncer | None = None

    def committed(executed: Any) -> None:
        service.block_committed(executed)
        if syncer is not None:
            syncer.notify_committed(executed.block.header.height)

    privval = (
        FilePrivValidator(
            ident.keypair,
            cfg.data / SIGNER_FILE,
            allow_missing=new_signer_state,
            check_network=new_signer_state,
        )
        if cfg.validator
        else None
    )
    if privval is not None:
        stack.callback(privval.close)
    wal = ConsensusWAL(cfg.data / "consensus.wal")
    stack.callback(wal.close)  # (after the driver's stop, pushed later)
    server: uvicorn.Server | None = None

    def stop_node() -> None:
        if server is not None:
            server.should_exit = True

    guard = StoreGuard(
        cfg.home,
        ledger,
        commit_lock,
        halt=lambda source, reason: driver.halt(source, reason),
        resume=lambda source: driver.resume(source),
        stop_node=stop_node,
    )
    driver = ConsensusDriver(
        ledger,
        mempool,
        privval,
        wal,
        shared,  # the member transport (and validators by stake on an open chain)
        on_commit=committed,
        verified=service.signature_checked,
        commit_lock=commit_lock,
        check_store=guard.check,
        clock=faults.clock(),
        pipeline=cfg.pipeline,
    )
    service.clock_offset = lambda: driver.clock_offset_ms
    syncer = BlockSyncer(
        ledger,
        shared,
        on_commit=service.block_committed,
        commit_lock=commit_lock,
        on_caught_up=lambda h: driver.jump_to(h),
        outsider=shared.is_outsider if observers is not None else None,
    )
    for kind in (p2p.KIND_PROPOSAL, p2p.KIND_VOTE, p2p.KIND_COMMIT):
        handlers[kind] = driver.handle_frame
    for kind in (p2p.KIND_STATUS, p2p.KIND_BLOCKS_REQUEST, p2p.KIND_BLOCKS_RESPONSE):
        handlers[kind] = syncer.handle
    handlers[p2p.KIND_TXS] = gossip.handle
    service.private = PrivateDataNode.open(
        cfg.data / "private", ledger, {cfg.org}, query=service.query, quotas=load_quotas(cfg.home)
    )
    private = Distributor(service.private, network)
    for kind in (p2p.KIND_PRIVATE_FETCH, p2p.KIND_PRIVATE_DATA, p2p.KIND_PRIVATE_HAVE):
        handlers[kind] = private.handle
    health = NodeHealth()
    wire_health(
        health, store=ledger.store, driver=driver, syncer=syncer, transport=transport, guard=guard
    )
    service.health = health.state
    service.registry.register(health)

    api, app_services = network_node_app(service, cfg.data, network, cfg.trusted_proxies)
    for app_service in app_services:
        for kind in app_service.kinds:
            if kind in handlers:
                raise RuntimeError(f"p2p message kind {kind} is handled twice")
            handlers[kind] = app_service.handle
    server = make_server(api, cfg.api_host, cfg.api_port)
    guard.attach()
    stack.push_async_callback(guard.stop)  # (before the store closes)
    stack.push_async_callback(transport.stop)
    await transport.start()
    if observers is not None:
        stack.push_async_callback(observers.stop)
        await observers.start()
    stack.push_async_callback(driver.stop)
    await driver.start()
    stack.push_async_callback(private.stop)
    await private.start()
    for app_service in app_services:
        stack.push_async_callback(app_service.stop)
        await app_service.start()
    stack.push_async_callback(syncer.drain)
    sync_task = asyncio.create_task(syncer.run(), name="block-sync")
    stack.push_async_callback(cancel_all, sync_task)
    reporter = EvidenceReporter(ident, service, driver.pending_evidence)
    evidence_task = asyncio.create_task(reporter.run(), name="evidence-reporter")
    stack.push_async_callback(cancel_all, evidence_task)
    log.info(
        "%s (%s) up: api %s:%d p2p %s:%d",
        cfg.name,
        cfg.org,
        cfg.api_host,
        cfg.api_port,
        cfg.p2p_host,
        cfg.p2p_port,
    )
    await server.serve(sockets=[api_listener])
    return guard


def run_network_node(home: Path, *, new_signer_state: bool = False) -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cfg = NodeConfig.load(home)
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(serve_network_node(cfg, new_signer_state=new_signer_state))
