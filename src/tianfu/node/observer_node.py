"""Wires a node of an open-profile chain that has no member certificate, only its own key:
an observer (store, ledger, block sync and transaction gossip over the observer port, the
REST API; no consensus driver and no signer, so it never votes or proposes) or a validator
by stake (the same, plus the consensus driver and its signer; its consensus messages travel
over the observer port, which carries them only for keys in the validator set).
Composition only — no logic of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from tianfu.api.server import make_server
from tianfu.crypto import set_chain_suite, suite_of
from tianfu.identity import Identity
from tianfu.mempool.gossip import TxGossip, Verdict
from tianfu.node.config import ConfigError, NodeConfig
from tianfu.node.http import node_app
from tianfu.node.storeguard import DataLock
from tianfu.node.wiring import cancel_all, node_sockets, open_service, peer_admission
from tianfu.p2p import protocol as p2p
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


CONSENSUS_KINDS = frozenset({p2p.KIND_PROPOSAL, p2p.KIND_VOTE, p2p.KIND_COMMIT})


def check_observer_config(cfg: NodeConfig, genesis: Genesis) -> None:
    if genesis.profile != "open":
        raise ConfigError("observer nodes join open-profile chains only (this one is consortium)")
    if not cfg.observer:
        raise ConfigError(f"{cfg.home}: not an observer's configuration (observer_node = true)")
    if not cfg.observer_peers:
        raise ConfigError(f"{cfg.home}: an observer needs [observer] peers to connect to")


def validator_key_check(ledger: Any) -> Callable[[bytes], bool]:
    """Whether a key is in the validator set of the next two heights (those a node may
    be asked to vote on), recomputed once per committed height."""
    memo: dict[str, Any] = {"height": -1, "keys": frozenset()}

    def is_validator_key(key: bytes) -> bool:
        h = ledger.height
        if memo["height"] != h:
            keys: set[bytes] = set()
            for at in (h + 1, h + 2):
                with contextlib.suppress(Exception):  # a height not determined yet
                    keys.update(v.public_key for v in ledger.validator_set(at).validators)
            memo["height"], memo["keys"] = h, frozenset(keys)
        return key in memo["keys"]

    return is_validator_key


async def serve_observer_node(cfg: NodeConfig, *, new_signer_state: bool = False) -> None:
    """Run the observer until stopped. A validator by stake refuses to start without its
    signer file (`PrivValStateError`) unless `new_signer_state` is given."""
    genesis = decode_genesis(cfg.genesis.read_bytes())
    check_observer_config(cfg, genesis)
    set_chain_suite(suite_of(genesis))
    keypair = Identity.load(cfg.identity).keypair  # its own self-made key
    lock = DataLock(cfg.data, "starting this observer")
    try:
        # The ports first, bound before the store, the p2p links or the consensus start: a
        # taken port stops the start with one line naming it and node.toml.
        ports = [("observer", cfg.observer_port)] if cfg.observer_port else []
        api, listeners = node_sockets(cfg, ports)
        try:
            await _serve(cfg, api, listeners, genesis, keypair, new_signer_state)
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
    keypair: Any,
    new_signer_state: bool,
) -> None:
    # Each shutdown step is pushed as soon as what it undoes exists (safe on a part started
    # transport or driver): a start that fails at any step closes the store and stops what
    # was started, as a stop after serving does.
    async with contextlib.AsyncExitStack() as stack:
        await _start(stack, cfg, api_listener, listeners, genesis, keypair, new_signer_state)


async def _start(
    stack: contextlib.AsyncExitStack,
    cfg: NodeConfig,
    api_listener: socket.socket,
    listeners: dict[str, socket.socket],
    genesis: Genesis,
    keypair: Any,
    new_signer_state: bool,
) -> None:
    """Start the observer's parts and serve its API until stopped; the shutdown steps are
    left on `stack`, in the reverse order of the starts."""
    from tianfu.consensus.driver import ConsensusDriver
    from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator
    from tianfu.consensus.wal import ConsensusWAL

    service = open_service(cfg, genesis, org="", is_validator=False)
    ledger, mempool = service.ledger, service.mempool
    stack.callback(ledger.store.close)
    handlers: dict[int, Any] = {}

    def route(peer: p2p.PeerId, kind: int, payload: bytes) -> None:
        handler = handlers.get(kind)
        if handler is not None:
            handler(peer, kind, payload)

    transport = ObserverTransport(
        keypair,
        genesis.chain_id,
        route,
        role="validator" if cfg.validator else "observer",
        listen=(cfg.p2p_host, cfg.observer_port) if cfg.observer_port else None,
        peers=cfg.observer_peers,
        inbound_kinds=OBSERVER_KINDS,
        outbound_kinds=OBSERVER_KINDS,
        max_frame=MAX_FRAME,
        consensus_kinds=CONSENSUS_KINDS if cfg.validator else frozenset(),
        # An observer carries no consensus kinds; it knows the validators' keys only to give
        # each its own share of the gossip inbox.
        is_validator_key=validator_key_check(ledger),
        listener=listeners.get("observer"),
        idle_timeout=cfg.observer_idle_timeout,
    )

    def relay_many(txs: list[Transaction]) -> list[Verdict]:
        # An observer passes on what its peers send (toward the validators, possibly
        # through other observers); a transaction it holds already is not admitted again,
        # so nothing circulates for ever.
        verdicts = service.gossip_verdicts(txs)
        for tx, ok in zip(txs, verdicts, strict=True):
            if ok is True:
                gossip.publish(tx)
        return verdicts

    gossip = TxGossip(
        transport,
        peer_admission(service),
        admit_many=relay_many,
        share=transport.gossip_share,
        on_forged=transport.forged,  # a link that sends bad signatures is struck
        on_admitted=transport.served,  # one that sends valid ones is preferred to strangers
    )
    service.on_tx = gossip.publish
    commit_lock = threading.Lock()
    driver: Any = None
    syncer: BlockSyncer | None = None
    if cfg.validator:  # a validator by stake: it votes while its key is in the set

        def committed(executed: Any) -> None:
            service.block_committed(executed)
            if syncer is not None:
                syncer.notify_committed(executed.block.header.height)

        privval = FilePrivValidator(
            keypair,
            cfg.data / SIGNER_FILE,
            allow_missing=new_signer_state,
            check_network=new_signer_state,
        )
        stack.callback(privval.close)
        wal = ConsensusWAL(cfg.data / "consensus.wal")
        stack.callback(wal.close)  # (after the driver's stop, pushed later)
        driver = ConsensusDriver(
            ledger,
            mempool,
            privval,
            wal,
            transport,
            on_commit=committed,
            verified=service.signature_checked,
            commit_lock=commit_lock,
        )
        service.clock_offset = lambda: driver.clock_offset_ms
        for kind in CONSENSUS_KINDS:
            handlers[kind] = driver.handle_frame
    syncer = BlockSyncer(
        ledger,
        transport,
        on_commit=service.block_committed,
        commit_lock=commit_lock,
        # An observer runs no consensus: it syncs to every new block.
        config=SyncConfig(consensus_gap=1 if driver is not None else 0),
        on_caught_up=(lambda h: driver.jump_to(h)) if driver is not None else None,
        outsider=transport.is_outsider,
    )
    for kind in (p2p.KIND_STATUS, p2p.KIND_BLOCKS_REQUEST, p2p.KIND_BLOCKS_RESPONSE):
        handlers[kind] = syncer.handle
    handlers[p2p.KIND_TXS] = gossip.handle
    # The operator's trusted proxies name the clients the per-client limits count (ADR 0008).
    api = node_app(service, cfg.data, cfg.trusted_proxies)
    server = make_server(api, cfg.api_host, cfg.api_port)
    stack.push_async_callback(transport.stop)
    await transport.start()
    if driver is not None:
        stack.push_async_callback(driver.stop)
        await driver.start()
    stack.push_async_callback(syncer.drain)
    sync_task = asyncio.create_task(syncer.run(), name="block-sync")
    stack.push_async_callback(cancel_all, sync_task)
    log.info(
        "observer %s (%s) up: api %s:%d, connecting to %s",
        cfg.name,
        transport.address,
        cfg.api_host,
        cfg.api_port,
        ", ".join(f"{h}:{p}" for h, p in cfg.observer_peers),
    )
    await server.serve(sockets=[api_listener])


def run_observer_node(cfg: NodeConfig, *, new_signer_state: bool = False) -> None:
    from tianfu.node import loop as event_loop

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(serve_observer_node(cfg, new_signer_state=new_signer_state))
