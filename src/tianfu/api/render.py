"""JSON rendering of chain objects: readable fields (bytes as hex) plus the canonical `raw` bytes.

Every chain object goes out twice: as readable JSON, for people and dashboards, and as
`"raw": hex(codec.encode(obj))`, which is what the SDK decodes and verifies. Clients must
never verify the readable form.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from tianfu.api.service import CommittedEvent, StateRead, TxRecord
from tianfu.codec import encode
from tianfu.proofs.values import readable, readable_body
from tianfu.types import Block, BlockHeader, CommitCertificate, Genesis, Receipt, Transaction

# Plain JSON form of a contract value or struct: bytes become hex strings.
jsonable = readable


def json_answer(content: Any) -> JSONResponse:
    """`content` (plain JSON, as the renderers here make it) as a response encoded now,
    where the route runs: a worker thread for a sync route or a query. A route's returned
    dict is otherwise walked by FastAPI (`jsonable_encoder`) and encoded on the event loop,
    which the node's consensus shares: a block's event batch of 48,000 values held the loop
    ~0.25 s per request."""
    return JSONResponse(content)


def render_header(header: BlockHeader) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(header)
    out["hash"] = header.hash.hex()
    out["raw"] = encode(header).hex()
    return out


def render_tx(tx: Transaction, tx_hash: str | None = None) -> dict[str, Any]:
    """`tx_hash`: its hash in hex when the caller has it already (saves hashing again)."""
    return {
        "hash": tx.hash.hex() if tx_hash is None else tx_hash,
        **readable_body(tx.body),
        "signature": tx.signature.hex(),
        "raw": tx.encoded().hex(),
    }


def render_receipt(receipt: Receipt) -> dict[str, Any]:
    return {
        "status": "ok" if receipt.ok else "failed",
        "ok": receipt.ok,
        "gas_used": receipt.gas_used,
        "result": jsonable(receipt.result),
        "error": receipt.error,
        "events": jsonable(receipt.events),
        "raw": encode(receipt).hex(),
    }


def render_certificate(cert: CommitCertificate) -> dict[str, Any]:
    return {
        "chain_id": cert.chain_id,
        "height": cert.height,
        "round": cert.round,
        "block_hash": cert.block_hash.hex(),
        "signatures": [
            {"validator": s.validator.hex(), "time_ms": s.time_ms, "signature": s.signature.hex()}
            for s in cert.signatures
        ],
        "raw": encode(cert).hex(),
    }


def render_record(record: TxRecord) -> dict[str, Any]:
    h = record.tx.hash.hex()
    return {
        "hash": h,
        "status": "committed",
        "height": record.height,
        "index": record.index,
        "tx": render_tx(record.tx, h),
        "receipt": render_receipt(record.receipt),
    }


def render_block(block: Block, receipts: list[Receipt] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "height": block.header.height,
        "hash": block.header.hash.hex(),
        "header": render_header(block.header),
        "txs": [tx.hash.hex() for tx in block.txs],
        "raw": encode(block).hex(),
    }
    if receipts is not None:
        out["receipts"] = [
            {"status": "ok" if r.ok else "failed", "error": r.error} for r in receipts
        ]
    return out


def render_state(read: StateRead) -> dict[str, Any]:
    return {
        "contract": read.contract,
        "key": read.key,
        "height": read.height,
        "value": jsonable(read.value),
        "value_raw": None if read.value_bytes is None else read.value_bytes.hex(),
        "proof": None if read.proof is None else read.proof.hex(),
        "header": render_header(read.header),
        "certificate": None if read.certificate is None else render_certificate(read.certificate),
    }


def render_genesis(raw: bytes, genesis: Genesis) -> dict[str, Any]:
    readable = jsonable(genesis)
    return {
        "hash": genesis.hash.hex(),
        "chain_id": genesis.chain_id,
        "genesis": readable,
        "raw": raw.hex(),
    }


def render_committed_event(ev: CommittedEvent) -> dict[str, Any]:
    return {
        "height": ev.height,
        "tx_index": ev.tx_index,
        "tx_hash": ev.tx_hash.hex(),
        "contract": ev.event.contract,
        "name": ev.event.name,
        "data": jsonable(ev.event.data),
    }


def refusal(exc: Exception) -> tuple[int, dict[str, Any]]:
    """Status and body for a transaction the node refused (TxDuplicate: 409, an account over
    its quota or no room in the mempool: 429, its state unreadable now: 503, else 400)."""
    from tianfu.api.service import TxBusy, TxDuplicate, TxQuotaExceeded, TxStateUnavailable

    if isinstance(exc, TxStateUnavailable):
        return 503, {"error": f"transaction refused for now: {exc}", "code": "state_unreadable"}
    if isinstance(exc, TxDuplicate):
        return 409, {"error": f"duplicate transaction: {exc}"}
    if isinstance(exc, TxBusy):
        return 429, {"error": f"transaction refused for now: {exc}", "code": "mempool_full"}
    if isinstance(exc, TxQuotaExceeded):
        return 429, {"error": f"transaction rejected: {exc}", "code": "quota_exceeded"}
    return 400, {"error": f"transaction rejected: {exc}"}
