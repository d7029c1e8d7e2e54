"""Pieces that every node's wiring shares: its checked ledger and service, admitting peers'
transactions, and stopping its background tasks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from tianfu.api.service import TxRejected
from tianfu.mempool import Mempool
from tianfu.node.config import NodeConfig
from tianfu.node.service import NodeService
from tianfu.node.storeguard import open_checked_ledger
from tianfu.types import Genesis, Transaction


def open_service(cfg: NodeConfig, genesis: Genesis, *, org: str, is_validator: bool) -> NodeService:
    """The node's service on its checked ledger (`StoreRefused` if the store is damaged)
    and a new mempool; `service.ledger` and `service.mempool` are the two."""
    ledger, _ = open_checked_ledger(cfg.home, cfg.data, genesis)
    return NodeService(
        ledger,
        Mempool(),
        node_name=cfg.name,
        org=org,
        is_validator=is_validator,
        max_body_bytes=cfg.max_body_bytes,
    )


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
