"""Who may do what with private content, decided from the latest committed state.

`ChainReader` reads what the decisions need: a contract's private record (`pd:<hash>`), the
organisations' registered data keys (the `privdata` contract), whether an organisation is an
active member, the signer of a request (the same resolution as a transaction's signer:
registered certificate, not revoked, within its validity period, organisation active), and
the contract's own read policy — the optional view `private_can_read(hash, address)`: when a
contract defines it, a member of a granted organisation reads only if it returns true.

`verify_request` checks a signed API request (`AccessRequest`): chain id, time window, the
signature, a nonce seen once, and the signer's identity. Refusals are `PrivateDataError`s
carrying the HTTP status the API answers with.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from tianfu.codec import decode_value
from tianfu.contracts.identity import AuthError, resolve_caller
from tianfu.execution.contract_api import Caller, state_key
from tianfu.privdata import REGISTRY
from tianfu.privdata.messages import MAX_SKEW_MS, AccessRequest
from tianfu.privdata.record import RECORD_PREFIX, PrivateRecord, parse_record, record_key
from tianfu.privdata.sealing import PUBLIC_KEY_BYTES

POLICY_VIEW = "private_can_read"
MAX_NONCES = 200_000


class PrivateDataError(Exception):
    """A refused private-data operation, with the HTTP status the API answers: a kind of
    refusal names its status with its class (`class NotFound(PrivateDataError, status=404)`)."""

    status = 400

    def __init_subclass__(cls, status: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PrivateDataError, status=400): ...


class Unauthorized(PrivateDataError, status=401): ...


class Forbidden(PrivateDataError, status=403): ...


class NotFound(PrivateDataError, status=404): ...


class Conflict(PrivateDataError, status=409):
    """Stored content or keys that do not match the chain (tampered, wrong node key)."""


class Gone(PrivateDataError, status=410): ...


class TooLarge(PrivateDataError, status=413): ...


class LatestReads(Protocol):
    """A ledger's latest committed state, as private data reads it (`tianfu.ledger.Ledger`)."""

    @property
    def chain_id(self) -> str: ...

    @property
    def latest(self) -> Any: ...  # `.get(key) -> bytes | None`

    @property
    def store(self) -> Any: ...  # `.iter_latest(prefix)` -> (key, value) pairs


class ChainReader:
    """Reads of the latest committed state (thread-safe: the ledger's cache and store are).

    `query(contract, method, args)` runs a contract's view as `ChainService.query` does:
    it raises LookupError for an unknown method and ValueError for a call that failed."""

    def __init__(
        self, ledger: LatestReads, query: Callable[[str, str, list[Any]], Any] | None
    ) -> None:
        self.ledger = ledger
        self._query = query

    @property
    def chain_id(self) -> str:
        return self.ledger.chain_id

    def get(self, contract: str, key: str) -> Any:
        raw = self.ledger.latest.get(state_key(contract, key))
        return None if raw is None else decode_value(raw)

    def record(self, contract: str, content_hash: str) -> PrivateRecord | None:
        return parse_record(contract, content_hash, self.get(contract, record_key(content_hash)))

    def records(self, contract: str) -> list[PrivateRecord]:
        """Every well-formed private record of `contract` in the latest state."""
        prefix = state_key(contract, RECORD_PREFIX)
        out = []
        for key, raw in self.ledger.store.iter_latest(prefix):
            content_hash = key[len(prefix) :].decode("ascii", "replace")
            rec = parse_record(contract, content_hash, decode_value(raw))
            if rec is not None:
                out.append(rec)
        return out

    def contracts(self) -> list[str]:
        names = self.get("governance", "contracts") or []
        return [n for n in names if isinstance(n, str)]

    def org_active(self, org: str) -> bool:
        record = self.get("governance", f"org/{org}")
        return isinstance(record, dict) and record.get("status") == "active"

    def registered_key(self, org: str) -> bytes | None:
        """The data public key `org` registered in the `privdata` contract, if any."""
        entry = self.get(REGISTRY, f"key:{org}")
        if not isinstance(entry, dict):
            return None
        key = entry.get("public_key")
        return key if isinstance(key, bytes) and len(key) == PUBLIC_KEY_BYTES else None

    def caller(self, scheme: int, signer: bytes, time_ms: int) -> Caller:
        """The registered identity behind a signing key; `Unauthorized` if none may sign."""
        try:
            return resolve_caller(
                lambda key: self.get("governance", key), scheme, signer, b"", time_ms
            ).caller
        except AuthError as exc:
            if str(exc).startswith("unknown signer"):
                raise Unauthorized(
                    "the request's signer is not a registered identity (an identity registers "
                    "with its first transaction)"
                ) from None
            raise Unauthorized(f"the request's signer may not act: {exc}") from None

    def policy_allows(self, contract: str, content_hash: str, address: str) -> bool:
        """The contract's `private_can_read(hash, address)`; true if it defines no such view."""
        if self._query is None:
            return True
        try:
            return self._query(contract, POLICY_VIEW, [content_hash, address]) is True
        except LookupError:  # the contract has no such view
            return True
        except ValueError as exc:  # the view failed
            raise Forbidden(f"the contract's read policy failed: {exc}") from None


class NonceCache:
    """(signer, nonce) pairs seen within the time window: a request is accepted once."""

    def __init__(self, max_entries: int = MAX_NONCES) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    def first_use(self, signer: bytes, nonce: bytes, time_ms: int, now_ms: int) -> bool:
        key = signer + nonce
        with self._lock:
            seen = self._seen
            while seen:  # oldest first: drop what is outside every window
                k, t = next(iter(seen.items()))
                if t >= now_ms - 2 * MAX_SKEW_MS and len(seen) < self.max_entries:
                    break
                del seen[k]
            if key in seen:
                return False
            seen[key] = time_ms
            return True


def verify_request(
    chain: ChainReader, nonces: NonceCache, req: AccessRequest, action: str, now_ms: int
) -> Caller:
    """The identity that signed `req` for `action`, after every check; or the refusal.

    The signer is looked up (a few governance reads) before its signature is checked, and
    the nonce is recorded only once both passed: a request of a key that may not act costs
    no signature check and takes no place among the nonces kept."""
    body = req.body
    if body.action != action:
        raise BadRequest(f"this route takes a {action!r} request, not {body.action!r}")
    if body.chain_id != chain.chain_id:
        raise Unauthorized(f"the request is for chain {body.chain_id!r}, not {chain.chain_id!r}")
    if abs(body.time_ms - now_ms) > MAX_SKEW_MS:
        raise Unauthorized(
            f"the request's time is more than {MAX_SKEW_MS // 1000} s from the node's clock "
            "(check the clock, and sign a new request)"
        )
    caller = chain.caller(body.scheme, body.signer, now_ms)
    if not req.signature_ok():
        raise Unauthorized("bad signature on the request")
    if not nonces.first_use(body.signer, body.nonce, body.time_ms, now_ms):
        raise Unauthorized("this request was used already (sign a new one)")
    return caller
