"""A query or a submission the node cannot answer because its own state reads fail (the store locked,
failing or closed) is answered 503 "the node cannot read its state now; try again later",
(a submission: "transaction refused for now: ...", code `state_unreadable`), whether the
read fails before the view's call (the contract's record, the chain's parameters) or
inside it; a read that failed before the call, and any a submission met, was a 500
("internal error", with a traceback in the log)."""

import pytest
from fastapi.testclient import TestClient
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.execution.contract_api import state_key
from tianfu.store import StoreBusy, StoreClosed, StoreDamaged

MESSAGE = "the node cannot read its state now; try again later"
FAULTS = {
    "busy": lambda: StoreBusy("/data/chain.db: read failed: database is locked"),
    "closed": lambda: StoreClosed("the store is closed"),
    "damaged": lambda: StoreDamaged("/data/chain.db: read failed: disk I/O error"),
    "oserror": lambda: OSError(5, "Input/output error"),
}


@pytest.fixture
def chain(tmp_path):
    kv = KvChain(tmp_path)
    yield kv
    kv.close()


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("where", ["before the call", "in the call"])
def test_a_query_whose_state_read_fails_is_answered_503(chain, monkeypatch, fault, where):
    chain.commit([chain.tx("put", "k", 1, contract="kv")])
    latest = chain.service.ledger.latest
    real = latest.get
    failing_key = state_key("kv", "k")

    def get(key):
        if where == "in the call" and key == failing_key:
            raise FAULTS[fault]()
        if where == "before the call" and key.startswith(b"governance/"):
            raise FAULTS[fault]()
        return real(key)

    query = {"contract": "kv", "method": "get", "args": ["k"]}
    with TestClient(create_app(chain.service)) as api:
        assert api.post("/v1/query", json=query).status_code == 200
        monkeypatch.setattr(latest, "get", get)
        r = api.post("/v1/query", json=query)
        assert r.status_code == 503, r.text
        assert r.json() == {"error": MESSAGE}  # nothing of the store's own words
        assert r.headers["retry-after"] == "1"
        monkeypatch.setattr(latest, "get", real)
        assert api.post("/v1/query", json=query).json()["result"] == 1


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("where", ["replay lookup", "admission check"])
def test_a_submission_the_node_cannot_check_now_is_answered_503(chain, monkeypatch, fault, where):
    """A transaction submitted while the node's store cannot be read (locked, failing,
    closed while the node stops) was answered 500 "internal error" with a traceback; it
    is the node's failure, not the transaction's: 503, the same transaction may be sent
    again, nothing is kept pending, and it is admitted once the store answers."""
    store = chain.service.store
    latest = chain.service.ledger.latest
    tx = chain.tx("put", "k", 2, contract="kv")

    def failing(*args, **kw):
        raise FAULTS[fault]()

    with TestClient(create_app(chain.service)) as api:
        if where == "replay lookup":
            monkeypatch.setattr(store, "committed_txs", failing)
        else:
            monkeypatch.setattr(latest, "get", failing)
        for path, body in (("/v1/txs", tx.encoded()), ("/v1/txs/batch", None)):
            if body is None:
                r = api.post(path, json={"txs": [tx.encoded().hex()]})
                assert r.status_code == 200, r.text
                (outcome,) = r.json()["results"]
                assert outcome["status"] == "rejected" and outcome["code"] == 503
                assert outcome["error"].endswith(MESSAGE)
                continue
            r = api.post(path, content=body, headers={"content-type": "application/octet-stream"})
            assert r.status_code == 503, r.text
            assert r.json()["code"] == "state_unreadable"
            assert r.json()["error"].endswith(MESSAGE)
        assert tx.hash not in chain.service.mempool
        monkeypatch.undo()
        r = api.post(
            "/v1/txs", content=tx.encoded(), headers={"content-type": "application/octet-stream"}
        )
        assert r.status_code in (200, 202), r.text
    assert tx.hash in chain.service.mempool or store.has_tx(tx.hash)  # (committed at once)
