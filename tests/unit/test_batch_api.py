"""Unit tests: `POST /v1/txs/batch` — per-transaction answers in order (committed, pending,
refused exactly as the single route refuses), whole-batch refusals that admit nothing,
the lean and FastAPI bindings answering alike, and the OpenAPI entry."""

from __future__ import annotations

import msgspec
import pytest
from fastapi.testclient import TestClient
from test_api import make_tx, post_raw
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.api.batch import MAX_BATCH_TXS
from tianfu.codec import encode
from tianfu.types import Transaction

BATCH = "/v1/txs/batch"


def counting_chain(directory, **kw) -> KvChain:
    """A `KvChain` whose service counts its `submit_many` calls (`chain.batches`) and
    remembers its height before the test (`chain.start`)."""
    chain = KvChain(directory, **kw)
    chain.batches = 0
    chain.start = chain.height
    real = chain.service.submit_many

    async def counted(txs):
        chain.batches += 1
        return await real(txs)

    chain.service.submit_many = counted
    return chain


@pytest.fixture
def chain(tmp_path):
    kv = counting_chain(tmp_path)
    yield kv
    kv.close()


@pytest.fixture
def api(chain):
    return TestClient(create_app(chain.service))


def post_batch(api, txs_or_raw, ctype="application/octet-stream", **params):
    body = txs_or_raw if isinstance(txs_or_raw, bytes) else encode([encode(t) for t in txs_or_raw])
    return api.post(BATCH, content=body, params=params, headers={"content-type": ctype})


def bad_signature(tx: Transaction) -> Transaction:
    sig = bytes([tx.signature[0] ^ 1]) + tx.signature[1:]
    return Transaction(tx.body, sig)


def test_batch_commits_every_transaction_in_order(api, chain):
    txs = [make_tx(chain, args=[f"k{i}", i]) for i in range(1, 6)]
    r = post_batch(api, txs, wait="commit", timeout="5")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert (doc["committed"], doc["pending"], doc["rejected"]) == (5, 0, 0)
    assert [d["hash"] for d in doc["results"]] == [t.hash.hex() for t in txs]
    for tx, item in zip(txs, doc["results"], strict=True):
        assert item == api.get(f"/v1/txs/{tx.hash.hex()}").json()  # the single route's record
    # One call into the service, one block.
    assert chain.height == chain.start + 1 and chain.batches == 1


def test_mixed_batch_answers_each_as_the_single_route_would(api, chain):
    committed = make_tx(chain)
    assert post_raw(api, encode(committed), wait="commit").status_code == 200
    good, twice, forged, expired, other_chain = (
        make_tx(chain),
        make_tx(chain),
        bad_signature(make_tx(chain)),
        chain.tx("put", "k", 1, expiry=0),
        chain.tx("put", "k", 1, chain_id="elsewhere"),
    )
    batch = [good, committed, twice, forged, twice, expired, other_chain]
    next_height = chain.height + 1
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
    # Every refusal is exactly what POST /v1/txs answers for that transaction now, but for
    # those whose answer names the chain's moment: the second copy of `twice` was pending
    # in its batch (committed now), and the expired one names the next height then.
    assert res[4]["error"] == "duplicate transaction: transaction is already pending"
    assert res[5]["error"] == (
        f"transaction rejected: transaction expired at height 0 (next block is {next_height})"
    )
    for i in (1, 3, 6):
        single = post_raw(api, encode(batch[i]))
        assert (res[i]["code"], res[i]["error"]) == (single.status_code, single.json()["error"])
    assert res[1]["code"] == res[4]["code"] == 409 and res[5]["code"] == 400
    assert res[3] == {
        "hash": forged.hash.hex(),
        "status": "rejected",
        "code": 400,
        "error": "transaction rejected: bad signature",
    }
    assert "expired" in res[5]["error"] and "elsewhere" in res[6]["error"]


def test_without_wait_or_in_time_the_admitted_are_pending(chain, api):
    chain.auto_commit = False
    a, b = make_tx(chain), make_tx(chain)
    r = post_batch(api, [a, b])
    assert r.status_code == 200
    assert r.json()["results"] == [
        {"hash": a.hash.hex(), "status": "pending"},
        {"hash": b.hash.hex(), "status": "pending"},
    ]
    c = make_tx(chain)
    waited = post_batch(api, [c], wait="commit", timeout="0.05").json()
    assert waited["results"] == [{"hash": c.hash.hex(), "status": "pending"}]
    assert waited["pending"] == 1
    pool = chain.service.mempool
    assert len(pool) == 3 and all(t.hash in pool for t in (a, b, c))


def test_empty_batch_is_answered_with_no_results(api, chain):
    r = post_batch(api, [], wait="commit")
    assert r.status_code == 200
    assert r.json() == {"results": [], "committed": 0, "pending": 0, "rejected": 0}
    assert chain.height == chain.start


def _assert_nothing_admitted(api, chain, txs):
    assert chain.height == chain.start and len(chain.service.mempool) == 0
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
    good = [make_tx(chain) for _ in range(3)]
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
    txs = [make_tx(chain) for _ in range(2)]
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


def test_lean_and_fastapi_bindings_answer_alike(tmp_path):
    def run(ctype: str, lean: bool) -> tuple[int, object]:
        """The answer to a batch of (a put, the same put again, a forged put) on a fresh
        chain. Each chain has its own keys, so what names a transaction differs between
        runs: a committed item is checked against the single route's record and replaced
        by a marker, and each hash by the transaction's place in the batch."""
        chain = KvChain(tmp_path / f"{ctype}-{lean}")
        try:
            api = TestClient(create_app(chain.service, lean_submit=lean))
            put = make_tx(chain)
            txs = [put, put, bad_signature(make_tx(chain))]
            r = post_batch(api, txs, ctype=ctype, wait="commit")
            doc = r.json()
            places = {t.hash.hex(): i for i, t in enumerate(txs)}
            for i, item in enumerate(doc["results"]):
                if item["status"] == "committed":
                    assert item == api.get(f"/v1/txs/{item['hash']}").json()
                    doc["results"][i] = {"status": "committed", "record": "as GET /v1/txs"}
                else:
                    item["hash"] = places[item["hash"]]
            return r.status_code, doc
        finally:
            chain.close()

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
