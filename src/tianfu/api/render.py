"""JSON rendering of chain objects: readable fields (bytes as hex) plus the canonical `raw` bytes.

Every chain object goes out twice: as readable JSON, for people and dashboards, and as
`"raw": hex(codec.encode(obj))`, which is what the SDK decodes and verifies. Clients must
never verify the readable form.
"""

from __future__ import annotations

from typing import Any

import msgspec

from tianfu.api.service import CommittedEvent, StateRead, TxRecord
from tianfu.codec import encode
from tianfu.proofs.values import readable_body
from tianfu.types import (
    OK,
    Block,
    BlockHeader,
    CommitCertificate,
    Event,
    Genesis,
    Receipt,
    Transaction,
)


def jsonable(value: Any) -> Any:
    """Plain JSON form of a contract value or struct: bytes become hex strings."""
    # The exact built-in types (nearly every contract value) first, by type identity; any
    # subclass or other type takes the general walk below, which gives the same answer.
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is bytes:
        return value.hex()
    if t is list:
        return [jsonable(v) for v in value]
    if t is dict:
        return {(k if type(k) is str else str(k)): jsonable(v) for k, v in value.items()}
    return _jsonable(value)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, msgspec.Struct):
        return {f: jsonable(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def render_header(header: BlockHeader) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(header)
    out["hash"] = header.hash.hex()
    out["raw"] = encode(header).hex()
    return out


def render_tx(tx: Transaction, tx_hash: str | None = None) -> dict[str, Any]:
    """`tx_hash`: its hash in hex when the caller has it already (saves hashing again)."""
    return {
        "hash": tx.hash.hex() if tx_hash is None else tx_hash,
        **readable_body(tx.body, jsonable),
        "signature": tx.signature.hex(),
        "raw": tx.encoded().hex(),
    }


def render_event(event: Event) -> dict[str, Any]:
    return {"contract": event.contract, "name": event.name, "data": jsonable(event.data)}


def render_receipt(receipt: Receipt) -> dict[str, Any]:
    return {
        "status": "ok" if receipt.status == OK else "failed",
        "ok": receipt.status == OK,
        "gas_used": receipt.gas_used,
        "result": jsonable(receipt.result),
        "error": receipt.error,
        "events": [render_event(e) for e in receipt.events],
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
            {"status": "ok" if r.status == OK else "failed", "error": r.error} for r in receipts
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
    its quota: 429, else 400)."""
    from tianfu.api.service import TxDuplicate, TxQuotaExceeded

    if isinstance(exc, TxDuplicate):
        return 409, {"error": f"duplicate transaction: {exc}"}
    if isinstance(exc, TxQuotaExceeded):
        return 429, {"error": f"transaction rejected: {exc}", "code": "quota_exceeded"}
    return 400, {"error": f"transaction rejected: {exc}"}
