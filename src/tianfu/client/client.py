"""The Python SDK: build, sign and submit transactions, query, read and verify chain data.

Readable JSON fields are for display only; everything the SDK returns as a chain object is
decoded from the `raw` canonical bytes the node sends, and `read_state(verify=True)` /
`verify_tx_inclusion` check those bytes against a trusted validator set (see
`tianfu.client.verify` and docs/adr/0008-api-sdk-cli.md for the trust model).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tianfu.client.errors import ApiError, ClientError, TxFailed, TxTimeout
from tianfu.client.proofs import ProvingReads
from tianfu.client.transport import (
    DEFAULT_URL,
    _count_field,
    _decode_raw,
    _hash_hex,
    _json_object,
)
from tianfu.client.verify import VerificationError, decode_value
from tianfu.codec import decode, encode
from tianfu.crypto import sign_tx
from tianfu.types import Event, Receipt, Transaction, TxBody

BATCH_MAX_TXS = 1000  # the node's limit per `POST /v1/txs/batch` (tianfu.api.batch)
BATCH_MAX_BYTES = 1 << 20  # transaction bytes per request: the node's default body limit


@dataclass(frozen=True)
class Result:
    """The outcome of `invoke`: committed (with its receipt) or still pending."""

    tx_hash: str
    committed: bool
    ok: bool = False
    error: str = ""
    result: Any = None
    events: list[Event] = field(default_factory=list)
    height: int | None = None
    index: int | None = None
    gas_used: int = 0


@dataclass(frozen=True)
class TxInfo:
    tx_hash: str
    tx: Transaction
    receipt: Receipt
    height: int
    index: int


def _chunks(raws: list[bytes]) -> list[list[bytes]]:
    """`raws` in order, split into batches within the node's limits."""
    out: list[list[bytes]] = []
    size = 0
    for raw in raws:
        if not out or len(out[-1]) >= BATCH_MAX_TXS or size + len(raw) > BATCH_MAX_BYTES - 8192:
            out.append([])
            size = 0
        out[-1].append(raw)
        size += len(raw)
    return out


class Client(ProvingReads):
    """A connection to one node's REST API.

    `identity` signs transactions. The trust anchor for verified reads is `genesis` (a
    genesis you already hold) or `trust_genesis_hash` (the genesis is then fetched once from
    the node and accepted only if its hash matches). Without either, verified reads fail.
    `http` lets tests pass any `httpx.Client` (e.g. a FastAPI TestClient).
    """

    # --- transactions ----------------------------------------------------------------------

    def build_tx(
        self, contract: str, method: str, *args: Any, expiry_blocks: int = 100
    ) -> Transaction:
        """A signed transaction; carries the signer's certificate until one has committed."""
        if self.identity is None:
            raise ClientError("an identity is needed to sign transactions")
        kp = self.identity.keypair
        if self._expiry_window is not None:
            expiry_blocks = min(expiry_blocks, self._expiry_window)
        body = TxBody(
            1,
            self.chain_id,
            kp.scheme,
            kp.public_key,
            secrets.randbits(63),
            self._current_height() + expiry_blocks,
            contract,
            method,
            list(args),
            b"" if self._cert_registered else self.identity.cert_der,
        )
        body.validate()  # bad argument types fail here, before signing
        return sign_tx(kp, body)

    def submit(self, tx: Transaction) -> str:
        """Send a signed transaction; return its hash (hex). It is pending until committed.
        An answer that is not the node's word on this transaction is a `ClientError`."""
        resp = self._request(
            "POST",
            "/v1/txs",
            content=encode(tx),
            headers={"content-type": "application/octet-stream"},
        )
        tx_hash = tx.hash.hex()
        _same_tx(_json_object(resp, "a submission"), tx_hash)
        return tx_hash

    def _result(self, doc: dict[str, Any], tx_hash: str) -> Result:
        receipt: Receipt = _decode_raw(doc, Receipt, "receipt", "raw")
        return Result(
            tx_hash=tx_hash,
            committed=True,
            ok=receipt.ok,
            error=receipt.error,
            result=receipt.result,
            events=list(receipt.events),
            height=_count_field(doc, "height", "a submission"),
            index=_count_field(doc, "index", "a submission"),
            gas_used=receipt.gas_used,
        )

    def send(self, tx: Transaction, *, wait: bool = True, check: bool = True) -> Result:
        """Submit `tx`; with `wait`, wait for its receipt (raise `TxFailed` if failed and `check`)."""
        tx_hash = tx.hash.hex()
        if not wait:
            return Result(tx_hash=self.submit(tx), committed=False)
        resp = self._request(
            "POST",
            "/v1/txs",
            params={"wait": "commit", "timeout": self.timeout},
            content=encode(tx),
            headers={"content-type": "application/octet-stream"},
            **({"timeout": self.timeout + 10} if self._own_http else {}),
        )
        doc = _json_object(resp, "a submission")
        _same_tx(doc, tx_hash)
        if resp.status_code == 202:
            raise TxTimeout(tx_hash, self.timeout)
        if doc.get("status") != "committed":
            raise ClientError(
                f"malformed node answer to a submission: status {doc.get('status')!r}"
            )
        result = self._result(doc, tx_hash)
        if result.ok:
            self._cert_registered = True
        if check and not result.ok:
            raise TxFailed(result)
        return result

    def submit_many(self, txs: list[Transaction], *, wait: bool = True) -> list[Result | ApiError]:
        """Send many signed transactions through `POST /v1/txs/batch` (in requests of at most
        1,000 transactions and 1 MiB); per transaction, in order: a `Result` — committed,
        with its receipt, or pending (`committed=False`: not committed within the client's
        timeout, or `wait=False`) — or the `ApiError` the node refused it with (status and
        message as `submit` would raise). Failed receipts are results, not exceptions.
        Those refused 503 (the node could not check them now and kept nothing) are sent
        again, alone, for up to `busy_retry_s`, as `submit` sends one again."""
        out: list[Result | ApiError] = []
        for chunk in _chunks([encode(tx) for tx in txs]):
            out += self._submit_chunk_again(chunk, wait)
        return out

    def _submit_chunk_again(self, raws: list[bytes], wait: bool) -> list[Result | ApiError]:
        out = self._submit_chunk(raws, wait)
        deadline = time.monotonic() + self.busy_retry_s
        attempt = 0
        while True:
            again = [i for i, o in enumerate(out) if isinstance(o, ApiError) and o.status == 503]
            # The node's Retry-After for a 503 is 1 s; a short backoff first, with jitter.
            pause = min(1.0, 0.1 * 2**attempt) * (0.5 + secrets.randbelow(1000) / 1000)
            if not again or time.monotonic() + pause > deadline:
                return out
            time.sleep(pause)
            answers = self._submit_chunk([raws[i] for i in again], wait)
            for i, answer in zip(again, answers, strict=True):
                out[i] = answer
            attempt += 1

    def _submit_chunk(self, raws: list[bytes], wait: bool) -> list[Result | ApiError]:
        params: dict[str, Any] = {"wait": "commit", "timeout": self.timeout} if wait else {}
        resp = self._request(
            "POST",
            "/v1/txs/batch",
            params=params,
            content=encode(raws),
            headers={"content-type": "application/octet-stream"},
            **({"timeout": self.timeout + 10} if self._own_http and wait else {}),
        )
        try:
            items = resp.json()["results"]
        except (ValueError, KeyError, TypeError):
            raise ClientError("malformed node response to a batch: no results") from None
        if not isinstance(items, list) or len(items) != len(raws):
            raise ClientError("node answered a batch with a different number of results")
        out: list[Result | ApiError] = []
        for raw, doc in zip(raws, items, strict=True):
            tx_hash = decode(raw, Transaction).hash.hex()
            if not isinstance(doc, dict) or doc.get("hash") != tx_hash:
                raise ClientError("node answered a batch out of order or for other transactions")
            status = doc.get("status")
            if status == "committed":
                result = self._result(doc, tx_hash)
                if result.ok:
                    self._cert_registered = True
                out.append(result)
            elif status == "pending":
                out.append(Result(tx_hash=tx_hash, committed=False))
            elif status == "rejected":
                out.append(ApiError(int(doc.get("code", 400)), str(doc.get("error", ""))))
            else:
                raise ClientError(f"malformed node response to a batch: status {status!r}")
        return out

    def invoke(
        self,
        contract: str,
        method: str,
        *args: Any,
        wait: bool = True,
        check: bool = True,
        expiry_blocks: int = 100,
    ) -> Result:
        """Build, sign and send a call; see `send`."""
        tx = self.build_tx(contract, method, *args, expiry_blocks=expiry_blocks)
        try:
            return self.send(tx, wait=wait, check=check)
        except ApiError as exc:
            if exc.status != 400 or "expir" not in str(exc):
                raise
            # The cached chain height was stale (a fast chain): refresh it and sign anew;
            # or the expiry is past the chain's window (a vote narrowed it): learn it.
            self._height = None
            if "too far ahead" in str(exc):
                self._expiry_window = self._chain_expiry_window()
            tx = self.build_tx(contract, method, *args, expiry_blocks=expiry_blocks)
            return self.send(tx, wait=wait, check=check)

    def _chain_expiry_window(self) -> int | None:
        """The `tx_expiry_window` of the latest state (governance's `get_params`), or None
        if the node gives none. A window widened by the latest block is in force two blocks
        later: until then an expiry capped at it may be refused again."""
        params = self.query("governance", "get_params")
        window = params.get("tx_expiry_window") if isinstance(params, dict) else None
        if isinstance(window, int) and not isinstance(window, bool) and window >= 1:
            return window
        return None

    def get_tx(self, tx_hash: str | bytes) -> TxInfo:
        h = _hash_hex(tx_hash)
        doc = self._get(f"/v1/txs/{h}")
        tx: Transaction = _decode_raw(doc, Transaction, "tx", "raw")
        if tx.hash.hex() != h.lower():
            raise ClientError("node returned a different transaction than the one asked for")
        receipt: Receipt = _decode_raw(doc, Receipt, "receipt", "raw")
        what = f"/v1/txs/{h}"
        return TxInfo(
            h, tx, receipt, _count_field(doc, "height", what), _count_field(doc, "index", what)
        )

    def query(self, contract: str, method: str, *args: Any) -> Any:
        """A read-only call on the latest state (not verified: the node computes it)."""
        resp = self._request(
            "POST", "/v1/query", json={"contract": contract, "method": method, "args": list(args)}
        )
        doc = _json_object(resp, "a query")
        raw = doc.get("raw")
        if isinstance(raw, str):
            try:
                return decode_value(bytes.fromhex(raw))
            except (ValueError, VerificationError):
                raise ClientError("malformed query result from node") from None
        if raw is not None or "result" not in doc:
            raise ClientError("malformed node answer to a query: no raw result")
        return doc["result"]

    # --- contract lifecycle and governance ------------------------------------------------------

    def propose_contract(self, name: str, source: str) -> Any:
        """Propose a contract's source; returns the proposal id."""
        return self.invoke("governance", "propose_contract", name, source).result

    def approve_contract(self, proposal_id: str) -> Result:
        return self.invoke("governance", "approve", proposal_id)

    def grant_role(self, address: str, role: str) -> Result:
        """Grant an ordinary role to an identity of your organisation (a supervisory role
        needs a governance vote: `tianfu.client.governance.grant_role`)."""
        return self.invoke("governance", "grant_role", address, role)

    def revoke_role(self, address: str, role: str) -> Result:
        return self.invoke("governance", "revoke_role", address, role)

    def revoke_cert(self, address: str) -> Result:
        return self.invoke("governance", "revoke_cert", address)


def _same_tx(doc: dict[str, Any], tx_hash: str) -> None:
    """Refuse a node's answer to a submission that is not about transaction `tx_hash`."""
    if "hash" not in doc:
        raise ClientError("malformed node answer to a submission: no field hash")
    if doc["hash"] != tx_hash:
        raise ClientError(
            f"node answered a submission of {tx_hash} for another transaction: {doc['hash']!r:.80}"
        )


__all__ = ["DEFAULT_URL", "Client", "Result", "TxInfo"]
