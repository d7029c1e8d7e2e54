"""Every read route answers 503 "the node cannot read its state now" with `Retry-After`
when the host fails a store or state read, as `/v1/query` and the submissions do: a state
entry (`GET /v1/state/...`, with or without its proof) and the status were a 500
"internal error" with a traceback for the same failure. Any other exception of those types
(a store error that is not the host's) stays a logged 500."""

import pytest
from fastapi.testclient import TestClient
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.store import StoreBusy, StoreClosed, StoreError

MESSAGE = "the node cannot read its state now; try again later"
FAULTS = {
    "busy": lambda: StoreBusy("/data/chain.db: read failed: database is locked"),
    "closed": lambda: StoreClosed("the store is closed"),
    "oserror": lambda: OSError(5, "Input/output error"),
}


@pytest.fixture
def chain(tmp_path):
    kv = KvChain(tmp_path)
    kv.commit([kv.tx("put", "k", 1, contract="kv")])
    yield kv
    kv.close()


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/v1/state/kv/k", "latest"),
        ("/v1/state/kv/k?prove=true", "latest"),
        ("/v1/status", "height"),
    ],
)
def test_a_read_the_host_fails_is_answered_503(chain, monkeypatch, fault, path, target):
    def failing(*args, **kw):
        raise FAULTS[fault]()

    with TestClient(create_app(chain.service), raise_server_exceptions=False) as api:
        assert api.get(path).status_code == 200
        if target == "latest":
            monkeypatch.setattr(chain.service.ledger.latest, "get", failing)
        else:
            monkeypatch.setattr(chain.service.store, "height", failing)
        r = api.get(path)
        assert r.status_code == 503, r.text
        assert r.json() == {"error": MESSAGE}  # nothing of the store's own words
        assert r.headers["retry-after"] == "1"
        monkeypatch.undo()
        assert api.get(path).status_code == 200


def test_a_store_error_that_is_not_the_hosts_is_a_logged_500(chain, monkeypatch, caplog):
    def failing(*args, **kw):
        raise StoreError("a bug")

    monkeypatch.setattr(chain.service.ledger.latest, "get", failing)
    with TestClient(create_app(chain.service), raise_server_exceptions=False) as api:
        r = api.get("/v1/state/kv/k")
    assert r.status_code == 500 and r.json() == {"error": "internal error"}
    assert "unhandled error in API handler" in caplog.text
