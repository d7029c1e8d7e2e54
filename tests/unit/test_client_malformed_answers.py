"""Every malformed node answer to the SDK's `submit`, `send` and `query` is a typed
`ClientError` naming what was wrong.

They read the answer's fields as they expected them: an answer missing a field, of the
wrong type, not a JSON object or not JSON at all let `KeyError`, `TypeError`,
`ValueError`, `AttributeError` or `RecursionError` out of the SDK, and some (a `hash` that
is a number or another transaction's, a query answer without its result) were returned
as if they were the node's word.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tianfu.client import Client
from tianfu.client.errors import ClientError
from tianfu.codec import encode
from tianfu.crypto import sign_tx
from tianfu.crypto.keys import generate_keypair
from tianfu.types import Receipt, Transaction, TxBody
from tianfu.types.tx import OK

KEY = generate_keypair()
TX: Transaction = sign_tx(
    KEY, TxBody(1, "c", KEY.scheme, KEY.public_key, 7, 10, "kv", "put", ["k", 1])
)
HASH = TX.hash.hex()
RECEIPT = encode(Receipt(OK, 21, 5)).hex()
DEEP = b"[" * 100_000 + b"]" * 100_000


def _json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _record(**fields: Any) -> bytes:
    """A committed record as `POST /v1/txs?wait=commit` answers it, with `fields` changed
    (a field set to `...` left out)."""
    doc = {"hash": HASH, "status": "committed", "height": 3, "index": 0,
           "receipt": {"raw": RECEIPT}} | fields  # fmt: skip
    return _json({k: v for k, v in doc.items() if v is not ...})


def _client(status: int, body: bytes) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    http = httpx.Client(base_url="http://node", transport=httpx.MockTransport(handler))
    return Client("http://node", http=http)


COMMON = {
    "not JSON": b"<html>bad gateway</html>",
    "JSON nested past the parser's stack": DEEP,
    "null": b"null",
    "an array": b"[1]",
    "a text": b'"ab"',
    "a number": b"5",
}


def _refused(call: Callable[[Client], Any], status: int, body: bytes) -> ClientError:
    with pytest.raises(ClientError) as refused:
        call(_client(status, body))
    assert str(refused.value)
    return refused.value


SUBMIT = COMMON | {
    "no hash": _json({"status": "pending"}),
    "a hash that is a number": _json({"hash": 5, "status": "pending"}),
    "another transaction's hash": _json({"hash": "ab" * 32, "status": "pending"}),
}


def test_submit_takes_the_nodes_answer_for_its_transaction() -> None:
    assert _client(202, _json({"hash": HASH, "status": "pending"})).submit(TX) == HASH


@pytest.mark.parametrize("answer", list(SUBMIT))
def test_a_malformed_answer_to_submit_is_a_client_error(answer: str) -> None:
    _refused(lambda c: c.submit(TX), 202, SUBMIT[answer])


SEND = COMMON | {
    "no hash": _record(hash=...),
    "another transaction's hash": _record(hash="ab" * 32),
    "no receipt": _record(receipt=...),
    "a receipt that is not hex": _record(receipt={"raw": "zz"}),
    "no height": _record(height=...),
    "a height that is text": _record(height="three"),
    "a height that is null": _record(height=None),
    "a height that is an array": _record(height=[3]),
    "a height that is a fraction": _record(height=3.5),
    "no index": _record(index=...),
    "an index that is a text": _record(index="0"),
    "a status that is not committed": _record(status="pending"),
}


def test_send_takes_a_committed_record() -> None:
    result = _client(200, _record()).send(TX)
    assert result.committed and result.ok and result.height == 3 and result.index == 0


@pytest.mark.parametrize("answer", list(SEND))
def test_a_malformed_answer_to_send_is_a_client_error(answer: str) -> None:
    _refused(lambda c: c.send(TX), 200, SEND[answer])


def test_a_pending_answer_to_send_is_a_timeout_and_a_malformed_one_a_client_error() -> None:
    from tianfu.client.errors import TxTimeout

    with pytest.raises(TxTimeout):
        _client(202, _json({"hash": HASH, "status": "pending"})).send(TX)
    _refused(lambda c: c.send(TX), 202, b"<html>")


QUERY = COMMON | {
    "no result": _json({}),
    "a raw result that is a number": _json({"result": 1, "raw": 5}),
    "a raw result that is not hex": _json({"result": 1, "raw": "zz"}),
    "a raw result that is not a value": _json({"result": 1, "raw": "c1"}),
}


def test_query_takes_the_raw_result() -> None:
    assert _client(200, _json({"result": 3, "raw": encode(3).hex()})).query("kv", "get") == 3


@pytest.mark.parametrize("answer", list(QUERY))
def test_a_malformed_answer_to_query_is_a_client_error(answer: str) -> None:
    _refused(lambda c: c.query("kv", "get", "k"), 200, QUERY[answer])


def _tx_record(**fields: Any) -> bytes:
    """`GET /v1/txs/{hash}`'s record, with `fields` changed (`...`: left out)."""
    doc = {"hash": HASH, "height": 3, "index": 0, "tx": {"raw": encode(TX).hex()},
           "receipt": {"raw": RECEIPT}} | fields  # fmt: skip
    return _json({k: v for k, v in doc.items() if v is not ...})


def test_get_tx_takes_the_record_and_refuses_a_malformed_one() -> None:
    assert _client(200, _tx_record()).get_tx(HASH).height == 3
    for bad in (_tx_record(height=...), _tx_record(height="3"), _tx_record(index=None)):
        _refused(lambda c: c.get_tx(HASH), 200, bad)
