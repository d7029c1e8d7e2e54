"""The node service's reads of the chain and its state (`NodeService` inherits them):
transactions, blocks, certificates, state values and pages, views (queries), events, the
validator sets, organisations and contracts, and the source of proof documents. Reads
only; what they raise is what the API answers (`NotFound`, `QueryFailed`,
`StateUnavailable`)."""

from __future__ import annotations

from typing import Any

from tianfu.api.service import NotFound, QueryFailed, StateRead, StateUnavailable, TxRecord
from tianfu.codec import decode_value, encode
from tianfu.execution.contract_api import ContractError, state_key
from tianfu.execution.errors import StateUnreadable
from tianfu.ledger import Ledger
from tianfu.ledger.proofs import ledger_proofs
from tianfu.proofs.build import ProofBuilder
from tianfu.store import Store
from tianfu.types import Block, BlockHeader, CommitCertificate, Receipt


class ChainReads:
    """The reads of `NodeService` on its ledger and store."""

    ledger: Ledger
    store: Store
    _proofs: ProofBuilder | None

    def get_tx(self, tx_hash: bytes) -> TxRecord | None:
        rec = self.store.load_tx(tx_hash)
        if rec is None:
            return None
        return TxRecord(rec.tx, rec.receipt, rec.height, rec.index)

    # -- blocks ----------------------------------------------------------------------------
    def get_block(self, height: int) -> Block | None:
        return self.store.load_block(height)

    def get_receipts(self, height: int) -> list[Receipt] | None:
        return self.store.load_receipts(height)

    def get_headers(self, start: int, limit: int) -> list[BlockHeader]:
        return self.store.headers(start, limit)

    def get_certificate(self, height: int) -> CommitCertificate | None:
        return self.store.load_cert(height)

    def get_block_height(self, block_hash: bytes) -> int | None:
        return self.store.height_of_block(block_hash)

    # -- state -----------------------------------------------------------------------------
    def read_state(self, contract: str, key: str, height: int | None, prove: bool) -> StateRead:
        latest = self.store.height()
        if height is None:
            height = latest
        if height < 1 or height > latest:
            raise NotFound(f"no block at height {height} (latest is {latest})")
        header = self.store.load_header(height)
        if header is None:
            raise NotFound(f"no block at height {height}")
        k = state_key(contract, key)
        raw = self.ledger.latest.get(k) if height == latest else self.ledger.state.get(k, height)
        proof = encode(self.ledger.state.prove(k, height)) if prove else None
        return StateRead(
            contract=contract,
            key=key,
            height=height,
            value=None if raw is None else decode_value(raw),
            value_bytes=raw,
            proof=proof,
            header=header,
            certificate=self.store.load_cert(height),
        )

    def scan_state(self, contract: str, prefix: str, limit: int) -> list[tuple[str, Any]]:
        """At most `limit` latest entries of `contract` whose key starts with `prefix`, in key
        order: (key, decoded value). Read-only (the web console lists records with it)."""
        base = state_key(contract, "")
        out: list[tuple[str, Any]] = []
        rows = self.store.iter_latest(base + prefix.encode())
        try:
            for key, raw in rows:
                if len(out) >= limit:
                    break
                out.append((bytes(key)[len(base) :].decode(errors="replace"), decode_value(raw)))
        finally:
            rows.close()  # type: ignore[attr-defined]
        return out

    def scan_state_before(
        self, contract: str, prefix: str, before: str | None, limit: int
    ) -> list[tuple[str, Any]]:
        """At most `limit` latest entries of `contract` under `prefix` whose key (after the
        prefix) sorts below `before` (None: from the last), in descending key order: one
        page of a list, read by key range (the web console pages through records with it)."""
        base = state_key(contract, "")
        start = base + prefix.encode()
        bound = None if before is None else start + before.encode()
        return [
            (key[len(base) :].decode(errors="replace"), decode_value(raw))
            for key, raw in self.store.latest_before(start, bound, limit)
        ]

    def query(self, contract: str, method: str, args: list[Any]) -> Any:
        head = self.ledger.head()
        try:
            return self.ledger.executor.query(
                contract,
                method,
                args,
                self.ledger.latest.get,
                head.height if head else 0,
                head.time_ms if head else 0,
            )
        except StateUnreadable as exc:
            raise StateUnavailable(str(exc)) from None
        except ContractError as exc:
            msg = str(exc)
            if msg.startswith("unknown contract") or "has no method" in msg:
                raise NotFound(msg) from None
            raise QueryFailed(msg) from None

    def events_before(
        self, contract: str, names: tuple[str, ...], before: int | None, blocks: int
    ) -> list[tuple[int, int, Any]]:
        """Events of `contract` named one of `names`, newest first, from at most `blocks`
        blocks below height `before`: (height, tx index, event) (the store's event index)."""
        return self.store.events_before(contract, names, before, blocks)

    def native_contracts(self) -> list[str]:
        """The names of the contracts the node runs natively (governance, ...)."""
        return sorted(self.ledger.executor.native)

    def _gov(self, method: str, *args: Any) -> Any:
        return self.query("governance", method, list(args))

    def validators(self) -> list[dict[str, Any]]:
        """The validator set that signs the next block."""
        return self.validators_at(self.store.height() + 1)

    def validators_at(self, height: int) -> list[dict[str, Any]]:
        """The validator set that signs block `height` (ADR 0012: from state height - 2)."""
        return [
            {
                "name": v.name,
                "org": v.org,
                "scheme": v.scheme,
                "public_key": v.public_key.hex(),
                "power": v.power,
            }
            for v in self.ledger.validator_set(max(1, height)).validators
        ]

    def orgs(self) -> list[dict[str, Any]]:
        return [
            {"name": o["name"], "status": o["status"], "ca_cert": o["ca_cert"].hex()}
            for o in self._gov("list_orgs")
        ]

    def contracts(self) -> list[dict[str, Any]]:
        return list(self._gov("list_contracts"))

    def genesis(self) -> bytes:
        return encode(self.ledger.genesis)

    def proof_builder(self) -> ProofBuilder:
        """The source of proof documents (`tianfu.api.proofs`)."""
        if self._proofs is None:
            self._proofs = ledger_proofs(self.ledger)
        return self._proofs
