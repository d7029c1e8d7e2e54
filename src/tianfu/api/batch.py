"""`POST /v1/txs/batch`: many transactions in one request — decoding the body, admitting
and waiting through the service, and the per-transaction answer.

The body is the canonical msgpack array of the transactions' canonical bytes
(`application/octet-stream`), or JSON `{"txs": ["<hex>", ...]}`; at most
`MAX_BATCH_TXS` transactions and the node's body limit (`max_body_bytes`) of transaction
bytes in all. A body that is not a well-formed batch is refused as a whole (400 / 413)
before anything is admitted. Otherwise the answer is 200 with one result per transaction,
in the order sent: the committed record (as `POST /v1/txs?wait=commit` renders it),
`{"hash", "status": "pending"}`, or `{"hash", "status": "rejected", "code", "error"}` with
the status and message the single route would have answered.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from tianfu.api.errors import ApiError
from tianfu.api.render import refusal, render_record
from tianfu.api.service import ChainService, TxRecord, TxRejected
from tianfu.codec import CodecError, encode
from tianfu.types import Transaction
from tianfu.types.tx import decode_tx

MAX_BATCH_TXS = 1000
# A transaction whose arguments nest deeper than the decoder's recursion allows; anything
# nested deeper than a contract value may be (`tianfu.types.MAX_DEPTH`) is refused at
# admission anyway, so the two refusals differ only in their message.
TOO_DEEP = "arguments nested too deeply"
BATCH_PATH = "/v1/txs/batch"

_raw_list = msgspec.msgpack.Decoder(list[bytes])

Outcome = bytes | TxRejected  # a transaction's hash when admitted, else why it was refused


class BatchError(ApiError):
    """A request body that is not a well-formed batch (answered as `{"error": message}`)."""


def load_json(body: bytes, error: type[ApiError] = ApiError) -> Any:
    """A JSON request body, or `error(400)` saying why it is not one."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise error(400, "malformed JSON body") from None
    except RecursionError:
        raise error(400, "malformed JSON body: nested too deeply") from None


def json_body_limit(limit: int) -> int:
    """The largest JSON batch body read: hex doubles `limit`, plus quotes and commas."""
    return 2 * limit + 4 * MAX_BATCH_TXS + 1024


def _check_count(n: int) -> None:
    if n > MAX_BATCH_TXS:
        raise BatchError(413, f"batch of {n} transactions exceeds the limit of {MAX_BATCH_TXS}")


def _raw_txs(body: bytes, json_body: bool, limit: int) -> list[bytes]:
    if not body:
        raise BatchError(400, "empty request body: send a msgpack array of canonical transactions")
    if json_body:
        doc = load_json(body, BatchError)
        items = doc.get("txs") if isinstance(doc, dict) else None
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            raise BatchError(
                400, 'JSON body must be {"txs": ["<hex of a canonical transaction>", ...]}'
            )
        _check_count(len(items))
        raws: list[bytes] = []
        for i, text in enumerate(items):
            try:
                raws.append(bytes.fromhex(text))
            except ValueError:
                raise BatchError(400, f"txs[{i}] is not valid hex") from None
        total = sum(len(r) for r in raws)
        if total > limit:
            raise BatchError(
                413, f"batch of {total} transaction bytes exceeds the limit of {limit}"
            )
        return raws
    if len(body) > limit:
        raise BatchError(413, f"request body of {len(body)} bytes exceeds the limit of {limit}")
    try:
        raws = _raw_list.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BatchError(
            400, f"malformed batch: expected a msgpack array of bytes ({exc})"
        ) from None
    _check_count(len(raws))
    if encode(raws) != body:
        raise BatchError(400, "non-canonical encoding of the batch array")
    return raws


def decode_batch(body: bytes, json_body: bool, limit: int) -> list[Transaction]:
    """The transactions of a batch body, or `BatchError` (nothing of it is admitted)."""
    txs: list[Transaction] = []
    for i, raw in enumerate(_raw_txs(body, json_body, limit)):
        if not raw:
            raise BatchError(400, f"invalid transaction at index {i}: empty")
        try:
            txs.append(decode_tx(raw, max_size=limit))
        except CodecError as exc:
            raise BatchError(400, f"invalid transaction at index {i}: {exc}") from None
        except RecursionError:
            raise BatchError(400, f"invalid transaction at index {i}: {TOO_DEEP}") from None
    return txs


async def admit_batch(
    service: ChainService, txs: list[Transaction], wait_s: float | None
) -> tuple[list[Outcome], dict[bytes, TxRecord]]:
    """Admit `txs` and wait for the admitted ones' commit when `wait_s` is not None: the
    outcomes, and the records of those committed (for `render_batch`)."""
    outcomes = list(await service.submit_many(txs))
    admitted = [o for o in outcomes if isinstance(o, bytes)]
    records: dict[bytes, TxRecord] = {}
    if wait_s is not None and admitted:
        waited = await service.wait_committed_many(admitted, wait_s)
        for h, rec in zip(admitted, waited, strict=True):
            if rec is not None:
                records[h] = rec
    return outcomes, records


async def run_batch(
    service: ChainService, txs: list[Transaction], wait_s: float | None
) -> dict[str, Any]:
    """`admit_batch`, and the answer document."""
    outcomes, records = await admit_batch(service, txs, wait_s)
    return render_batch(txs, outcomes, records)


def render_batch(
    txs: list[Transaction], outcomes: list[Outcome], records: dict[bytes, TxRecord]
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    counts = {"committed": 0, "pending": 0, "rejected": 0}
    for tx, outcome in zip(txs, outcomes, strict=True):
        if isinstance(outcome, bytes):
            record = records.get(outcome)
            if record is not None:
                results.append(render_record(record))
                counts["committed"] += 1
            else:
                results.append({"hash": outcome.hex(), "status": "pending"})
                counts["pending"] += 1
        else:
            code, doc = refusal(outcome)
            results.append(
                {"hash": tx.hash.hex(), "status": "rejected", "code": code, "error": doc["error"]}
            )
            counts["rejected"] += 1
    return {"results": results, **counts}


BATCH_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": f"At most {MAX_BATCH_TXS} transactions and the node's body limit of "
        "transaction bytes: the canonical msgpack array of the transactions' canonical bytes, "
        'or JSON {"txs": ["<hex>", ...]}. A malformed batch is refused whole (400/413), '
        "nothing admitted.",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "txs": {
                            "type": "array",
                            "items": {"type": "string", "description": "hex"},
                            "maxItems": MAX_BATCH_TXS,
                        }
                    },
                    "required": ["txs"],
                }
            },
        },
    },
    "responses": {
        "200": {
            "description": "One result per transaction, in order: the committed record "
            '(as `POST /v1/txs?wait=commit`), {"hash", "status": "pending"}, or '
            '{"hash", "status": "rejected", "code": 400|409, "error"}; plus the counts '
            "`committed`, `pending`, `rejected`."
        }
    },
}
