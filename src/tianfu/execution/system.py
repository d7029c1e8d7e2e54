"""The governance system contract as the executor sees it: an interface it is given.

The executor runs governance natively (registrations, roles, admission, parameters) and
resolves every signer through it, but it does not import the contracts package, whose
contracts are written against this package's contract API: the composition root (the
ledger) hands it `tianfu.contracts.governance`, which satisfies `GovernanceModule`.
"""

from __future__ import annotations

from typing import Any, Protocol

from tianfu.types import Genesis

GOVERNANCE = "governance"  # the governance contract's name: its state keys start with it


class GovernanceModule(Protocol):
    """`tianfu.contracts.governance`, as far as the executor uses it."""

    NAME: str

    def Governance(self) -> object:  # noqa: N802 (the contract's class)
        """A new native governance contract object."""
        ...

    def native_methods(self, obj: object) -> tuple[frozenset[str], frozenset[str]]: ...

    def genesis_entries(self, genesis: Genesis) -> dict[str, Any]: ...

    def resolve_caller(
        self, read: Any, scheme: int, public_key: bytes, cert_der: bytes, time_ms: int
    ) -> Any:
        """(caller, registration writes, not_before_ms, not_after_ms) of a signer."""
        ...
