"""The node-side interface the REST API serves: what a node offers to clients.

`tianfu.node` implements `ChainService`; `tianfu.api.app.create_app(service)` serves it.
Everything returned here is already validated chain data; the API renders it as JSON.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from tianfu.store.reads import TxRecord
from tianfu.types import Block, BlockHeader, CommitCertificate, Event, Receipt, Transaction


class TxRejected(ValueError):
    """A submitted transaction refused before it reached the mempool (HTTP 400)."""


class TxDuplicate(TxRejected):
    """The transaction is already pending or committed (HTTP 409)."""


class TxBadSignature(TxRejected):
    """The transaction's signature does not verify (HTTP 400). From a peer, it is the
    peer's misbehaviour: honest nodes pass on only transactions they checked."""


class TxSignerRefused(TxRejected):
    """The signer may not transact (HTTP 400): unknown without a certificate, revoked, or
    its certificate refused."""


class TxUnchecked(TxRejected):
    """Not checked (HTTP 400): an earlier transaction of the same batch has a bad
    signature or a refused signer, and a batch checks no signature after its first one."""


class TxQuotaExceeded(TxRejected):
    """Open profile: the signing account's gas quota is used up for now (HTTP 429)."""


class TxBusy(TxRejected):
    """The mempool has no room now (HTTP 429): it is full, or holds its maximum of the
    signer's transactions (or, for an open chain's account, of all accounts'); the same
    transaction may be sent again later."""


class TxStateUnavailable(TxBusy):
    """The node cannot check the transaction now: its state reads fail (its store locked,
    failing or closed). HTTP 503; the same transaction may be sent again later."""


class NotFound(LookupError):
    """No such block, transaction, contract or method (HTTP 404)."""


class QueryFailed(ValueError):
    """A read-only call that failed: unknown method, bad arguments, contract error (HTTP 400)."""


class StateUnavailable(QueryFailed):
    """A read-only call the node could not answer because it cannot read its state now (its
    store locked, failing or closed): HTTP 503, the same call may succeed later."""


@dataclass(frozen=True)
class StateRead:
    contract: str
    key: str
    height: int
    value: Any  # decoded contract value, None when absent
    value_bytes: bytes | None  # the exact stored bytes (codec.encode of value), None when absent
    proof: bytes | None  # codec.encode(tianfu.state.StateProof), when asked
    header: BlockHeader
    certificate: CommitCertificate | None


@dataclass(frozen=True)
class CommittedEvent:
    height: int
    tx_index: int
    tx_hash: bytes
    event: Event


class ChainService(Protocol):
    chain_id: str
    max_body_bytes: int

    def status(self) -> dict[str, Any]:
        """chain_id, height, latest_hash (hex), time_ms, node, org, validator (bool), genesis_hash (hex);
        a node adds `health`: "ok", or "degraded: <problems>" (e.g. not signing because its
        store cannot take a block), and `health_reasons`: each problem's reason code
        (`tianfu.node.health.REASONS`), in the same order."""
        ...

    async def submit(self, tx: Transaction) -> bytes:
        """Check and admit a decoded transaction; return its hash. Raises TxRejected / TxDuplicate."""
        ...

    async def wait_committed(self, tx_hash: bytes, timeout_s: float) -> TxRecord | None:
        """Wait until the transaction is committed (None on timeout)."""
        ...

    async def submit_many(self, txs: list[Transaction]) -> list[bytes | TxRejected]:
        """`submit` for a batch, in one call: per transaction, in order, its hash if admitted
        or the TxRejected / TxDuplicate that `submit` would have raised. Never raises those."""
        ...

    async def wait_committed_many(
        self, tx_hashes: list[bytes], timeout_s: float
    ) -> list[TxRecord | None]:
        """Wait until every one is committed, or the timeout; per hash, its record or None."""
        ...

    def get_tx(self, tx_hash: bytes) -> TxRecord | None: ...
    def get_block(self, height: int) -> Block | None: ...
    def get_receipts(self, height: int) -> list[Receipt] | None: ...
    def get_headers(self, start: int, limit: int) -> list[BlockHeader]: ...
    def get_block_height(self, block_hash: bytes) -> int | None:
        """The height of the committed block with that header hash, or None."""
        ...

    def get_certificate(self, height: int) -> CommitCertificate | None: ...

    def read_state(self, contract: str, key: str, height: int | None, prove: bool) -> StateRead:
        """Value of `key` in `contract` at `height` (latest when None). NotFound for unknown height."""
        ...

    def query(self, contract: str, method: str, args: list[Any]) -> Any:
        """Read-only contract call on the latest state. NotFound / QueryFailed."""
        ...

    def validators(self) -> list[dict[str, Any]]: ...
    def orgs(self) -> list[dict[str, Any]]: ...
    def contracts(self) -> list[dict[str, Any]]: ...
    def genesis(self) -> bytes: ...

    def subscribe(self) -> AsyncIterator[CommittedEvent]:
        """Committed events from now on, in commit order; bounded queue (slow consumers are dropped)."""
        ...

    def metrics(self) -> bytes:
        """Prometheus text exposition."""
        ...
