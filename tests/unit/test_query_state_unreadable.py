"""A query the node cannot answer because its own state reads fail (the store locked,
failing or closed) is answered 503 "the node cannot read its state now; try again later",
whether the read fails before the view's call (the contract's record, the chain's
parameters) or inside it; a read that failed before the call was a 500 ("internal error",
with a traceback in the log)."""

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
