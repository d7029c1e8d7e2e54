"""Unit test: a large transaction batch's work that needs no state — decoding it, its
transactions' hashes, and its answer — is done in a worker thread, not on the event loop
that runs consensus (`tianfu.api.submit.Submitter.batch`)."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import httpx
import pytest

import tianfu.types.tx as txmod
from tianfu.api.app import create_app
from tianfu.codec import encode
from tianfu.contracts.examples import example_source
from tianfu.testing.appchain import AppChain
from tianfu.types import Transaction


@pytest.fixture
def chain(tmp_path: Any) -> Any:
    c = AppChain(tmp_path)
    c.deploy("kv", example_source("kv"))
    yield c
    c.close()


def test_a_large_batch_is_hashed_and_answered_off_the_event_loop(
    chain: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of 300 forged transactions: it was decoded and hashed in a worker thread,
    but its 300 results were rendered and encoded as JSON on the event loop (1,000: ~12 ms
    and ~1-8 ms on a loaded machine), which a flood of such batches held between consensus
    turns. Now the loop computes no hash and renders nothing of such a batch."""
    alice = chain.identity("org1", "alice")
    assert chain.call(alice, "kv", "put", "x", 0).ok
    chain.service.on_tx = None

    def forged(tx: Transaction) -> Transaction:
        return Transaction(tx.body, bytes([tx.signature[0] ^ 1]) + tx.signature[1:])

    raws = [encode(forged(chain.sign(alice, "kv", "put", f"k{i}", i))) for i in range(300)]
    body = encode(raws)
    assert len(body) > 16 << 10  # decoded in a worker thread
    loop_thread = threading.get_ident()
    on_loop = {"hash": 0, "render": 0}
    hash_of = txmod.tx_hash

    def counted_hash(b: Any) -> bytes:
        on_loop["hash"] += threading.get_ident() == loop_thread
        return hash_of(b)

    monkeypatch.setattr(txmod, "tx_hash", counted_hash)
    import tianfu.api.batch as batchmod

    render = batchmod.render_batch

    def counted_render(*args: Any) -> Any:
        on_loop["render"] += threading.get_ident() == loop_thread
        return render(*args)

    monkeypatch.setattr(batchmod, "render_batch", counted_render)
    app = create_app(chain.service)

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            headers = {"content-type": "application/octet-stream"}
            return await client.post("/v1/txs/batch", content=body, headers=headers)

    r = anyio.run(main)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["rejected"] == 300 and doc["results"][0]["error"].endswith("bad signature")
    assert [x["hash"] for x in doc["results"]] == [txmod.decode_tx(raw).hash.hex() for raw in raws]
    assert on_loop == {"hash": 0, "render": 0}, on_loop
