"""Unit tests: `POST /v1/txs/batch` — per-transaction answers in order (committed, pending,
refused exactly as the single route refuses), whole-batch refusals that admit nothing,
the lean and FastAPI bindings answering alike, and the OpenAPI entry."""

from __future__ import annotations

import msgspec
import pytest
from fastapi.testclient import TestClient
from test_api import make_tx, post_raw

from tianfu.api.app import create_app
from tianfu.api.batch import MAX_BATCH_TXS
from tianfu.codec import encode
from tianfu.testing.memorychain import MemoryChain
from tianfu.types import Transaction

BATCH = "/v1/txs/batch"


class CountingChain(MemoryChain):
    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.batches = 0

    async def submit_many(self, txs):
        self.batches += 1
        return await super().submit_many(txs)


@pytest.fixture
def chain():
    return CountingChain()


@pytest.fixture
def api(chain):
    return TestClient(create_app(chain))


def post_batch(api, txs_or_raw, ctype="application/octet-stream", **params):
    body = txs_or_raw if isinstance(txs_or_raw, bytes) else encode([encode(t) for t in txs_or_raw])
    return api.post(BATCH, content=body, params=params, headers={"content-type": ctype})


def bad_signature(tx: Transaction) -> Transaction:
    sig = bytes([tx.signature[0] ^ 1]) + tx.signature[1:]
    return Transaction(tx.body, sig)


def test_batch_commits_every_transaction_in_order(api, chain):
    txs = [make_tx(chain, args=[f"k{i}", i], nonce=i) for i in range(1, 6)]
    r = post_batch(api, txs, wait="commit", timeout="5")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert (doc["committed"], doc["pending"], doc["rejected"]) == (5, 0, 0)
    assert [d["hash"] for d in doc["results"]] == [t.hash.hex() for t in txs]
    for tx, item in zip(txs, doc["results"], strict=True):
        assert item == api.get(f"/v1/txs/{tx.hash.hex()}").json()  # the single route's record
    assert chain.height == 1 and chain.batches == 1  # one call into the service, one block


def test_mixed_batch_answers_each_as_the_single_route_would(api, chain):
    committed = make_tx(chain, nonce=1)
    assert post_raw(api, encode(committed), wait="commit").status_code == 200
    good, twice, forged, expired, other_chain = (
        make_tx(chain, nonce=2),
        make_tx(chain, nonce=3),
        bad_signature(make_tx(chain, nonce=4)),
        make_tx(chain, nonce=5, expiry=0),
        make_tx(MemoryChain("elsewhere"), nonce=6),
    )
    batch = [good, committed, twice, forged, twice, expired, other_chain]
    r = post_batch(api, batch, wait="commit", timeout="5")
    assert r.status_code == 200
    doc = r.json()
    res = doc["results"]
    assert [x["status"] for x in res] == [
        "committed",
        "rejected",
        "committed",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert [x["hash"] for x in res] == [t.hash.hex() for t in batch]
    assert (doc["committed"], doc["pending"], doc["rejected"]) == (2, 0, 5)
    # Every refusal is exactly what POST /v1/txs answers for that transaction now.
    for tx, item in zip(batch, res, strict=True):
        if item["status"] == "rejected":
            single = post_raw(api, encode(tx))
            assert (item["code"], item["error"]) == (single.status_code, single.json()["error"])
    assert res[1]["code"] == 409 and res[4]["code"] == 409  # replay; twice in one batch
    assert res[3] == {
        "hash": forged.hash.hex(),
        "status": "rejected",
        "code": 400,
        "error": "transaction rejected: invalid signature",
    }
    assert "expired" in res[5]["error"] and "elsewhere" in res[6]["error"]


def test_without_wait_or_in_time_the_admitted_are_pending():
    chain = MemoryChain(auto_commit=False)
    api = TestClient(create_app(chain))
    a, b = make_tx(chain, nonce=1), make_tx(chain, nonce=2)
    r = post_batch(api, [a, b])
    assert r.status_code == 200
    assert r.json()["results"] == [
        {"hash": a.hash.hex(), "status": "pending"},
        {"hash": b.hash.hex(), "status": "pending"},
    ]
    c = make_tx(chain, nonce=3)
    waited = post_batch(api, [c], wait="commit", timeout="0.05").json()
    assert waited["results"] == [{"hash": c.hash.hex(), "status": "pending"}]
    assert waited["pending"] == 1
    assert set(chain.pending) == {a.hash, b.hash, c.hash}


def test_empty_batch_is_answered_with_no_results(api, chain):
    r = post_batch(api, [], wait="commit")
    assert r.status_code == 200
    assert r.json() == {"results": [], "committed": 0, "pending": 0, "rejected": 0}
    assert chain.height == 0


def _assert_nothing_admitted(api, chain, txs):
    assert chain.height == 0 and not chain.pending
    for tx in txs:
        assert api.get(f"/v1/txs/{tx.hash.hex()}").status_code == 404


def test_over_limit_batch_is_refused_whole(api, chain):
    tx = make_tx(chain)
    body = encode([encode(tx)] * (MAX_BATCH_TXS + 1))
    r = post_batch(api, body, wait="commit")
    assert r.status_code == 413
    assert r.json()["error"] == (
        f"batch of {MAX_BATCH_TXS + 1} transactions exceeds the limit of {MAX_BATCH_TXS}"
    )
    big = encode([b"\x00" * 1000] * 1100)  # more bytes than the body limit (1 MiB)
    assert post_batch(api, big).status_code == 413
    _assert_nothing_admitted(api, chain, [tx])
    assert chain.batches == 0


def test_malformed_batches_are_refused_whole(api, chain):
    good = [make_tx(chain, nonce=i) for i in range(1, 4)]
    raws = [encode(t) for t in good]
    cases = {
        "empty body": b"",
        "not an array": encode({"txs": raws}),
        "not msgpack": b"\xc1\xc1",
        "trailing bytes": encode(raws) + b"\x00",
        "array of ints": encode([1, 2]),
        "undecodable tx at index 2": encode([raws[0], raws[1], b"\x93\x01\x02"]),
        "empty tx": encode([raws[0], b""]),
        "non-canonical array": b"\xdc\x00\x03" + encode(raws)[1:],  # array16 for 3 items
    }
    for name, body in cases.items():
        r = post_batch(api, body, wait="commit")
        assert r.status_code == 400, name
        assert r.json()["error"], name
    r = post_batch(api, encode([raws[0], raws[1], b"\x93\x01\x02"]))
    assert "index 2" in r.json()["error"]
    _assert_nothing_admitted(api, chain, good)
    assert chain.batches == 0
    bad_wait = post_batch(api, good, wait="soon")
    assert bad_wait.status_code == 400 and "wait mode" in bad_wait.json()["error"]
    assert post_batch(api, good, wait="commit", timeout="-1").status_code == 400
    _assert_nothing_admitted(api, chain, good)


def test_json_variant(api, chain):
    txs = [make_tx(chain, nonce=i) for i in range(1, 3)]
    r = api.post(BATCH, json={"txs": [encode(t).hex() for t in txs]}, params={"wait": "commit"})
    assert r.status_code == 200 and r.json()["committed"] == 2
    assert [x["hash"] for x in r.json()["results"]] == [t.hash.hex() for t in txs]
    for body in ({"txs": ["zz"]}, {"tx": encode(txs[0]).hex()}, {"txs": [1]}, [1]):
        r = api.post(BATCH, json=body)
        assert r.status_code == 400, body
    r = api.post(BATCH, content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "malformed JSON body"
    too_many = {"txs": [encode(txs[0]).hex()] * (MAX_BATCH_TXS + 1)}
    assert api.post(BATCH, json=too_many).status_code == 413


def test_lean_and_fastapi_bindings_answer_alike():
    def run(ctype: str, lean: bool) -> tuple[int, object]:
        chain = MemoryChain()
        api = TestClient(create_app(chain, lean_submit=lean))
        txs = [make_tx(chain, nonce=1), make_tx(chain, nonce=1), bad_signature(make_tx(chain))]
        r = post_batch(api, txs, ctype=ctype, wait="commit")
        return r.status_code, r.json()

    for ctype in ("application/octet-stream", "application/octet-stream; profile=tianfu"):
        lean, plain = run(ctype, True), run(ctype, False)
        assert lean == plain
        assert lean[0] == 200
        assert [x["status"] for x in lean[1]["results"]] == ["committed", "rejected", "rejected"]


def test_batch_route_is_documented(api):
    spec = api.get("/openapi.json").json()
    op = spec["paths"][BATCH]["post"]
    content = op["requestBody"]["content"]
    assert {"application/octet-stream", "application/json"} <= content.keys()
    assert {p["name"] for p in op["parameters"]} == {"wait", "timeout"}
    assert str(MAX_BATCH_TXS) in op["requestBody"]["description"]


def test_batch_body_is_a_plain_msgpack_array_of_bytes(chain):
    tx = make_tx(chain)
    body = encode([encode(tx)])
    assert msgspec.msgpack.decode(body) == [encode(tx)]
