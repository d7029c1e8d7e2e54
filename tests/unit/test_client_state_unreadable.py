"""The SDK waits out a short outage of the node's state (503 with `Retry-After`): a read
(a GET, `/v1/query`) is sent again as after a 429; a single submission only when the node
says it did not keep it (code `state_unreadable`: the same bytes are the same transaction,
which the chain runs at most once), and a batch's transactions refused 503 alone; a
private-data request is not repeated.
The node's submission 503 carries `Retry-After` as its query 503 does."""

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.client import ApiError, Client
from tianfu.store import StoreBusy

UNREADABLE = {"error": "transaction refused for now: ...", "code": "state_unreadable"}


def _client(outage: dict[str, int], seen: list[str], body: dict) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if outage["left"] > 0:
            outage["left"] -= 1
            return httpx.Response(503, json=body, headers={"retry-after": "0"})
        return httpx.Response(200, json={"height": 7, "hash": "ab", "result": 1})

    http = httpx.Client(base_url="http://node", transport=httpx.MockTransport(handler))
    return Client("http://node", http=http)


def test_reads_wait_out_a_503_within_the_budget() -> None:
    seen: list[str] = []
    outage = {"left": 2}
    client = _client(outage, seen, {"error": "the node cannot read its state now"})
    assert client.status()["height"] == 7
    assert seen == ["GET /v1/status"] * 3
    seen.clear()
    outage["left"] = 1
    assert client._request("POST", "/v1/query", json={}).status_code == 200
    assert seen == ["POST /v1/query"] * 2
    # Bounded: past its budget the client reports the 503.
    outage["left"] = 10**6
    client.busy_retry_s = 0.0
    with pytest.raises(ApiError) as gave_up:
        client.status()
    assert gave_up.value.status == 503


def test_a_submission_is_sent_again_only_when_the_node_did_not_keep_it() -> None:
    seen: list[str] = []
    outage = {"left": 1}
    client = _client(outage, seen, UNREADABLE)
    assert client._request("POST", "/v1/txs", content=b"x").status_code == 200
    assert seen == ["POST /v1/txs"] * 2
    # A batch (per-transaction answers) and a private-data request (its nonce may be
    # spent) are not repeated on a 503.
    for path in ("/v1/txs/batch", "/v1/private/read"):
        seen.clear()
        outage["left"] = 1
        with pytest.raises(ApiError) as refused:
            client._request("POST", path, content=b"x")
        assert refused.value.status == 503 and seen == [f"POST {path}"]
    # A 503 without the node's word that nothing was kept (a proxy's) is not repeated.
    seen.clear()
    outage["left"] = 1
    other = _client(outage, seen, {"error": "service unavailable"})
    with pytest.raises(ApiError):
        other._request("POST", "/v1/txs", content=b"x")
    assert seen == ["POST /v1/txs"]


def test_a_submission_met_by_a_short_store_outage_is_admitted_once(tmp_path) -> None:
    """End to end through the node's API: the store's reads fail twice; the SDK's submit
    waits them out (the node's 503 says Retry-After) and the transaction is admitted."""
    chain = KvChain(tmp_path, auto_commit=False)
    try:
        latest = chain.service.ledger.latest
        real = latest.get
        failures = {"left": 2}

        def get(key):
            if failures["left"] > 0:
                failures["left"] -= 1
                raise StoreBusy("/data/chain.db: read failed: database is locked")
            return real(key)

        tx = chain.tx("put", "k", 3, contract="kv")
        with TestClient(create_app(chain.service)) as api:
            latest.get = get
            try:
                r = api.post(
                    "/v1/txs",
                    content=tx.encoded(),
                    headers={"content-type": "application/octet-stream"},
                )
                assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
                client = Client("http://testserver", http=api)
                assert client.submit(tx) == tx.hash.hex()
            finally:
                latest.get = real
            assert failures["left"] == 0
        assert tx.hash in chain.service.mempool
    finally:
        chain.close()


def test_a_batchs_transactions_the_node_could_not_check_are_sent_again_alone(tmp_path) -> None:
    """A batch answers per transaction: those refused 503 (nothing kept) are sent again,
    alone, within the budget; the others are not sent twice."""
    chain = KvChain(tmp_path, auto_commit=False)
    try:
        latest = chain.service.ledger.latest
        real = latest.get
        failures = {"left": 1}

        def get(key):
            if failures["left"] > 0:
                failures["left"] -= 1
                raise StoreBusy("/data/chain.db: read failed: database is locked")
            return real(key)

        txs = [chain.tx("put", f"k{i}", i, contract="kv") for i in range(2)]
        with TestClient(create_app(chain.service)) as api:
            sent: list[int] = []
            submit_many = chain.service.submit_many

            async def counted(batch):
                sent.append(len(batch))
                return await submit_many(batch)

            chain.service.submit_many = counted
            latest.get = get
            try:
                client = Client("http://testserver", http=api)
                out = client.submit_many(txs, wait=False)
            finally:
                latest.get = real
        assert [getattr(r, "tx_hash", r) for r in out] == [tx.hash.hex() for tx in txs]
        assert sent == [2, 1]  # the first refused 503, sent again alone
        assert all(tx.hash in chain.service.mempool for tx in txs)
    finally:
        chain.close()


def test_an_answer_nested_past_the_parsers_stack_is_a_client_error() -> None:
    """A hostile node's answer of JSON nested 100,000 deep raised `RecursionError` out of
    every SDK read (`status`, `block`, ...): a typed `ClientError` now, as for an answer
    that is not JSON at all."""
    from tianfu.client.errors import ClientError

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000)

    http = httpx.Client(base_url="http://node", transport=httpx.MockTransport(handler))
    with pytest.raises(ClientError, match="non-JSON"):
        Client("http://node", http=http).status()
