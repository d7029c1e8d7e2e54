"""Unit tests: the proof routes over the real in-process chain — committed-transaction entries and
absence proofs, key histories with deletions, per-block event batches, hostile documents,
and the ledger's refusal of a store in another state format."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.client import Client, VerificationError
from tianfu.client.verify import verify_block_events
from tianfu.codec import encode
from tianfu.ledger import InvalidBlock, Ledger
from tianfu.proofs.documents import load_document, verify_document
from tianfu.state.keys import committed_tx_key
from tianfu.store import Store


@pytest.fixture
def env(tmp_path):
    chain = KvChain(tmp_path)
    http = TestClient(create_app(chain.service))
    client = Client("http://testserver", genesis=chain.genesis, http=http)

    def send(method, *args):
        tx = chain.tx(method, *args)
        r = http.post("/v1/txs", content=encode(tx), params={"wait": "commit"})
        assert r.status_code == 200, r.text
        return tx, r.json()

    yield chain, http, client, send
    http.close()
    chain.close()


def test_every_committed_transaction_is_in_the_state(env):
    chain, _, _, send = env
    tx1, r1 = send("put", "a", 1)
    tx2, r2 = send("fail", "boom")  # a failed transaction is committed all the same
    assert not r2["receipt"]["ok"]
    for tx, r in ((tx1, r1), (tx2, r2)):
        tree = chain.app.ledger.state
        leaf = tree.entry(committed_tx_key(tx.hash), chain.height)
        assert leaf.height == r["height"] and leaf.prev is None and leaf.value == encode(0)
        assert tree.entry(committed_tx_key(tx.hash), r["height"] - 1) is None


def test_absence_proofs(env):
    chain, http, client, send = env
    send("put", "a", 1)
    tx, r = send("put", "b", 2)
    h = r["height"]
    before = client.prove_absence(tx.hash, h - 1).document
    assert before["committed"] is False and before["height"] == h - 1
    resp = http.get(f"/v1/proofs/absence/{tx.hash.hex()}")
    assert resp.status_code == 409 and f"block {h}" in resp.json()["error"]
    assert http.get("/v1/proofs/absence/zz").status_code == 400
    assert http.get(f"/v1/proofs/absence/{'00' * 32}", params={"height": 99}).status_code == 404
    never = client.prove_absence(b"\x07" * 32).document
    assert never["tx_hash"] == "07" * 32 and never["height"] == chain.height
    # An absence document cannot be turned into one for a committed transaction.
    with pytest.raises(VerificationError):
        verify_document({**before, "height": h}, chain.genesis)


def test_history_with_deletions_and_limits(env):
    chain, http, client, send = env
    heights = [send("put", "k", v)[1]["height"] for v in (1, 2)]
    heights.append(send("delete", "k")[1]["height"])
    send("put", "other", 0)
    heights.append(send("put", "k", 3)[1]["height"])
    send("put", "k", 3)  # the same value again: no new version
    doc = client.prove_history("kv", "k").document
    assert [(v["height"], v["present"], v["value"]) for v in doc["versions"]] == [
        (heights[3], True, 3),
        (heights[2], False, None),
        (heights[1], True, 2),
        (heights[0], True, 1),
    ]
    assert doc["complete"] and doc["earlier_change"] is None and doc["height"] == chain.height
    part = client.prove_history("kv", "k", limit=2).document
    assert len(part["versions"]) == 2 and not part["complete"]
    assert part["earlier_change"] == heights[1]
    at = client.prove_history("kv", "k", height=heights[1]).document
    assert [v["height"] for v in at["versions"]] == [heights[1], heights[0]]
    none = client.prove_history("kv", "never").document
    assert none["versions"] == [] and none["complete"]
    # Leaving a version out breaks the chain of proven heights.
    from tianfu.codec import decode
    from tianfu.proofs.formats import ProofBundle

    bundle = decode(bytes.fromhex(doc["raw"]), ProofBundle)
    gap = ProofBundle(bundle.version, bundle.validators, [bundle.blocks[0], *bundle.blocks[2:]])
    with pytest.raises(VerificationError, match="wrong height"):
        verify_document({**doc, "raw": encode(gap).hex()}, chain.genesis)
    assert http.get("/v1/proofs/history/kv/k", params={"limit": 0}).status_code == 400
    assert http.get("/v1/proofs/history/Bad/k").status_code == 400
    assert http.get("/v1/proofs/state/x%01/k").status_code == 400
    r = http.post("/v1/proofs/state", json={"reads": [{"contract": "Kv", "key": "k"}]})
    assert r.status_code == 400
    assert http.get("/v1/proofs/state/kv/k", params={"mode": "other"}).status_code == 400


def test_block_events_are_proven_complete(env):
    chain, http, client, send = env
    send("put", "x", 1)
    _, r = send("put", "y", 2)
    h = r["height"]
    v = client.block_events(h)
    assert [(i, e.name, e.data) for i, e in v.events] == [(0, "put", {"key": "y"})]
    batch = http.get(f"/v1/blocks/{h}/events").json()
    light = client.light_client
    for bad in (
        {**batch, "events": []},
        {**batch, "events": [{**batch["events"][0], "tx_index": 1}]},
        {**batch, "receipts": []},
        {**batch, "height": h + 1},
        {**batch, "height": float(h)},  # a JSON number with a fraction is no height
        {**batch, "height": str(h)},
        {**batch, "header": http.get(f"/v1/blocks/{h - 1}/events").json()["header"]},
    ):
        with pytest.raises(VerificationError):
            verify_block_events(light, bad)
    filtered = http.get(f"/v1/blocks/{h}/events", params={"name": "other"}).json()
    assert (
        filtered["events"] == [] and verify_block_events(light, filtered, name="other").events == []
    )
    assert http.get("/v1/blocks/99/events").status_code == 404
    # The WebSocket sends the same batches, in height order, from any height.
    with http.websocket_connect("/v1/events/blocks?from=1&to=2") as ws:
        got = [ws.receive_json(), ws.receive_json()]
    assert [b["height"] for b in got] == [1, 2]
    assert verify_block_events(light, got[1]).height == 2


def test_hostile_documents_are_refused(env):
    chain, _, client, send = env
    send("put", "a", 1)
    doc = client.prove_state("kv", "a").document
    genesis = chain.genesis
    text = json.dumps(doc)
    for bad in (
        text.replace('"kind": "state"', '"kind": "state", "kind": "state"'),  # a duplicate key
        text.replace('"height": ', '"height": NaN, "x": '),
        "[]",
        "{",
        json.dumps({**doc, "raw": doc["raw"].upper()}),
        json.dumps({**doc, "raw": doc["raw"] + "00"}),
        json.dumps({**doc, "format": "tianfu-proof/v0"}),
        json.dumps({**doc, "kind": "absence"}),
    ):
        with pytest.raises(VerificationError):
            verify_document(bad, genesis)
    # the raw field is lowercase hex digit pairs and nothing else
    raw = doc["raw"]
    for bad_raw in (
        raw.upper(),
        raw[:-1],
        raw[:2] + " " + raw[2:],
        raw + " ",
        raw[:-2] + "0g",
        raw[:-2] + "٠١",  # Arabic-Indic digits
        None,
        12,
    ):
        with pytest.raises(VerificationError, match="raw field is not lowercase hex"):
            verify_document({**doc, "raw": bad_raw}, genesis)
    with pytest.raises(VerificationError, match="JSON"):
        load_document(b"\xff\xfe")
    verify_document(text, genesis)


def test_a_store_of_another_state_format_is_refused(tmp_path):
    chain = KvChain(tmp_path / "chain")
    genesis = chain.genesis
    chain.close()
    store = Store(tmp_path / "old.db")
    store.save_genesis(encode(genesis))  # as the previous format left it: no marker
    with pytest.raises(InvalidBlock, match="state tree is in format '1'"):
        Ledger(store, genesis)
    store.close()
    fresh = Ledger(Store(tmp_path / "new.db"), genesis)
    fresh.store.close()
    again = Ledger(Store(tmp_path / "new.db"), genesis)  # its own format: accepted
    again.store.close()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/v1/proofs/state/kv/" + "x" * 5000, None),
        ("get", "/v1/proofs/history/kv/" + "x" * 5000, None),
        # 1,024 four-byte characters: within the request's 1,024-character limit, but
        # "kv/" + its 4,096 bytes is beyond what a bundle may hold
        ("post", "/v1/proofs/state", {"reads": [{"contract": "kv", "key": "\U0001d11e" * 1024}]}),
    ],
)
def test_a_state_key_no_bundle_can_hold_is_refused_not_proven(env, method, path, body):
    """A proof is never served for a key beyond the format's 4,096 bytes: every verifier
    refuses such a bundle, so the node answers 400 instead of an unverifiable document."""
    _, http, _, _ = env
    r = http.get(path) if method == "get" else http.post(path, json=body)
    assert r.status_code == 400, r.text
    assert "at most 4096 bytes" in r.json()["error"]


def test_a_state_key_of_the_largest_size_is_proven(env):
    chain, http, _, _ = env
    key = "x" * (4096 - len("kv/"))
    doc = http.get(f"/v1/proofs/state/kv/{key}").json()
    proven = verify_document(doc, chain.genesis, kind="state")
    assert proven is not None and doc["entries"][0]["present"] is False


def test_the_document_size_limit_counts_utf8_bytes_not_characters(env):
    """40 MiB is of the document's bytes (documents.md), also when it is given as text."""
    chain, _, _, _ = env
    text = '{"title": "' + "\u4e2d" * (14 << 20) + '"}'  # 14 Mi characters, 42 MiB of UTF-8
    with pytest.raises(VerificationError, match="larger than"):
        verify_document(text, chain.genesis)
    with pytest.raises(VerificationError, match="larger than"):
        verify_document(text.encode(), chain.genesis)


def test_proof_documents_are_built_within_the_query_limits(tmp_path, monkeypatch):
    """A proof document may read a thousand entries: it is built under the node's query
    limits, so past them a request is refused with 429 at once instead of taking a worker
    thread and the CPU; the slots come back when the documents are done."""
    chain = KvChain(tmp_path)
    chain.commit([chain.tx("put", "k", 1)])
    building = threading.Semaphore(0)
    release = threading.Event()
    real = chain.service.proof_builder

    class HeldBuilder:
        def __init__(self) -> None:
            self.builder = real()

        def state_document(self, *args):
            building.release()
            release.wait(60)
            return self.builder.state_document(*args)

    monkeypatch.setattr(chain.service, "proof_builder", HeldBuilder)
    app = create_app(chain.service, query_concurrency=2, query_concurrency_per_client=2)

    async def flood() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as http:
            held = [asyncio.create_task(http.get("/v1/proofs/state/kv/k")) for _ in range(2)]
            for _ in held:
                assert await asyncio.to_thread(building.acquire, True, 60)
            try:
                refused = await asyncio.wait_for(http.get("/v1/proofs/state/kv/k"), 30)
                assert refused.status_code == 429, refused.text
                assert "queries running" in refused.json()["error"]
                many = {"reads": [{"contract": "kv", "key": "k"}]}
                refused = await asyncio.wait_for(http.post("/v1/proofs/state", json=many), 30)
                assert refused.status_code == 429
            finally:
                release.set()
            assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
            again = await http.get("/v1/proofs/state/kv/k")
            assert again.status_code == 200 and again.json()["kind"] == "state"

    try:
        asyncio.run(flood())
    finally:
        release.set()
        chain.close()
    assert app.state.query_gate.running == 0 and app.state.query_gate.refused == 2
