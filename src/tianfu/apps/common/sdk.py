"""The base of every application's SDK class: one client, one contract, invoke and query."""

from __future__ import annotations

from typing import Any, ClassVar

from tianfu.client import Client


class ContractSDK:
    """Calls one application contract through an SDK `Client`. A refused call raises
    `tianfu.client.errors.TxFailed` (its `.error` is the contract's message)."""

    CONTRACT: ClassVar[str]

    def __init__(self, client: Client, contract: str | None = None) -> None:
        self.client = client
        self.contract = contract or self.CONTRACT

    def _invoke(self, method: str, *args: Any) -> Any:
        """Send a transaction calling `method`, wait for its commit, return its result."""
        return self.client.invoke(self.contract, method, *args).result

    def _query(self, method: str, *args: Any) -> Any:
        """Run the view `method` on the node's committed state."""
        return self.client.query(self.contract, method, *args)
