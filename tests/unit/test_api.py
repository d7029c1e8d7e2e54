"""Unit tests: the REST API over the real in-process chain (routes, encodings, error statuses,
events): `NodeService` answers every request."""

import time

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.codec import decode, encode
from tianfu.proofs.documents import verify_document
from tianfu.proofs.formats import ProofBundle
from tianfu.types import (
    Block,
    BlockHeader,
    CommitCertificate,
    Genesis,
    Receipt,
    Transaction,
)


def make_tx(chain, contract="kv", method="put", args=None, nonce=None, expiry=None):
    """A signed call (by default `kv.put("k", 1)`) by `chain`'s user on a `KvChain`."""
    args = ["k", 1] if args is None else args
    return chain.tx(method, *args, contract=contract, nonce=nonce, expiry=expiry)


@pytest.fixture
def chain(tmp_path):
    kv = KvChain(tmp_path)
    yield kv
    kv.close()


@pytest.fixture
def api(chain):
    with TestClient(create_app(chain.service)) as client:
        yield client


def post_raw(api, data, **params):
    return api.post(
        "/v1/txs", content=data, params=params, headers={"content-type": "application/octet-stream"}
    )


def test_status_genesis_and_consortium_routes(api, chain):
    st = api.get("/v1/status").json()
    assert st["chain_id"] == "tianfu-apptest" and st["height"] == chain.height > 0
    g = api.get("/v1/genesis").json()
    assert decode(bytes.fromhex(g["raw"]), Genesis) == chain.genesis
    assert g["hash"] == chain.genesis.hash.hex()
    assert g["genesis"]["chain_id"] == "tianfu-apptest"
    vals = api.get("/v1/validators").json()["validators"]
    assert [v["public_key"] for v in vals] == [v.public_key.hex() for v in chain.genesis.validators]
    orgs = api.get("/v1/orgs").json()["orgs"]
    assert [o["name"] for o in orgs] == ["org1", "org2", "org3", "org4"]
    assert "kv" in {c["name"] for c in api.get("/v1/contracts").json()["contracts"]}
    m = api.get("/metrics")
    assert m.status_code == 200
    assert m.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert f"tianfu_height {float(chain.height)}" in m.text
    assert api.get("/openapi.json").json()["paths"]["/v1/txs"]["post"]
    assert api.get("/docs").status_code == 200


def test_submit_wait_commit_and_read_back(api, chain):
    tx = make_tx(chain, args=["greeting", {"b": b"\x01\x02", "n": 5}])
    r = post_raw(api, encode(tx), wait="commit")
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "committed" and doc["height"] == chain.height and doc["index"] == 0
    assert doc["hash"] == tx.hash.hex()
    assert decode(bytes.fromhex(doc["receipt"]["raw"]), Receipt).ok
    assert doc["receipt"]["events"][0] == {
        "contract": "kv",
        "name": "put",
        "data": {"key": "greeting"},
    }

    got = api.get(f"/v1/txs/{tx.hash.hex()}").json()
    assert decode(bytes.fromhex(got["tx"]["raw"]), Transaction) == tx
    assert got["tx"]["args"] == ["greeting", {"b": "0102", "n": 5}]  # bytes shown as hex

    st = api.get("/v1/state/kv/greeting", params={"prove": "true"}).json()
    assert st["value"] == {"b": "0102", "n": 5}
    assert bytes.fromhex(st["value_raw"]) == encode({"b": b"\x01\x02", "n": 5})
    assert st["proof"] and st["certificate"]["raw"]
    header = decode(bytes.fromhex(st["header"]["raw"]), BlockHeader)
    assert header.height == chain.height and st["header"]["hash"] == header.hash.hex()
    no_proof = api.get("/v1/state/kv/greeting").json()
    assert no_proof["proof"] is None
    missing = api.get("/v1/state/kv/nothing/with/slashes", params={"prove": "1"}).json()
    assert (
        missing["value"] is None
        and missing["value_raw"] is None
        and missing["key"] == "nothing/with/slashes"
    )

    # The transaction proof is a self-contained document: transaction and receipt, both
    # Merkle paths, the certified header and the validator chain (tianfu.proofs).
    proof = api.get(f"/v1/txs/{tx.hash.hex()}/proof").json()
    assert proof["kind"] == "tx" and proof["index"] == 0 and proof["tx"]["hash"] == tx.hash.hex()
    assert proof["receipt"]["ok"] is True and proof["height"] == doc["height"]
    bundle = decode(bytes.fromhex(proof["raw"]), ProofBundle)
    (block,) = bundle.blocks
    assert decode(block.txs[0].tx, Transaction) == tx and block.txs[0].tx_path == []
    assert decode(block.block.certificate, CommitCertificate).height == doc["height"]
    assert verify_document(proof, chain.genesis).kind == "tx"


def test_submit_json_body_pending_then_blocks(chain, api):
    chain.auto_commit = False
    tx = make_tx(chain)
    r = api.post("/v1/txs", json={"tx": encode(tx).hex()})
    assert r.status_code == 202
    assert r.json() == {"hash": tx.hash.hex(), "status": "pending"}
    waits: list[float] = []
    wait_committed = chain.service.wait_committed

    async def recorded(tx_hash, timeout_s):
        waits.append(timeout_s)
        return await wait_committed(tx_hash, timeout_s)

    chain.service.wait_committed = recorded
    tx2 = make_tx(chain)
    r = post_raw(api, encode(tx2), wait="commit", timeout="0.05")
    assert r.status_code == 202 and r.json()["status"] == "pending"
    assert waits == [0.05]  # the node waited as long as asked, not its default
    assert api.get(f"/v1/txs/{tx.hash.hex()}").status_code == 404
    chain.commit_pending()
    h = api.get(f"/v1/txs/{tx.hash.hex()}").json()["height"]
    assert h == chain.height

    for _ in range(3):
        chain.commit([make_tx(chain)])
    blk = api.get(f"/v1/blocks/{h}").json()
    assert blk["txs"] == [tx.hash.hex(), tx2.hash.hex()]
    assert decode(bytes.fromhex(blk["raw"]), Block).header.tx_count == 2
    assert blk["hash"] == blk["header"]["hash"]
    heights = [
        b["height"]
        for b in api.get("/v1/blocks", params={"from": h + 1, "limit": 2}).json()["blocks"]
    ]
    assert heights == [h + 1, h + 2]
    latest = [b["height"] for b in api.get("/v1/blocks", params={"limit": 2}).json()["blocks"]]
    assert latest == [h + 2, h + 3] and chain.height == h + 3
    commit = api.get(f"/v1/blocks/{h + 1}/commit").json()
    assert commit["certificate"]["block_hash"] == api.get(f"/v1/blocks/{h + 1}").json()["hash"]
    # One precommit per validator of the chain (AppChain has one).
    assert len(commit["certificate"]["signatures"]) == len(chain.genesis.validators) == 1


def test_block_list_limit_is_capped(api, chain):
    for n in range(105 - chain.height):
        chain.commit([make_tx(chain)] if n < 3 else [])
    assert chain.height >= 105
    r = api.get("/v1/blocks", params={"from": 1, "limit": 1000})
    assert r.status_code == 200 and len(r.json()["blocks"]) == 100


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"garbage", "invalid transaction"),
        (b"", "empty request body"),
    ],
)
def test_malformed_bodies_are_400(api, data, fragment):
    r = post_raw(api, data)
    assert r.status_code == 400 and fragment in r.json()["error"]


def test_truncated_and_trailing_bytes_are_400(api, chain):
    raw = encode(make_tx(chain))
    for bad in (raw[:-5], raw + b"\x00", raw[:1]):
        r = post_raw(api, bad)
        assert r.status_code == 400, bad
        assert r.json()["error"].startswith("invalid transaction")


def test_json_body_errors(api):
    assert api.post("/v1/txs", json={"tx": "zz"}).json()["error"] == "field tx is not valid hex"
    r = api.post("/v1/txs", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    r = api.post("/v1/txs", json={"nope": 1})
    assert r.status_code == 400 and "tx" in r.json()["error"]


def test_oversize_body_is_413(chain):
    chain.service.max_body_bytes = 300
    api = TestClient(create_app(chain.service))
    r = post_raw(api, b"\x00" * 301)
    assert r.status_code == 413 and "exceeds the limit of 300" in r.json()["error"]
    # No Content-Length (chunked): refused while streaming.
    chunks_sent = []

    def gen():
        for _ in range(100):
            chunks_sent.append(1)
            yield b"\x00" * 100

    r = api.post("/v1/txs", content=gen(), headers={"content-type": "application/octet-stream"})
    assert r.status_code == 413
    r = api.post("/v1/txs", json={"tx": "00" * 301})
    assert r.status_code == 413
    r = api.post(
        "/v1/txs",
        content=b"x",
        headers={"content-length": "abc", "content-type": "application/octet-stream"},
    )
    assert r.status_code == 400


def test_rejected_and_duplicate(api, chain):
    tx = make_tx(chain)
    forged = Transaction(tx.body, bytes(64))
    r = post_raw(api, encode(forged))
    assert r.status_code == 400 and "bad signature" in r.json()["error"]
    assert post_raw(api, encode(tx)).status_code == 202
    r = post_raw(api, encode(tx))
    assert r.status_code == 409 and "duplicate" in r.json()["error"]
    r = post_raw(api, encode(make_tx(chain)), wait="forever")
    assert r.status_code == 400 and "wait mode" in r.json()["error"]
    r = post_raw(api, encode(make_tx(chain)), timeout="-1")
    assert r.status_code == 400 and "timeout" in r.json()["error"]


def test_lookup_errors(api, chain):
    beyond = chain.height + 1
    assert api.get("/v1/txs/" + "ab" * 32).status_code == 404
    assert api.get("/v1/txs/" + "ab" * 32 + "/proof").status_code == 404
    r = api.get("/v1/txs/xyz")
    assert r.status_code == 400 and "malformed hash" in r.json()["error"]
    assert api.get("/v1/txs/abcd").status_code == 400
    assert api.get(f"/v1/blocks/{beyond}").status_code == 404
    assert api.get("/v1/blocks/0").status_code == 404
    assert api.get(f"/v1/blocks/{beyond}/commit").status_code == 404
    r = api.get("/v1/blocks/notanumber")
    assert r.status_code == 400 and "error" in r.json()
    assert api.get("/v1/state/kv/x", params={"height": str(beyond)}).status_code == 404
    assert api.get("/v1/state/kv/x", params={"height": "0"}).status_code == 400
    r = api.get("/v1/nothing-here")
    assert r.status_code == 404 and "error" in r.json()


def test_query(api, chain):
    chain.commit([make_tx(chain, args=["k", b"\xff"])])
    r = api.post("/v1/query", json={"contract": "kv", "method": "get", "args": ["k"]})
    assert r.status_code == 200
    assert r.json()["result"] == "ff" and bytes.fromhex(r.json()["raw"]) == encode(b"\xff")
    r = api.post("/v1/query", json={"contract": "kv", "method": "nope", "args": []})
    assert r.status_code == 404
    r = api.post("/v1/query", json={"contract": "kv", "method": "get", "args": [1, 2]})
    assert r.status_code == 400 and r.json()["error"].startswith("query failed")
    r = api.post("/v1/query", json={"contract": "kv", "method": "get", "args": [1.5]})
    assert r.status_code == 400 and "float" in r.json()["error"]
    r = api.post("/v1/query", json={"method": "get"})
    assert r.status_code == 400 and "contract" in r.json()["error"]
    r = api.post("/v1/query", content=b"[[[", headers={"content-type": "application/json"})
    assert r.status_code == 400


def _wait_subscribers(chain, n):
    deadline = time.monotonic() + 60
    while chain.subscriber_count < n:
        assert time.monotonic() < deadline, "websocket never subscribed"
        time.sleep(0.005)


@pytest.mark.timeout(120)
def test_websocket_events_are_filtered(api, chain):
    gov = chain.tx("propose_contract", "token", "x = 1", contract="governance", who=chain.admin)
    put = make_tx(chain, "kv", "put", ["a", 1])
    put2 = make_tx(chain, "kv", "put", ["b", 2])
    with (
        api.websocket_connect("/v1/events?contract=kv") as ws_kv,
        api.websocket_connect("/v1/events?name=ContractProposed") as ws_name,
        api.websocket_connect("/v1/events") as ws_all,
    ):
        _wait_subscribers(chain, 3)
        heights = [
            post_raw(api, encode(t), wait="commit").json()["height"] for t in (gov, put, put2)
        ]
        first, second = ws_kv.receive_json(), ws_kv.receive_json()
        assert [first["data"]["key"], second["data"]["key"]] == ["a", "b"]
        assert first == {
            "height": heights[1],
            "tx_index": 0,
            "tx_hash": put.hash.hex(),
            "contract": "kv",
            "name": "put",
            "data": {"key": "a"},
        }
        named = ws_name.receive_json()
        assert named["contract"] == "governance" and named["data"]["name"] == "token"
        everything = [ws_all.receive_json()["name"] for _ in range(3)]
        assert everything == ["ContractProposed", "put", "put"]
    deadline = time.monotonic() + 60
    while chain.subscriber_count:  # disconnecting clients unsubscribe
        assert time.monotonic() < deadline
        time.sleep(0.005)


@pytest.mark.timeout(120)
def test_event_streams_are_bounded(chain):
    """Each open stream costs the node a subscription and a send per event or block: past the
    stream limits a WebSocket handshake is answered 429, and a closed stream frees its slot."""
    app = create_app(chain.service, streams=2, streams_per_client=2)
    gate = app.state.stream_gate
    with TestClient(app) as api:
        with api.websocket_connect("/v1/events"), api.websocket_connect("/v1/events/blocks"):
            _wait_subscribers(chain, 1)
            assert gate.running == 2
            for path in ("/v1/events", "/v1/events/blocks?from=1"):
                with pytest.raises(WebSocketDenialResponse) as refused:
                    with api.websocket_connect(path):
                        pass
                assert refused.value.status_code == 429
                assert "event streams open" in refused.value.json()["error"]
            assert chain.subscriber_count == 1 and gate.refused == 2
        deadline = time.monotonic() + 60
        while gate.running or chain.subscriber_count:  # both streams gave their slot back
            assert time.monotonic() < deadline
            time.sleep(0.005)
        with api.websocket_connect("/v1/events?contract=kv") as ws:
            _wait_subscribers(chain, 1)
            chain.commit([make_tx(chain, args=["after", 1])])
            assert ws.receive_json()["data"] == {"key": "after"}
