"""Pieces that every node's wiring shares: its API socket, its checked ledger and service,
admitting peers' transactions, and stopping its background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Callable
from typing import Any

from tianfu.api.server import PortInUse, listen_socket
from tianfu.api.service import TxRejected
from tianfu.mempool import Mempool
from tianfu.node.config import CONFIG_FILE, NodeConfig
from tianfu.node.service import NodeService
from tianfu.node.storeguard import open_checked_ledger
from tianfu.p2p.links import listen_socket as p2p_listen_socket
from tianfu.types import Genesis, Transaction


def node_sockets(
    cfg: NodeConfig, p2p_ports: list[tuple[str, int]]
) -> tuple[socket.socket, dict[str, socket.socket]]:
    """The node's API socket and a socket for each of `p2p_ports` (the node.toml section
    and port of each p2p listener, on `p2p_host`), all bound and listening, before the node
    opens its store or starts its p2p links and consensus, and handed to the servers (no
    window between a check and a bind in which another start takes the port). A taken port
    raises `PortInUse` (and closes what was bound): one line naming the port and what to
    change, instead of a node that logs "up", signs and then dies."""
    hint = (
        " — another node or program listens there: stop it, or give this node another "
        f"port ([{{}}] port in {cfg.home / CONFIG_FILE})"
    )
    try:
        api = listen_socket(cfg.api_host, cfg.api_port, "the node's API")
    except PortInUse as exc:
        raise PortInUse(f"{exc}{hint.format('api')}") from None
    bound: dict[str, socket.socket] = {}
    for section, port in p2p_ports:
        try:
            bound[section] = p2p_listen_socket(cfg.p2p_host, port)
        except BaseException as exc:
            for sock in (api, *bound.values()):
                sock.close()
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"the node's {section} port {port} on {cfg.p2p_host} is already in use"
                    + hint.format(section)
                ) from None
            raise
    return api, bound


def open_service(cfg: NodeConfig, genesis: Genesis, *, org: str, is_validator: bool) -> NodeService:
    """The node's service on its checked ledger (`StoreRefused` if the store is damaged)
    and a new mempool; `service.ledger` and `service.mempool` are the two."""
    ledger, _ = open_checked_ledger(cfg.home, cfg.data, genesis)
    try:
        return NodeService(
            ledger,
            Mempool(),
            node_name=cfg.name,
            org=org,
            is_validator=is_validator,
            max_body_bytes=cfg.max_body_bytes,
        )
    except BaseException:  # the caller never gets the store to close: close it here
        ledger.store.close()
        raise


def peer_admission(service: NodeService) -> Callable[[Transaction], bool]:
    """Admit a transaction a peer gossiped: True if the mempool took it, False if refused."""

    def admit_from_peer(tx: Transaction) -> bool:
        try:
            service.admit(tx)
            return True
        except TxRejected:
            return False

    return admit_from_peer


async def cancel_all(*tasks: asyncio.Task[Any]) -> None:
    """Cancel `tasks`, one after the other, and wait until each has ended."""
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
