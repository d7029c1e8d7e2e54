"""The contract-facing API: what a contract (sandboxed or native) may see and do.

Every contract method is called as `method(ctx, *args)` where `ctx` follows `Context`.
Keys are `str`; values are contract values (see `tianfu.types.values`): None, bool, int,
str, bytes, list, dict with str keys. No floats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tianfu.codec import hash_domain_with
from tianfu.types.suites import hash_for_scheme


class ContractError(Exception):
    """Raised by a contract to fail its call; the message goes into the failed receipt."""


class OutOfGas(ContractError):
    """The call used up its deterministic step budget."""


def address_of(scheme: int, public_key: bytes) -> str:
    """An account address: 40 hex characters derived from the signer's public key, with the
    hash of the key's crypto suite (SM3 for an SM2 key, else SHA-256), so an address is the
    same on every node and in every client. Memoised (a pure function; every admission and
    execution of a transaction asks)."""
    key = (scheme, public_key)
    address = _ADDRESSES.get(key)
    if address is None:
        digest = hash_domain_with(hash_for_scheme(scheme), ADDRESS_TAG, bytes([scheme]), public_key)
        address = digest[:20].hex()
        if len(_ADDRESSES) >= _ADDRESSES_MAX:
            _ADDRESSES.clear()
        _ADDRESSES[key] = address
    return address


ADDRESS_TAG = "tianfu/address/v1"
_ADDRESSES: dict[tuple[int, bytes], str] = {}
_ADDRESSES_MAX = 65_536


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
