"""The environment an application's demo data and scenario tests run in.

Implemented by the in-process `tianfu.testing.appchain.AppChain` and by a real local
network (`tianfu up`), so the same scenario runs on both. An environment that can also
digest the contracts' state (`contract_state(*contracts) -> bytes`, as `AppChain` does)
lets the scenario runner check that a refused action changed no entry at all.
"""

from __future__ import annotations

from typing import Protocol

from tianfu.client import Client
from tianfu.identity import Identity


class AppEnv(Protocol):
    orgs: list[str]  # member organisations, e.g. ["org1", "org2", "org3", "org4"]

    def identity(self, org: str, name: str, kind: str = "member") -> Identity:
        """The identity `name` of `org` (issued by the org's CA on first use, then the same)."""
        ...

    def client(self, identity: Identity) -> Client:
        """An SDK client that signs with `identity`."""
        ...

    def deploy(self, name: str, source: str) -> None:
        """Propose the contract and approve it with enough organisations' admins."""
        ...

    def grant(self, identity: Identity, role: str) -> None:
        """Grant an on-chain role to `identity`: an ordinary role by its own organisation's
        admin; a supervisory one (regulator, court, notary, ...: `supervisory_roles`) by a
        governance vote, which the demo environment's organisations all approve."""
        ...
