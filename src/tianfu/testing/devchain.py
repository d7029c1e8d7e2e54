"""A handle on a running `tianfu dev` chain: its genesis, identities and SDK clients."""

from __future__ import annotations

from tianfu.client import Client
from tianfu.contracts.examples import example_source
from tianfu.identity import Identity
from tianfu.node.dev import load_genesis
from tianfu.testing.processes import NodeProcess


class DevChain:
    def __init__(self, node: NodeProcess) -> None:
        self.node = node
        self.home = node.home
        self.genesis = load_genesis(self.home)
        self.admin = Identity.load(self.home / "identities" / "admin")
        self.user = Identity.load(self.home / "identities" / "user")

    def client(self, identity: Identity | None = None, timeout: float = 30.0) -> Client:
        return Client(self.node.url, identity, genesis=self.genesis, timeout=timeout)

    def deploy_asset(self) -> Client:
        """Deploy and activate the example asset contract, make the admin a minter;
        return the admin's client."""
        admin = self.client(self.admin)
        pid = admin.propose_contract("asset", example_source("asset"))
        result = admin.approve_contract(pid)
        if result.result["status"] != "activated":
            raise RuntimeError(f"asset contract not activated: {result.result}")
        admin.grant_role(self.admin.info.address, "minter")
        return admin
