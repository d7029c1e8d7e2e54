"""The governance system contract as the executor sees it: an interface it is given.

The executor runs governance natively (registrations, roles, admission, parameters) and
resolves every signer through it, but it does not import the contracts package, whose
contracts are written against this package's contract API: the composition root (the
ledger) hands it `tianfu.contracts.governance`, which satisfies `GovernanceModule`, and on
an open-profile chain `tianfu.contracts.openprofile`, which satisfies `OpenProfileModule`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from tianfu.types import Genesis, TxBody

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
        self,
        read: Any,
        scheme: int,
        public_key: bytes,
        cert_der: bytes,
        time_ms: int,
        before_chain_check: Callable[[], None] | None = None,
    ) -> Any:
        """(caller, registration writes, not_before_ms, not_after_ms) of a signer;
        `before_chain_check` runs just before a first-use certificate's chain check."""
        ...


class OpenAdmissionResult(Protocol):
    """An account's admission (`tianfu.contracts.accounts.OpenAdmission`)."""

    @property
    def caller(self) -> Any: ...  # `tianfu.execution.contract_api.Caller`

    @property
    def charged(self) -> str | None: ...  # the account whose bucket pays; None: registration

    @property
    def available(self) -> int: ...  # gas in that bucket before the transaction


class OpenProfileModule(Protocol):
    """`tianfu.contracts.openprofile`: what an open-profile chain adds (ADR 0025) — the
    native `accounts` and `staking` contracts and the account admission rule."""

    def natives(self) -> dict[str, object]:
        """New native contract objects by name."""
        ...

    def admit(
        self,
        gov: Callable[[str], Any],
        read: Callable[[bytes], bytes | None],
        body: TxBody,
        height: int,
        chain_id: str,
        tx_bytes: int = 0,
    ) -> OpenAdmissionResult | None:
        """The account admission of `body` at `height` (None: a member's transaction, the
        consortium rules apply); `tx_bytes`, the transaction's encoded length, counts in
        the gas its bucket must hold. Raises `AccessRefused` / `QuotaExceeded`."""
        ...

    def bucket_key(self, address: str) -> bytes:
        """The state key of an account's gas bucket."""
        ...
