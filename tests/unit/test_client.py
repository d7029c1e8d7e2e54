"""Unit tests: the SDK against the API of the real in-process chain (signing, receipts,
verified reads)."""

import pytest
from fastapi.testclient import TestClient
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.api.service import StateRead
from tianfu.client import (
    ApiError,
    Client,
    ClientError,
    ConnectionFailed,
    TxFailed,
    VerificationError,
)
from tianfu.codec import encode
from tianfu.crypto import verify_tx
from tianfu.types import Transaction


def alice(chain):
    return chain.app.identity("org1", "alice")


def connect(chain, who=None, **kw):
    http = TestClient(create_app(chain.service))
    return Client("http://testserver", who or alice(chain), http=http, **kw)


@pytest.fixture
def chain(tmp_path):
    kv = KvChain(tmp_path)
    yield kv
    kv.close()


def test_invoke_build_and_certificate_on_first_use(chain):
    me = alice(chain)
    c = connect(chain, genesis=chain.genesis)
    tx = c.build_tx("kv", "put", "a", 1, expiry_blocks=50)
    assert verify_tx(tx) and tx.body.expiry == chain.height + 50
    assert tx.body.chain_id == "tianfu-apptest"
    assert tx.body.cert == me.cert_der and tx.body.signer == me.keypair.public_key
    assert c.build_tx("kv", "put", "a", 1).body.nonce != tx.body.nonce
    with pytest.raises(TxFailed, match="failed on purpose") as info:
        c.invoke("kv", "fail", "failed on purpose")
    assert info.value.result.committed and not info.value.result.ok
    first = info.value.result.height
    failed = c.invoke("kv", "fail", "again", check=False)
    assert failed.error == "again" and failed.height == first + 1
    r = c.invoke("kv", "put", "k", {"b": b"\x00\xff", "n": -3})
    assert r.ok and r.committed and r.height == first + 2 and r.events[0].data == {"key": "k"}
    last = c.invoke("kv", "put", "k2", 2)
    # The certificate rides along until a transaction has committed successfully: the
    # transactions the chain stored say which carried it.
    hashes = [info.value.result.tx_hash, failed.tx_hash, r.tx_hash, last.tx_hash]
    carried = [bool(chain.service.get_tx(bytes.fromhex(h)).tx.body.cert) for h in hashes]
    assert carried == [True, True, True, False]
    assert c.query("kv", "get", "k") == {"b": b"\x00\xff", "n": -3}  # exact types from raw
    info_ = c.get_tx(r.tx_hash)
    assert info_.tx.body.args == ["k", {"b": b"\x00\xff", "n": -3}] and info_.receipt.ok
    assert [h.height for h in c.blocks(first, 10)] == [first, first + 1, first + 2, first + 3]
    assert c.block(first + 2).txs[0].hash.hex() == r.tx_hash
    with pytest.raises(ValueError, match="float"):
        c.build_tx("kv", "put", "x", 1.5)


def test_verified_reads_and_inclusion(chain):
    c = connect(chain, genesis=chain.genesis)
    r = c.invoke("kv", "put", "doc", [1, "two", b"3"])
    v = c.read_state("kv", "doc")
    assert v.value == [1, "two", b"3"] and v.present and v.height == r.height
    assert c.read_state("kv", "missing").present is False
    c.invoke("kv", "put", "doc", "new")
    assert c.read_state("kv", "doc", height=r.height).value == [1, "two", b"3"]
    assert c.read_state("kv", "doc").value == "new"
    assert c.read_state("kv", "doc", verify=False).value == "new"
    inc = c.verify_tx_inclusion(r.tx_hash)
    assert inc.height == r.height and inc.tx.hash.hex() == r.tx_hash


def test_trust_anchor_by_hash(chain, tmp_path):
    connect(chain).invoke("kv", "put", "a", 1)
    good = connect(chain, trust_genesis_hash=chain.genesis.hash.hex())
    assert good.read_state("kv", "a").value == 1
    bad = connect(chain, trust_genesis_hash=b"\x00" * 32)
    with pytest.raises(VerificationError, match="not the trusted"):
        bad.read_state("kv", "a")
    with pytest.raises(VerificationError, match="no trust anchor"):
        connect(chain).read_state("kv", "a")
    other = KvChain(tmp_path / "other")  # same chain id, other validators
    try:
        with pytest.raises(VerificationError):
            connect(chain, genesis=other.genesis).read_state("kv", "a")
    finally:
        other.close()


def test_lying_node_is_caught(chain, monkeypatch):
    """The node serves a different value for `kv/a` than the certified state holds."""
    honest = chain.service.read_state

    def lying(contract, key, height, prove):
        real = honest(contract, key, height, prove)
        return StateRead(
            real.contract,
            real.key,
            real.height,
            999,
            encode(999),
            real.proof,
            real.header,
            real.certificate,
        )

    monkeypatch.setattr(chain.service, "read_state", lying)
    c = connect(chain, genesis=chain.genesis)
    c.invoke("kv", "put", "a", 1)
    with pytest.raises(VerificationError, match="state proof"):
        c.read_state("kv", "a")
    assert c.read_state("kv", "a", verify=False).value == 999  # unverified reads trust the node


def test_http_errors_and_connection_refused(chain):
    c = connect(chain)
    with pytest.raises(ApiError) as info:
        c.get_tx("ab" * 32)
    assert info.value.status == 404
    with pytest.raises(ApiError, match="malformed hash"):
        c.get_tx("zz")
    refused = Client("http://127.0.0.1:1", timeout=2)
    with pytest.raises(ConnectionFailed, match="cannot connect"):
        refused.status()
    with pytest.raises(ClientError, match="identity"):
        Client("http://testserver", http=TestClient(create_app(chain.service))).build_tx(
            "kv", "put", "a", 1
        )


def test_submit_many_per_transaction_results(chain):
    c = connect(chain, genesis=chain.genesis)
    txs = [c.build_tx("kv", "put", f"k{i}", i) for i in range(3)]
    failing = c.build_tx("kv", "fail", "nope")
    # A transaction's hash covers its body, not its signature: a forged copy of a pending
    # transaction is a duplicate (409), so the forgery signs nothing else in the batch.
    unsent = c.build_tx("kv", "put", "forged", 0)
    forged = Transaction(unsent.body, bytes([unsent.signature[0] ^ 1]) + unsent.signature[1:])
    out = c.submit_many([*txs, failing, txs[1], forged])
    assert [type(r).__name__ for r in out] == ["Result"] * 4 + ["ApiError"] * 2
    assert all(r.committed for r in out[:4])
    assert [r.tx_hash for r in out[:4]] == [t.hash.hex() for t in [*txs, failing]]
    assert [r.ok for r in out[:4]] == [True, True, True, False] and out[3].error == "nope"
    assert out[0].height == out[3].height and [r.index for r in out[:4]] == [0, 1, 2, 3]
    assert out[4].status == 409 and "duplicate" in out[4].message
    assert out[5].status == 400 and out[5].message == "transaction rejected: bad signature"
    assert c.query("kv", "get", "k2") == 2
    assert c.submit_many([]) == []


def test_submit_many_pending_and_chunked(chain, monkeypatch):
    import tianfu.client.client as client_mod

    chain.auto_commit = False
    c = connect(chain, genesis=chain.genesis, timeout=0.05)
    monkeypatch.setattr(client_mod, "BATCH_MAX_TXS", 2)
    txs = [c.build_tx("kv", "put", f"p{i}", i) for i in range(5)]
    out = c.submit_many(txs, wait=False)
    assert [(r.tx_hash, r.committed) for r in out] == [(t.hash.hex(), False) for t in txs]
    pool = chain.service.mempool  # three requests of at most 2, all admitted
    assert len(pool) == 5 and all(t.hash in pool for t in txs)
    more = c.submit_many([c.build_tx("kv", "put", "late", 1)])  # waits 0.05 s: pending
    assert not more[0].committed


def test_submit_many_against_a_node_service(tmp_path):
    from tianfu.contracts.examples import example_source
    from tianfu.testing.appchain import AppChain

    app = AppChain(tmp_path)
    try:
        app.deploy("kv", example_source("kv"))
        c = app.client(app.identity("org1", "bob"))
        txs = [c.build_tx("kv", "put", f"b{i}", i) for i in range(3)]
        out = c.submit_many([*txs, txs[0]])
        assert [r.committed and r.ok for r in out[:3]] == [True, True, True]
        assert isinstance(out[3], ApiError) and out[3].status == 409
        assert app.query("kv", "get", "b2") == 2
    finally:
        app.close()


def test_a_read_refused_as_busy_is_retried_and_a_write_is_not() -> None:
    """429 with Retry-After (the node's query limits): reads are tried again within the
    client's budget; a submission is never repeated by the client."""
    import httpx

    from tianfu.client import ApiError, Client

    seen: list[str] = []
    busy = {"left": 2}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if busy["left"] > 0:
            busy["left"] -= 1
            return httpx.Response(429, json={"error": "busy"}, headers={"retry-after": "0"})
        return httpx.Response(200, json={"height": 7})

    http = httpx.Client(base_url="http://node", transport=httpx.MockTransport(handler))
    client = Client("http://node", http=http)
    assert client.status()["height"] == 7
    assert seen == ["GET /v1/status"] * 3
    seen.clear()
    busy["left"] = 1
    with pytest.raises(ApiError) as refused:
        client._request("POST", "/v1/txs", content=b"x")
    assert refused.value.status == 429 and seen == ["POST /v1/txs"]
    # A private-data read is a read: refused before its nonce is looked at, sent again.
    seen.clear()
    busy["left"] = 1
    assert client._request("POST", "/v1/private/read", content=b"x").status_code == 200
    assert seen == ["POST /v1/private/read"] * 2
    # Past its budget the client gives up and reports the 429.
    busy["left"] = 10**6
    client.busy_retry_s = 0.0
    with pytest.raises(ApiError) as gave_up:
        client.status()
    assert gave_up.value.status == 429


def test_a_read_on_a_connection_the_node_closed_is_sent_again_and_a_write_is_not() -> None:
    """A kept-alive connection the node closes (idle past its keep-alive timeout) just as a
    request goes out on it ends with no answer ("Server disconnected without sending a
    response"): a read is sent again, once, on a new connection; a submission is not."""
    import httpx

    from tianfu.client import Client, ConnectionFailed

    seen: list[str] = []
    closed = {"left": 1}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if closed["left"] > 0:
            closed["left"] -= 1
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"height": 7, "result": 1})

    http = httpx.Client(base_url="http://node", transport=httpx.MockTransport(handler))
    client = Client("http://node", http=http)
    assert client.status()["height"] == 7
    assert seen == ["GET /v1/status"] * 2
    seen.clear()
    closed["left"] = 1
    assert client._request("POST", "/v1/query", json={}).status_code == 200
    assert seen == ["POST /v1/query"] * 2
    # Twice in a row is not the race: reported.
    seen.clear()
    closed["left"] = 2
    with pytest.raises(ConnectionFailed):
        client.status()
    assert seen == ["GET /v1/status"] * 2
    # A submission is never repeated by the client.
    seen.clear()
    closed["left"] = 1
    with pytest.raises(ConnectionFailed):
        client._request("POST", "/v1/txs", content=b"x")
    assert seen == ["POST /v1/txs"]
