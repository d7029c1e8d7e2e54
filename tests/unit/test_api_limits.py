"""Unit tests: what one request may cost a node — a body limit on every route (413), range
checks on every integer parameter and nesting checks on every body (400, never 500), and
contract queries bounded by gas and by the `QueryGate` (429). Run against the real
in-process chain (`AppChain`: the real `NodeService`, executor and SQLite store)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tianfu.api.app import create_app
from tianfu.api.errors import ApiError
from tianfu.api.limits import MAX_HEIGHT, QueryGate
from tianfu.codec import encode
from tianfu.testing.appchain import AppChain

LOOPING_VIEW = """
def put(ctx, key):
    ctx.put(key, 1)


@view
def spin(ctx):
    n = 0
    while True:
        n = n + 1
"""


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("limits"))
    c.deploy("spinner", LOOPING_VIEW)
    yield c
    c.close()


@pytest.fixture(scope="module")
def api(chain: AppChain) -> TestClient:
    return TestClient(create_app(chain.service))


def _deep_tx(chain: AppChain, depth: int) -> bytes:
    """A transaction whose one argument is a list nested `depth` deep (spliced bytes: no
    encoder builds it)."""
    admin = chain.admin("org1")
    raw = encode(chain.sign(admin, "governance", "get_identity", "MARKER"))
    marker = encode(["MARKER"])
    assert raw.count(marker) == 1
    return raw.replace(marker, b"\x91" * depth + b"\x90")


def _concrete(path: str) -> str:
    return (
        path.replace("{tx_hash}", "ab" * 32)
        .replace("{height}", "1")
        .replace("{contract}", "governance")
        .replace("{key}", "k")
    )


def test_every_route_refuses_a_body_over_its_limit(chain: AppChain, api: TestClient) -> None:
    limit = chain.service.max_body_bytes  # JSON submissions may be ~2x that, hex
    paths = api.get("/openapi.json").json()["paths"]
    assert len(paths) >= 13
    for path, ops in paths.items():
        for method in ops:
            r = api.request(
                method,
                _concrete(path),
                content=b"x",
                headers={"content-length": str(3 * limit), "content-type": "application/json"},
            )
            assert r.status_code == 413, (method, path, r.status_code)
            assert r.json()["error"].startswith(f"request body of {3 * limit} bytes exceeds")
            assert r.headers["connection"] == "close"


def test_a_chunked_query_body_is_refused_once_past_the_limit(
    chain: AppChain, api: TestClient
) -> None:
    limit = chain.service.max_body_bytes
    r = api.post(
        "/v1/query",
        content=iter([b" " * 65536] * (limit // 65536 + 2)),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["error"] == f"request body exceeds the limit of {limit} bytes"


@pytest.mark.parametrize(
    "url, params, name",
    [
        (f"/v1/blocks/{2**70}", {}, "path.height"),
        (f"/v1/blocks/{2**63}", {}, "path.height"),
        (f"/v1/blocks/{-(2**70)}", {}, "path.height"),
        (f"/v1/blocks/{2**70}/commit", {}, "path.height"),
        ("/v1/blocks", {"from": 2**70}, "query.from"),
        ("/v1/blocks", {"from": 2**63}, "query.from"),
        ("/v1/blocks", {"limit": 2**70}, "query.limit"),
        ("/v1/blocks", {"limit": 0}, "query.limit"),
        ("/v1/state/governance/k", {"height": 2**70}, "query.height"),
        ("/v1/txs/" + "ab" * 32, {}, None),
    ],
)
def test_integers_out_of_range_are_400(
    api: TestClient, url: str, params: dict, name: str | None
) -> None:
    r = api.get(url, params=params)
    if name is None:
        assert r.status_code == 404
        return
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith(f"invalid request: {name}: Input should be")


def test_the_largest_height_is_answered(api: TestClient) -> None:
    assert api.get(f"/v1/blocks/{MAX_HEIGHT}").status_code == 404
    assert api.get(f"/v1/blocks/{MAX_HEIGHT}/commit").status_code == 404
    r = api.get("/v1/blocks", params={"from": MAX_HEIGHT, "limit": MAX_HEIGHT})
    assert r.status_code == 200 and r.json() == {"blocks": []}


def test_deeply_nested_msgpack_arguments_are_400(chain: AppChain, api: TestClient) -> None:
    octet = {"content-type": "application/octet-stream"}
    for depth in (40, 20_000):
        raw = _deep_tx(chain, depth)
        r = api.post("/v1/txs", content=raw, headers=octet, params={"wait": "commit"})
        assert r.status_code == 400 and r.json()["error"].startswith("invalid transaction"), r.text
        r = api.post("/v1/txs/batch", content=encode([raw]), headers=octet)
        assert r.status_code == 400, r.text
        assert r.json()["error"].startswith("invalid transaction at index 0")
        r = api.post("/v1/txs", json={"tx": raw.hex()})
        assert r.status_code == 400 and r.json()["error"].startswith("invalid transaction")


def test_deeply_nested_json_bodies_are_400(api: TestClient) -> None:
    deep = b"[" * 20_000 + b"]" * 20_000
    q = b'{"contract": "governance", "method": "list_orgs", "args": [' + deep + b"]}"
    r = api.post("/v1/query", content=q, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "recursion limit" in r.json()["error"]
    shallow = b"[" * 40 + b"]" * 40  # parsed, then refused as a contract value
    q = b'{"contract": "governance", "method": "list_orgs", "args": [' + shallow + b"]}"
    r = api.post("/v1/query", content=q, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "nested deeper than" in r.json()["error"]
    for path, field in (("/v1/txs", "tx"), ("/v1/txs/batch", "txs")):
        body = b'{"' + field.encode() + b'": ' + deep + b"}"
        r = api.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "nested too deeply" in r.json()["error"], path


def test_query_arguments_are_range_checked(api: TestClient) -> None:
    for value in (2**64, -(2**63) - 1, 2**200):
        r = api.post(
            "/v1/query", json={"contract": "governance", "method": "get_identity", "args": [value]}
        )
        assert r.status_code == 400 and "integer out of range" in r.json()["error"]
    r = api.post("/v1/query", json={"contract": "governance", "method": "list_orgs", "args": [1.5]})
    assert r.status_code == 400 and "float" in r.json()["error"]


def test_a_query_is_bounded_by_gas(api: TestClient) -> None:
    r = api.post("/v1/query", json={"contract": "spinner", "method": "spin"})
    assert r.status_code == 400 and "out of gas" in r.json()["error"], r.text
    ok = api.post("/v1/query", json={"contract": "governance", "method": "list_orgs"})
    assert ok.status_code == 200 and ok.json()["result"]


def test_query_gate_refuses_past_its_limits() -> None:
    gate = QueryGate(total=3, per_client=2)
    with gate.slot("a"), gate.slot("a"):
        with pytest.raises(ApiError) as exc:
            with gate.slot("a"):
                pass
        assert exc.value.status == 429 and "your address" in exc.value.message
        with gate.slot("b"):
            with pytest.raises(ApiError) as exc:
                with gate.slot("c"):
                    pass
            assert exc.value.status == 429 and "this node" in exc.value.message
            assert exc.value.headers == {"retry-after": "1"}
    assert gate.running == 0 and gate.by_client == {} and gate.refused == 2
    with gate.slot("c"):  # every slot was given back
        assert gate.running == 1
    with pytest.raises(ValueError):
        QueryGate(total=0)
