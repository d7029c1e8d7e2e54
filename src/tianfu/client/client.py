"""The Python SDK: build, sign and submit transactions, query, read and verify chain data.

Readable JSON fields are for display only; everything the SDK returns as a chain object is
decoded from the `raw` canonical bytes the node sends, and `read_state(verify=True)` /
`verify_tx_inclusion` check those bytes against a trusted validator set (see
`tianfu.client.verify` and docs/adr/0008-api-sdk-cli.md for the trust model).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from tianfu.client.errors import ApiError, ClientError, ConnectionFailed, TxFailed, TxTimeout
from tianfu.client.verify import (
    LightClient,
    VerificationError,
    VerifiedBlockEvents,
    VerifiedTx,
    VerifiedValue,
    decode_value,
    verify_block_events,
    verify_state_json,
    verify_tx_proof_json,
)
from tianfu.codec import CodecError, decode, encode
from tianfu.crypto import ChainSuite, sign_tx, suite_for_scheme, suite_of
from tianfu.proofs.documents import VerifiedDocument, verify_document
from tianfu.types import Block, BlockHeader, Event, Genesis, Receipt, Transaction, TxBody
from tianfu.types.genesis import decode_genesis

if TYPE_CHECKING:
    from tianfu.identity import Identity

DEFAULT_URL = "http://127.0.0.1:8701"
HEIGHT_TTL_S = 5.0  # how long a fetched chain height is reused for expiry computation
BATCH_MAX_TXS = 1000  # the node's limit per `POST /v1/txs/batch` (tianfu.api.batch)
BATCH_MAX_BYTES = 1 << 20  # transaction bytes per request: the node's default body limit


BUSY_RETRY_S = 10.0  # how long a read refused as busy (429) is retried
_MAX_BUSY_WAIT_S = 2.0


def _retry_after(resp: httpx.Response, attempt: int) -> float:
    """How long to wait before trying a busy-refused read again: the node's Retry-After
    (capped), else a short backoff doubling per attempt; with jitter so that clients
    refused together do not come back together."""
    try:
        hint = float(resp.headers.get("retry-after", ""))
    except ValueError:
        hint = 0.05 * 2**attempt
    base = min(max(hint, 0.0), _MAX_BUSY_WAIT_S)
    return base * (0.5 + secrets.randbelow(1000) / 1000)


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


def _hex_field(doc: Any, *names: str) -> bytes:
    obj = doc
    for n in names:
        if not isinstance(obj, dict) or n not in obj:
            raise ClientError(f"malformed node response: no field {'.'.join(names)}")
        obj = obj[n]
    try:
        return bytes.fromhex(obj)
    except (TypeError, ValueError):
        raise ClientError(f"malformed node response: {'.'.join(names)} is not hex") from None


def _decode_raw(doc: Any, typ: type[Any], *names: str) -> Any:
    try:
        return decode(_hex_field(doc, *names), typ)
    except CodecError as exc:
        raise ClientError(f"malformed {typ.__name__} from node: {exc}") from None


def _hash_hex(tx_hash: str | bytes) -> str:
    return tx_hash.hex() if isinstance(tx_hash, bytes) else tx_hash


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


class Client:
    """A connection to one node's REST API.

    `identity` signs transactions. The trust anchor for verified reads is `genesis` (a
    genesis you already hold) or `trust_genesis_hash` (the genesis is then fetched once from
    the node and accepted only if its hash matches). Without either, verified reads fail.
    `http` lets tests pass any `httpx.Client` (e.g. a FastAPI TestClient).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        identity: Identity | None = None,
        timeout: float = 30.0,
        genesis: Genesis | None = None,
        *,
        trust_genesis_hash: bytes | str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.identity = identity
        self.timeout = timeout
        self.genesis = genesis
        if isinstance(trust_genesis_hash, str):
            trust_genesis_hash = bytes.fromhex(trust_genesis_hash)
        self.trust_genesis_hash = trust_genesis_hash
        self._http = http if http is not None else httpx.Client(base_url=self.url, timeout=timeout)
        self._own_http = http is None
        self._chain_id: str | None = genesis.chain_id if genesis else None
        self._height: tuple[int, float] | None = None
        self._cert_registered = False
        self._light: LightClient | None = None
        # A read refused with 429 (the node's query limits) is retried for this long.
        self.busy_retry_s = BUSY_RETRY_S

    # --- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request; a read the node turned away as busy (429) is tried again after the
        wait the node asks for, for up to `busy_retry_s` in all."""
        # A busy refusal comes before the request is looked at (a private-data request's
        # nonce is not spent), so these are safe to send again byte for byte.
        idempotent = method == "GET" or path == "/v1/query" or path.startswith("/v1/private/")
        deadline = time.monotonic() + self.busy_retry_s
        attempt = 0
        while True:
            resp = self._send(method, path, **kw)
            if resp.status_code != 429 or not idempotent:
                break
            wait = _retry_after(resp, attempt)
            if time.monotonic() + wait > deadline:
                break
            time.sleep(wait)
            attempt += 1
        if resp.status_code >= 400:
            try:
                message = str(resp.json()["error"])
            except (ValueError, KeyError, TypeError):
                message = resp.text[:200] or resp.reason_phrase
            raise ApiError(resp.status_code, message)
        return resp

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kw)
        except httpx.ConnectError as exc:
            raise ConnectionFailed(f"cannot connect to {self.url}: {exc}") from None
        except httpx.TimeoutException:
            raise ConnectionFailed(f"request to {self.url}{path} timed out") from None
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"request to {self.url}{path} failed: {exc}") from None

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """An HTTP request to one of the node's routes (an application's own, such as the
        photo uploads); an answer of 400 or more raises `ApiError` with the node's message."""
        return self._request(method, path, **kw)

    def _get(self, path: str, **params: Any) -> Any:
        params = {k: v for k, v in params.items() if v is not None}
        try:
            return self._request("GET", path, params=params).json()
        except ValueError:
            raise ClientError(f"node sent a non-JSON answer for {path}") from None

    # --- chain information ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        doc = self._get("/v1/status")
        if isinstance(doc.get("height"), int):
            self._height = (doc["height"], time.monotonic())
        return doc

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = str(self.status()["chain_id"])
        return self._chain_id

    def _current_height(self) -> int:
        if self._height is None or time.monotonic() - self._height[1] > HEIGHT_TTL_S:
            self.status()
        assert self._height is not None
        return self._height[0]

    def fetch_genesis(self) -> Genesis:
        """The node's genesis, decoded from its raw bytes (not trusted by itself)."""
        raw = _hex_field(self._get("/v1/genesis"), "raw")
        try:
            return decode_genesis(raw)  # either profile
        except CodecError as exc:
            raise ClientError(f"malformed Genesis from node: {exc}") from None

    def validators(self) -> list[dict[str, Any]]:
        return list(self._get("/v1/validators")["validators"])

    def orgs(self) -> list[dict[str, Any]]:
        return list(self._get("/v1/orgs")["orgs"])

    def contracts(self) -> list[dict[str, Any]]:
        return list(self._get("/v1/contracts")["contracts"])

    def metrics(self) -> str:
        return self._request("GET", "/metrics").text

    # --- transactions ----------------------------------------------------------------------

    def build_tx(
        self, contract: str, method: str, *args: Any, expiry_blocks: int = 100
    ) -> Transaction:
        """A signed transaction; carries the signer's certificate until one has committed."""
        if self.identity is None:
            raise ClientError("an identity is needed to sign transactions")
        kp = self.identity.keypair
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
        """Send a signed transaction; return its hash (hex). It is pending until committed."""
        doc = self._request(
            "POST",
            "/v1/txs",
            content=encode(tx),
            headers={"content-type": "application/octet-stream"},
        ).json()
        return str(doc["hash"])

    def _result(self, doc: dict[str, Any], tx_hash: str) -> Result:
        receipt: Receipt = _decode_raw(doc, Receipt, "receipt", "raw")
        return Result(
            tx_hash=tx_hash,
            committed=True,
            ok=receipt.ok,
            error=receipt.error,
            result=receipt.result,
            events=list(receipt.events),
            height=int(doc["height"]),
            index=int(doc["index"]),
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
        doc = resp.json()
        if resp.status_code == 202:
            raise TxTimeout(tx_hash, self.timeout)
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
        message as `submit` would raise). Failed receipts are results, not exceptions."""
        out: list[Result | ApiError] = []
        for chunk in _chunks([encode(tx) for tx in txs]):
            out += self._submit_chunk(chunk, wait)
        return out

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
            # The cached chain height was stale (a fast chain): refresh it and sign anew.
            self._height = None
            tx = self.build_tx(contract, method, *args, expiry_blocks=expiry_blocks)
            return self.send(tx, wait=wait, check=check)

    def get_tx(self, tx_hash: str | bytes) -> TxInfo:
        h = _hash_hex(tx_hash)
        doc = self._get(f"/v1/txs/{h}")
        tx: Transaction = _decode_raw(doc, Transaction, "tx", "raw")
        if tx.hash.hex() != h.lower():
            raise ClientError("node returned a different transaction than the one asked for")
        receipt: Receipt = _decode_raw(doc, Receipt, "receipt", "raw")
        return TxInfo(h, tx, receipt, int(doc["height"]), int(doc["index"]))

    def query(self, contract: str, method: str, *args: Any) -> Any:
        """A read-only call on the latest state (not verified: the node computes it)."""
        resp = self._request(
            "POST", "/v1/query", json={"contract": contract, "method": method, "args": list(args)}
        )
        doc = resp.json()
        if isinstance(doc.get("raw"), str):
            try:
                return decode_value(bytes.fromhex(doc["raw"]))
            except (ValueError, VerificationError):
                raise ClientError("malformed query result from node") from None
        return doc.get("result")

    # --- blocks -----------------------------------------------------------------------------

    def block(self, height: int) -> Block:
        block: Block = _decode_raw(self._get(f"/v1/blocks/{int(height)}"), Block, "raw")
        if block.header.height != height:
            raise ClientError(f"node returned block {block.header.height} for height {height}")
        return block

    def blocks(self, from_: int | None = None, limit: int = 20) -> list[BlockHeader]:
        doc = self._get("/v1/blocks", **{"from": from_, "limit": limit})
        return [_decode_raw(h, BlockHeader, "raw") for h in doc["blocks"]]

    def block_raw(self, height: int) -> dict[str, Any]:
        return dict(self._get(f"/v1/blocks/{int(height)}"))

    # --- light client -------------------------------------------------------------------------

    @property
    def light_client(self) -> LightClient:
        """The light client over the trusted validator set (see the class docstring)."""
        if self._light is None:
            if self.genesis is None and self.trust_genesis_hash is not None:
                genesis = self.fetch_genesis()
                if genesis.hash != self.trust_genesis_hash:
                    raise VerificationError(
                        f"the node's genesis hash {genesis.hash.hex()} is not the trusted "
                        f"{self.trust_genesis_hash.hex()}"
                    )
                self.genesis = genesis
            if self.genesis is None:
                raise VerificationError(
                    "no trust anchor: give Client a genesis= or trust_genesis_hash= to verify reads"
                )
            self._light = LightClient.from_genesis(self.genesis, source=self)
        return self._light

    @property
    def suite(self) -> ChainSuite:
        """The chain's crypto suite: the trusted genesis's, else that of the identity's key,
        else the one the node's genesis names. Local hashes (a header's) use it."""
        if self.genesis is not None:
            return suite_of(self.genesis)
        if self.identity is not None:
            return suite_for_scheme(self.identity.keypair.scheme)
        return suite_of(self.fetch_genesis())

    def state_raw(
        self, contract: str, key: str, height: int | None = None, prove: bool = False
    ) -> dict[str, Any]:
        """The node's JSON answer for a state read (readable fields plus raw bytes)."""
        params: dict[str, Any] = {"height": height}
        if prove:
            params["prove"] = "true"
        return dict(self._get(f"/v1/state/{contract}/{key}", **params))

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
        return dict(self._get(f"/v1/txs/{_hash_hex(tx_hash)}/proof", mode=mode))

    def verify_tx_inclusion(self, tx_hash: str | bytes) -> VerifiedTx:
        """Prove that a transaction, with its receipt, is in a block committed by the
        trusted validators."""
        h = _hash_hex(tx_hash)
        doc = self.tx_proof_raw(h)
        return verify_tx_proof_json(self.light_client, doc, tx_hash=bytes.fromhex(h))

    # --- proof documents (self-contained: verifiable against the genesis alone) ---------------

    def validator_chain_raw(self, height: int, after: int = 0) -> dict[str, Any]:
        """The validator-set changes after change `after` needed for block `height`."""
        return dict(self._get("/v1/proofs/chain", height=height, after=after))

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
        return dict(self._get(f"/v1/proofs/state/{contract}/{key}", height=height, mode=mode))

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
        return dict(self._get(f"/v1/proofs/history/{contract}/{key}", height=height, limit=limit))

    def absence_proof_raw(self, tx_hash: str | bytes, height: int | None = None) -> dict[str, Any]:
        """The node's absence proof document of a transaction (unverified)."""
        return dict(self._get(f"/v1/proofs/absence/{_hash_hex(tx_hash)}", height=height))

    def validators_proof_raw(
        self, height: int | None = None, mode: str | None = None
    ) -> dict[str, Any]:
        """The node's proof document of the validator set of a block (unverified)."""
        return dict(self._get("/v1/proofs/validators", height=height, mode=mode))

    def consortium_proof_raw(
        self, kind: str, height: int | None = None, mode: str | None = None
    ) -> dict[str, Any]:
        """The node's proof document of its `/v1/orgs` ("orgs") or `/v1/contracts`
        ("contracts") answer (unverified)."""
        if kind not in ("orgs", "contracts"):
            raise ValueError(f"no consortium answer {kind!r}")
        return dict(self._get(f"/v1/proofs/{kind}", height=height, mode=mode))

    def block_events_raw(
        self, height: int, contract: str | None = None, name: str | None = None
    ) -> dict[str, Any]:
        """The node's event batch of one block (unverified)."""
        return dict(self._get(f"/v1/blocks/{int(height)}/events", contract=contract, name=name))

    def state_proofs_raw(
        self, reads: list[tuple[str, str]], height: int | None = None
    ) -> dict[str, Any]:
        """The node's proof document of several state entries at one height (unverified)."""
        body: dict[str, Any] = {"reads": [{"contract": c, "key": k} for c, k in reads]}
        if height is not None:
            body["height"] = height
        try:
            return dict(self._request("POST", "/v1/proofs/state", json=body).json())
        except ValueError:
            raise ClientError("node sent a non-JSON answer for /v1/proofs/state") from None

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
        return verify_block_events(self.light_client, batch, contract=contract, name=name)

    def stream_block_events(
        self,
        from_height: int | None = None,
        to_height: int | None = None,
        contract: str | None = None,
        name: str | None = None,
    ) -> Iterator[VerifiedBlockEvents]:
        """Verified event batches from the WebSocket `/v1/events/blocks`, one per block in
        height order (from the next block when `from_height` is None)."""
        from websockets.sync.client import connect

        params = {"from": from_height, "to": to_height, "contract": contract, "name": name}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        url = self.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        expected = from_height
        with connect(f"{url}/v1/events/blocks?{query}", open_timeout=self.timeout) as ws:
            for message in ws:
                batch = json.loads(message)
                verified = verify_block_events(
                    self.light_client, batch, contract=contract, name=name
                )
                if expected is not None and verified.height != expected:
                    raise VerificationError(
                        f"the stream skipped from block {expected} to {verified.height}"
                    )
                expected = verified.height + 1
                yield verified

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


__all__ = ["Client", "Result", "TxInfo"]
