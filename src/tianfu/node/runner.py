"""Wires a node together: store, ledger, mempool, block producer, API server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path

from tianfu.api.server import make_server
from tianfu.consensus.solo import SoloDriver
from tianfu.crypto import set_chain_suite, suite_of
from tianfu.identity import Identity
from tianfu.ledger import Ledger
from tianfu.mempool import Mempool
from tianfu.node import loop as event_loop
from tianfu.node.http import node_app
from tianfu.node.service import NodeService
from tianfu.node.storeguard import dev_hint, open_checked_ledger
from tianfu.node.wiring import cancel_all
from tianfu.privdata.node import PrivateDataNode
from tianfu.store import StoreWriteError
from tianfu.types import Genesis

log = logging.getLogger(__name__)


def open_ledger(data_dir: Path, genesis: Genesis) -> Ledger:
    """The dev chain's ledger on `data_dir/chain.db`, after the store's quick check (as a
    node's); a damaged store is `StoreRefused`, one line naming what to do."""
    ledger, _ = open_checked_ledger(data_dir.parent, data_dir, genesis, dev_hint)
    return ledger


async def serve_solo(
    data_dir: Path,
    genesis: Genesis,
    node: Identity,
    host: str,
    port: int,
    max_body_bytes: int = 1 << 20,
    listener: socket.socket | None = None,
) -> None:
    """Run a one-validator node until cancelled. Its API is served on `listener` (a socket
    already listening on `host:port`, which the caller bound before opening anything) or,
    without one, on `host:port` bound by Uvicorn."""
    set_chain_suite(suite_of(genesis))  # every hash and signature check of this process
    ledger = open_ledger(data_dir, genesis)
    # Each shutdown step is pushed as soon as what it undoes exists: a start that fails part
    # way (the private data, the API server) closes the store as a stop after serving does.
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(ledger.store.close)
        mempool = Mempool()
        info = node.info
        service = NodeService(
            ledger,
            mempool,
            node_name=info.name,
            org=info.org,
            is_validator=True,
            max_body_bytes=max_body_bytes,
        )
        service.private = PrivateDataNode.open(
            data_dir / "private", ledger, {info.org}, query=service.query
        )
        params = genesis.params
        driver = SoloDriver(
            ledger,
            mempool,
            node.keypair,
            max_block_txs=params.max_block_txs,
            max_block_bytes=params.max_block_bytes,
            interval_ms=params.block_interval_ms,
            verified=service.signature_checked,
            on_commit=service.block_committed,
            write_failures=(OSError, StoreWriteError),
        )
        service.on_tx = lambda _tx: driver.notify()
        server = make_server(node_app(service, data_dir), host, port)
        stack.push_async_callback(driver.drain)  # never close the store under a block written
        producer = asyncio.create_task(driver.run(), name="block-producer")
        stack.push_async_callback(cancel_all, producer)
        await server.serve(sockets=None if listener is None else [listener])


def run_solo_node(
    data_dir: Path,
    genesis: Genesis,
    node: Identity,
    host: str,
    port: int,
    listener: socket.socket | None = None,
) -> None:
    """Run `serve_solo` until interrupted (Ctrl-C ends it quietly)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        event_loop.run(serve_solo(data_dir, genesis, node, host, port, listener=listener))
