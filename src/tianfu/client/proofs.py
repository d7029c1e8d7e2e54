"""The SDK's verified reads: state with proofs, proof documents and block event batches.

Each `*_raw` method returns the node's JSON answer unverified; the others verify it against
the trusted genesis through the light client (see `tianfu.client.verify`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from tianfu.client.errors import ClientError
from tianfu.client.transport import NodeConnection, _decode_raw, _hash_hex, _object_answer
from tianfu.client.verify import (
    VerificationError,
    VerifiedBlockEvents,
    VerifiedTx,
    VerifiedValue,
    decode_value,
    verify_block_events,
    verify_state_json,
    verify_tx_proof_json,
)
from tianfu.proofs.documents import VerifiedDocument, verify_document
from tianfu.types import BlockHeader, Genesis


class ProvingReads(NodeConnection):
    """Reads that come with proofs, on top of a node connection."""

    def state_raw(
        self, contract: str, key: str, height: int | None = None, prove: bool = False
    ) -> dict[str, Any]:
        """The node's JSON answer for a state read (readable fields plus raw bytes)."""
        params: dict[str, Any] = {"height": height}
        if prove:
            params["prove"] = "true"
        return self._get_object(f"/v1/state/{contract}/{key}", **params)

    def read_state(
        self, contract: str, key: str, height: int | None = None, verify: bool = True
    ) -> VerifiedValue:
        """The value of `key` in `contract`; with `verify`, proven against the trust anchor."""
        doc = self.state_raw(contract, key, height, prove=verify)
        if verify:
            return verify_state_json(
                self.light_client, doc, contract=contract, key=key, height=height
            )
        raw = doc.get("value_raw")
        value = None if raw is None else decode_value(bytes.fromhex(raw))
        header: BlockHeader = _decode_raw(doc, BlockHeader, "header", "raw")
        with self.suite.use():
            block_hash = header.hash
        return VerifiedValue(
            contract, key, value, raw is not None, header.height, block_hash, header.state_root
        )

    def tx_proof_raw(self, tx_hash: str | bytes, mode: str | None = None) -> dict[str, Any]:
        """The node's proof document of a transaction and its receipt (unverified)."""
        return self._get_object(f"/v1/txs/{_hash_hex(tx_hash)}/proof", mode=mode)

    def verify_tx_inclusion(self, tx_hash: str | bytes) -> VerifiedTx:
        """Prove that a transaction, with its receipt, is in a block committed by the
        trusted validators."""
        h = _hash_hex(tx_hash)
        doc = self.tx_proof_raw(h)
        return verify_tx_proof_json(self.light_client, doc, tx_hash=bytes.fromhex(h))

    # --- proof documents (self-contained: verifiable against the genesis alone) ---------------

    def trusted_genesis(self) -> Genesis:
        """The trusted genesis (fetched and checked against `trust_genesis_hash` if needed)."""
        self.light_client  # noqa: B018 (fetches and checks the genesis when only its hash is trusted)
        if self.genesis is None:
            raise VerificationError("no trusted genesis to verify against")
        return self.genesis

    def state_proof_raw(
        self, contract: str, key: str, height: int | None = None, mode: str | None = None
    ) -> dict[str, Any]:
        """The node's proof document of one state entry (unverified)."""
        return self._get_object(f"/v1/proofs/state/{contract}/{key}", height=height, mode=mode)

    def verify_document(
        self, doc: dict[str, Any] | str | bytes, kind: str | None = None
    ) -> VerifiedDocument:
        """Verify a proof document strictly against the trusted genesis (no node needed)."""
        return verify_document(doc, self.trusted_genesis(), kind=kind)

    def prove_state(
        self, contract: str, key: str, height: int | None = None, mode: str | None = None
    ) -> VerifiedDocument:
        """A state entry (or its absence) as a verified, self-contained proof document."""
        return self.verify_document(self.state_proof_raw(contract, key, height, mode), "state")

    def history_proof_raw(
        self, contract: str, key: str, height: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """The node's history proof document of a state entry (unverified)."""
        return self._get_object(f"/v1/proofs/history/{contract}/{key}", height=height, limit=limit)

    def absence_proof_raw(self, tx_hash: str | bytes, height: int | None = None) -> dict[str, Any]:
        """The node's absence proof document of a transaction (unverified)."""
        return self._get_object(f"/v1/proofs/absence/{_hash_hex(tx_hash)}", height=height)

    def validators_proof_raw(
        self, height: int | None = None, mode: str | None = None
    ) -> dict[str, Any]:
        """The node's proof document of the validator set of a block (unverified)."""
        return self._get_object("/v1/proofs/validators", height=height, mode=mode)

    def consortium_proof_raw(
        self, kind: str, height: int | None = None, mode: str | None = None
    ) -> dict[str, Any]:
        """The node's proof document of its `/v1/orgs` ("orgs") or `/v1/contracts`
        ("contracts") answer (unverified)."""
        if kind not in ("orgs", "contracts"):
            raise ValueError(f"no consortium answer {kind!r}")
        return self._get_object(f"/v1/proofs/{kind}", height=height, mode=mode)

    def block_events_raw(
        self, height: int, contract: str | None = None, name: str | None = None
    ) -> dict[str, Any]:
        """The node's event batch of one block (unverified)."""
        return self._get_object(f"/v1/blocks/{int(height)}/events", contract=contract, name=name)

    def state_proofs_raw(
        self, reads: list[tuple[str, str]], height: int | None = None
    ) -> dict[str, Any]:
        """The node's proof document of several state entries at one height (unverified)."""
        body: dict[str, Any] = {"reads": [{"contract": c, "key": k} for c, k in reads]}
        if height is not None:
            body["height"] = height
        try:
            answer = self._request("POST", "/v1/proofs/state", json=body).json()
        except (ValueError, RecursionError):
            raise ClientError("node sent a non-JSON answer for /v1/proofs/state") from None
        return _object_answer(answer, "/v1/proofs/state")

    def prove_states(
        self, reads: list[tuple[str, str]], height: int | None = None
    ) -> VerifiedDocument:
        """Several state entries at one height in one verified proof document."""
        return self.verify_document(self.state_proofs_raw(reads, height), "state")

    def prove_tx(self, tx_hash: str | bytes, mode: str | None = None) -> VerifiedDocument:
        """A committed transaction and its receipt as a verified proof document."""
        return self.verify_document(self.tx_proof_raw(tx_hash, mode), "tx")

    def prove_absence(self, tx_hash: str | bytes, height: int | None = None) -> VerifiedDocument:
        """Proof that a transaction was not committed up to `height` (latest when None).
        A committed transaction gets `ApiError` 409."""
        return self.verify_document(self.absence_proof_raw(tx_hash, height), "absence")

    def prove_history(
        self, contract: str, key: str, height: int | None = None, limit: int | None = None
    ) -> VerifiedDocument:
        """Every version of a state entry up to `height` (newest first, at most `limit`),
        each proven, linked so that none is left out."""
        return self.verify_document(self.history_proof_raw(contract, key, height, limit), "history")

    def prove_validators(
        self, height: int | None = None, mode: str | None = None
    ) -> VerifiedDocument:
        """The validator set of block `height`, proven from the genesis through every change."""
        return self.verify_document(self.validators_proof_raw(height, mode), "validators")

    def prove_orgs(self, height: int | None = None, mode: str | None = None) -> VerifiedDocument:
        """The consortium's organisations (the `/v1/orgs` answer) at `height`, proven."""
        return self.verify_document(self.consortium_proof_raw("orgs", height, mode), "orgs")

    def prove_contracts(
        self, height: int | None = None, mode: str | None = None
    ) -> VerifiedDocument:
        """The deployed contracts (the `/v1/contracts` answer) at `height`, proven."""
        return self.verify_document(
            self.consortium_proof_raw("contracts", height, mode), "contracts"
        )

    # --- block event batches (complete per block) -----------------------------------------------

    def block_events(
        self, height: int, contract: str | None = None, name: str | None = None
    ) -> VerifiedBlockEvents:
        """Every event of block `height` (matching the filter), proven complete."""
        batch = self.block_events_raw(height, contract, name)
        return verify_block_events(
            self.light_client, batch, contract=contract, name=name, height=height
        )

    def stream_block_events(
        self,
        from_height: int | None = None,
        to_height: int | None = None,
        contract: str | None = None,
        name: str | None = None,
    ) -> Iterator[VerifiedBlockEvents]:
        """Verified event batches from the WebSocket `/v1/events/blocks`, one per block in
        height order (from the next block when `from_height` is None) up to `to_height`:
        the iteration ends after block `to_height`'s batch, and a batch past it is refused
        (documents.md#block-event-batches)."""
        from websockets.sync.client import connect

        params = {"from": from_height, "to": to_height, "contract": contract, "name": name}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        url = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        expected = from_height
        with connect(f"{url}/v1/events/blocks?{query}", open_timeout=self.timeout) as ws:
            for message in ws:
                try:
                    batch = json.loads(message)
                except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
                    raise VerificationError(
                        "the node sent an event batch that is not JSON"
                    ) from None
                verified = verify_block_events(
                    self.light_client, batch, contract=contract, name=name
                )
                if expected is not None and verified.height != expected:
                    raise VerificationError(
                        f"the stream skipped from block {expected} to {verified.height}"
                    )
                if to_height is not None and verified.height > to_height:
                    raise VerificationError(
                        f"the stream sent block {verified.height}, past block {to_height} "
                        "(the last asked for)"
                    )
                expected = verified.height + 1
                yield verified
                if verified.height == to_height:
                    return
