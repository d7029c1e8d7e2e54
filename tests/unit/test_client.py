"""Unit tests: the SDK against the API over an in-memory chain (signing, receipts, verified reads)."""

import pytest
from fastapi.testclient import TestClient

from tianfu.api.app import create_app
from tianfu.api.service import StateRead
from tianfu.client import (
    ApiError,
    Client,
    ConnectionFailed,
    TxFailed,
    VerificationError,
)
from tianfu.codec import encode
from tianfu.crypto import verify_tx
from tianfu.identity import OrgCA
from tianfu.testing.memorychain import MemoryChain
from tianfu.types import Transaction

ALICE = OrgCA.create("org1").issue("alice", "member")


def connect(chain, **kw):
    return Client("http://testserver", ALICE, http=TestClient(create_app(chain)), **kw)


@pytest.fixture
def chain():
    return MemoryChain()


def test_invoke_build_and_certificate_on_first_use(chain):
    c = connect(chain, genesis=chain.genesis_obj)
    tx = c.build_tx("kv", "put", "a", 1, expiry_blocks=50)
    assert verify_tx(tx) and tx.body.expiry == 50 and tx.body.chain_id == "memory"
    assert tx.body.cert == ALICE.cert_der and tx.body.signer == ALICE.keypair.public_key
    assert c.build_tx("kv", "put", "a", 1).body.nonce != tx.body.nonce
    with pytest.raises(TxFailed, match="failed on purpose") as info:
        c.invoke("kv", "fail", "failed on purpose")
    assert info.value.result.committed and not info.value.result.ok
    failed = c.invoke("kv", "fail", "again", check=False)
    assert failed.error == "again" and failed.height == 2
    r = c.invoke("kv", "put", "k", {"b": b"\x00\xff", "n": -3})
    assert r.ok and r.committed and r.height == 3 and r.events[0].data == {"key": "k"}
    c.invoke("kv", "put", "k2", 2)
    # The certificate rides along until a transaction has committed successfully.
    assert chain.certs_seen == [True, True, True, False]
    assert c.query("kv", "get", "k") == {"b": b"\x00\xff", "n": -3}  # exact types from raw
    info_ = c.get_tx(r.tx_hash)
    assert info_.tx.body.args == ["k", {"b": b"\x00\xff", "n": -3}] and info_.receipt.ok
    assert [h.height for h in c.blocks(1, 10)] == [1, 2, 3, 4]
    assert c.block(3).txs[0].hash.hex() == r.tx_hash
    with pytest.raises(ValueError, match="float"):
        c.build_tx("kv", "put", "x", 1.5)


def test_verified_reads_and_inclusion(chain):
    c = connect(chain, genesis=chain.genesis_obj)
    r = c.invoke("kv", "put", "doc", [1, "two", b"3"])
    v = c.read_state("kv", "doc")
    assert v.value == [1, "two", b"3"] and v.present and v.height == 1
    assert c.read_state("kv", "missing").present is False
    c.invoke("kv", "put", "doc", "new")
    assert c.read_state("kv", "doc", height=1).value == [1, "two", b"3"]
    assert c.read_state("kv", "doc").value == "new"
    assert c.read_state("kv", "doc", verify=False).value == "new"
    inc = c.verify_tx_inclusion(r.tx_hash)
    assert inc.height == 1 and inc.tx.hash.hex() == r.tx_hash


def test_trust_anchor_by_hash(chain):
    connect(chain).invoke("kv", "put", "a", 1)
    good = connect(chain, trust_genesis_hash=chain.genesis_obj.hash.hex())
    assert good.read_state("kv", "a").value == 1
    bad = connect(chain, trust_genesis_hash=b"\x00" * 32)
    with pytest.raises(VerificationError, match="not the trusted"):
        bad.read_state("kv", "a")
    with pytest.raises(VerificationError, match="no trust anchor"):
        connect(chain).read_state("kv", "a")
    other = MemoryChain()  # same chain id, other validators
    with pytest.raises(VerificationError):
        connect(chain, genesis=other.genesis_obj).read_state("kv", "a")


class LyingChain(MemoryChain):
    """Serves a different value for `kv/a` than the certified state holds."""

    def read_state(self, contract, key, height, prove):
        real = super().read_state(contract, key, height, prove)
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


def test_lying_node_is_caught():
    chain = LyingChain()
    c = connect(chain, genesis=chain.genesis_obj)
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
    with pytest.raises(Exception, match="identity"):
        Client("http://testserver", http=TestClient(create_app(chain))).build_tx(
            "kv", "put", "a", 1
        )


def test_submit_many_per_transaction_results(chain):
    c = connect(chain, genesis=chain.genesis_obj)
    txs = [c.build_tx("kv", "put", f"k{i}", i) for i in range(3)]
    failing = c.build_tx("kv", "fail", "nope")
    forged = Transaction(txs[0].body, bytes([txs[0].signature[0] ^ 1]) + txs[0].signature[1:])
    out = c.submit_many([*txs, failing, txs[1], forged])
    assert [type(r).__name__ for r in out] == ["Result"] * 4 + ["ApiError"] * 2
    assert all(r.committed for r in out[:4])
    assert [r.tx_hash for r in out[:4]] == [t.hash.hex() for t in [*txs, failing]]
    assert [r.ok for r in out[:4]] == [True, True, True, False] and out[3].error == "nope"
    assert out[0].height == out[3].height and [r.index for r in out[:4]] == [0, 1, 2, 3]
    assert out[4].status == 409 and "duplicate" in out[4].message
    assert out[5].status == 400 and out[5].message == "transaction rejected: invalid signature"
    assert c.query("kv", "get", "k2") == 2
    assert c.submit_many([]) == []


def test_submit_many_pending_and_chunked(monkeypatch):
    import tianfu.client.client as client_mod

    chain = MemoryChain(auto_commit=False)
    c = connect(chain, genesis=chain.genesis_obj, timeout=0.05)
    monkeypatch.setattr(client_mod, "BATCH_MAX_TXS", 2)
    txs = [c.build_tx("kv", "put", f"p{i}", i) for i in range(5)]
    out = c.submit_many(txs, wait=False)
    assert [(r.tx_hash, r.committed) for r in out] == [(t.hash.hex(), False) for t in txs]
    assert set(chain.pending) == {t.hash for t in txs}  # three requests of at most 2
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
