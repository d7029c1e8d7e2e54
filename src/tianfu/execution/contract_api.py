"""The contract-facing API: what a contract (sandboxed or native) may see and do.

Every contract method is called as `method(ctx, *args)` where `ctx` follows `Context`.
Keys are `str`; values are contract values (see `tianfu.types.values`): None, bool, int,
str, bytes, list, dict with str keys. No floats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

# (re-exported: addresses are part of the contract API; identity certificates use them too)
from tianfu.crypto.address import ADDRESS_TAG, address_of  # noqa: F401


class ContractError(Exception):
    """Raised by a contract to fail its call; the message goes into the failed receipt."""


class OutOfGas(ContractError):
    """The call used up its deterministic step budget."""


@contextmanager
def failing_as(
    errors: type[Exception] | tuple[type[Exception], ...], prefix: str
) -> Iterator[None]:
    """Inside the block, an exception of `errors` (a library's refusal of what a contract
    was given) fails the call: `ContractError(f"{prefix}: {exc}")`, nothing chained."""
    try:
        yield
    except errors as exc:
        raise ContractError(f"{prefix}: {exc}") from None


@dataclass(frozen=True)
class Caller:
    """The signer of the current transaction, as the chain knows it."""

    address: str  # address_of(scheme, public_key)
    org: str  # member organisation that issued the signer's certificate
    name: str  # certificate common name
    kind: str  # certificate type from its OU: "admin", "member" or "node"
    roles: frozenset[str] = field(default_factory=frozenset)  # on-chain roles, plus `kind`

    def has_role(self, role: str) -> bool:
        return role in self.roles or role == self.kind


class Context(Protocol):
    contract: str  # name of the running contract
    sender: Caller
    height: int  # height of the block being executed
    time_ms: int  # the block's timestamp (agreed by consensus), milliseconds since epoch
    tx_hash: str  # hex

    def get(self, key: str, default: Any = None) -> Any: ...
    def has(self, key: str) -> bool: ...
    def put(self, key: str, value: Any) -> None: ...
    def delete(self, key: str) -> None: ...
    def emit(self, event: str, /, **data: Any) -> None: ...
    def require(self, condition: object, message: str) -> None: ...
    def require_role(self, role: str) -> None: ...
    def has_role(self, role: str) -> bool: ...
    def sha256(self, data: bytes | str) -> str: ...
    def read(self, contract: str, key: str, default: Any = None) -> Any: ...


def view(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a contract function read-only: callable by `query`, never writes."""
    fn.__tianfu_view__ = True  # type: ignore[attr-defined]
    return fn


def is_view(fn: Callable[..., Any]) -> bool:
    return bool(getattr(fn, "__tianfu_view__", False))


def state_key(contract: str, key: str) -> bytes:
    """Key of a contract's entry in the authenticated state. Contract names are
    [a-z][a-z0-9_]*, so the separator is unambiguous."""
    return contract.encode() + b"/" + key.encode()
