"""Unit tests: the submission routes have one implementation (`tianfu.api.submit.Submitter`)
and answer alike whichever binding serves them — `LeanRoute` (the default) or FastAPI's own
(`create_app(..., lean_submit=False)`) — for valid, invalid, oversized, batch and
wait=commit requests; and the application's middleware applies to them like to any route."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from test_api import make_tx
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.api.submit import LeanRoute, lean_params
from tianfu.codec import encode
from tianfu.types import Transaction

OCTET = {"content-type": "application/octet-stream"}
LIMIT = 32 * 1024


def _forged(tx: Transaction) -> Transaction:
    return Transaction(tx.body, bytes([tx.signature[0] ^ 1]) + tx.signature[1:])


@pytest.fixture
def chain(tmp_path):
    kv = KvChain(tmp_path)
    yield kv
    kv.close()


def deeply_nested_tx(chain: KvChain, depth: int) -> bytes:
    """A transaction's bytes whose one argument is a list nested `depth` deep (no encoder
    can build it: the bytes are spliced)."""
    tx = make_tx(chain, args=["MARKER"])
    raw = encode(tx)
    marker = encode(["MARKER"])
    assert raw.count(marker) == 1
    return raw.replace(marker, b"\x91" * depth + b"\x90")


def _requests(chain: KvChain) -> list[tuple[str, dict]]:
    """(name, httpx request arguments) — run in this order against a fresh chain."""
    a, b, c = (make_tx(chain, args=[f"k{n}", n], nonce=n) for n in (1, 2, 3))
    batch = [make_tx(chain, nonce=n) for n in range(10, 14)]
    raw = encode(a)
    fresh = encode(make_tx(chain, nonce=4))
    chunks = [fresh[:10], fresh[10:]]
    return [
        ("commit", {"content": raw, "params": {"wait": "commit", "timeout": "5"}}),
        ("duplicate", {"content": raw, "params": {"wait": "commit"}}),
        ("pending", {"content": encode(b)}),
        ("json", {"json": {"tx": encode(c).hex()}, "params": {"wait": "commit"}}),
        ("forged", {"content": encode(_forged(make_tx(chain, nonce=20)))}),
        ("junk", {"content": b"\x93\x01\x02"}),
        ("empty", {"content": b""}),
        ("truncated", {"content": raw[:-3]}),
        ("deep args", {"content": deeply_nested_tx(chain, 20_000)}),
        ("oversized", {"content": b"\x00" * (LIMIT + 1)}),
        ("oversized chunked", {"content": iter([b"\x00" * 10_000] * 4)}),
        ("chunked", {"content": iter(chunks), "params": {"wait": "commit"}}),
        ("oversized json", {"json": {"tx": "00" * (LIMIT + 1)}}),
        ("json not hex", {"json": {"tx": "zz"}}),
        ("json wrong shape", {"json": [1]}),
        ("json nested", {"content": b"[" * 5000 + b"]" * 5000, "ctype": "application/json"}),
        ("bad wait", {"content": encode(make_tx(chain, nonce=30)), "params": {"wait": "soon"}}),
        ("empty wait", {"content": encode(make_tx(chain, nonce=31)), "params": {"wait": ""}}),
        ("negative timeout", {"content": raw, "params": {"wait": "commit", "timeout": "-1"}}),
        ("word timeout", {"content": raw, "params": {"wait": "commit", "timeout": "soon"}}),
        ("nan timeout", {"content": raw, "params": {"wait": "commit", "timeout": "nan"}}),
        (
            "exp timeout",
            {
                "content": encode(make_tx(chain, nonce=32)),
                "params": {"wait": "commit", "timeout": "1e1"},
            },
        ),
        (
            "repeated keys",
            {
                "content": encode(make_tx(chain, nonce=33)),
                "params": [("wait", "soon"), ("wait", "commit")],
            },
        ),
        ("unknown key", {"content": encode(make_tx(chain, nonce=34)), "params": {"x": "1"}}),
        ("escaped query", {"content": raw, "url_suffix": "?wait=%E9"}),
        (
            "ctype params",
            {
                "content": encode(make_tx(chain, nonce=35)),
                "ctype": "application/octet-stream; charset=binary",
            },
        ),
        ("no ctype", {"content": encode(make_tx(chain, nonce=36)), "ctype": None}),
        ("get", {"method": "GET"}),
        (
            "batch commit",
            {
                "path": "/v1/txs/batch",
                "content": encode([encode(t) for t in batch]),
                "params": {"wait": "commit"},
            },
        ),
        (
            "batch replayed",
            {
                "path": "/v1/txs/batch",
                "content": encode([encode(batch[0]), encode(_forged(batch[1]))]),
            },
        ),
        (
            "batch json",
            {
                "path": "/v1/txs/batch",
                "json": {"txs": [encode(make_tx(chain, nonce=40)).hex()]},
                "params": {"wait": "commit", "timeout": "2.5"},
            },
        ),
        ("batch malformed", {"path": "/v1/txs/batch", "content": b"\xc1"}),
        (
            "batch deep",
            {"path": "/v1/txs/batch", "content": encode([deeply_nested_tx(chain, 20_000)])},
        ),
        ("batch too many", {"path": "/v1/txs/batch", "json": {"txs": ["00"] * 1001}}),
        ("batch oversized", {"path": "/v1/txs/batch", "content": b"\x00" * (LIMIT + 1)}),
        (
            "batch bad timeout",
            {
                "path": "/v1/txs/batch",
                "content": encode([]),
                "params": {"wait": "commit", "timeout": "-2"},
            },
        ),
    ]


_LONG_HEX = re.compile(rb"[0-9a-f]{64,}")


def _named_by_order(body: bytes, seen: dict[bytes, bytes]) -> bytes:
    """`body` with each long hex string (a hash, key, signature or encoding, which the
    chain's own keys decide) replaced by the order of its first appearance in the run."""

    def name(m: re.Match[bytes]) -> bytes:
        return seen.setdefault(m.group(0), b"<hex%d>" % len(seen))

    return _LONG_HEX.sub(name, body)


def _cert_shape(chain: KvChain) -> tuple[int, int]:
    """What of the user's certificate its registration's gas counts and that varies from
    one issue to the next (its random serial): its length, its serial's decimal digits."""
    return len(chain.user.cert_der), len(str(chain.user.info.serial))


def _answers(
    directory: Path, lean: bool, shape: tuple[int, int] | None = None
) -> tuple[list[tuple[str, int, str, bytes]], list[str], tuple[int, int]]:
    """Every request's answer on a fresh chain, the bindings by FastAPI, and the shape of
    the user's certificate (`_cert_shape`). Each chain has its own keys, so the hashes,
    signatures and encodings in the answers are named by their order of appearance. The
    certificate is registered by the user's first transaction, whose gas counts its bytes:
    with `shape` the user is issued one of that shape, so that two chains' answers compare
    byte for byte."""
    chain = KvChain(directory)
    for _ in range(500):
        if shape is None or _cert_shape(chain) == shape:
            break
        chain.user = chain.app.cas["org1"].issue("user", "member", chain.app.scheme)
    assert shape is None or _cert_shape(chain) == shape
    chain.service.max_body_bytes = LIMIT
    app = create_app(chain.service, lean_submit=lean)
    by_fastapi: list[str] = []
    for route in app.router.routes:
        if isinstance(route, LeanRoute):
            inner = route.fastapi_app

            async def counted(scope, receive, send, inner=inner):
                by_fastapi.append(scope["path"])
                await inner(scope, receive, send)

            route.fastapi_app = counted
    api = TestClient(app)
    out = []
    seen: dict[bytes, bytes] = {}
    for name, spec in _requests(chain):
        spec = dict(spec)
        method = spec.pop("method", "POST")
        path = spec.pop("path", "/v1/txs") + spec.pop("url_suffix", "")
        ctype = spec.pop("ctype", "application/octet-stream")
        headers = {} if ctype is None or "json" in spec else {"content-type": ctype}
        r = api.request(method, path, headers=headers, **spec)
        body = _named_by_order(r.content, seen)
        out.append((name, r.status_code, r.headers.get("content-type", ""), body))
    chain.close()
    return out, by_fastapi, _cert_shape(chain)


def test_lean_and_fastapi_bindings_answer_alike(tmp_path) -> None:
    lean, lean_by_fastapi, shape = _answers(tmp_path / "lean", lean=True)
    plain, _, _ = _answers(tmp_path / "plain", lean=False, shape=shape)
    for a, b in zip(lean, plain, strict=True):
        assert a == b, a[0]
    statuses = {name: status for name, status, _, _ in lean}
    assert statuses["commit"] == 200 and statuses["pending"] == 202
    assert statuses["duplicate"] == 409 and statuses["forged"] == 400
    assert statuses["deep args"] == statuses["batch deep"] == 400
    assert statuses["oversized"] == statuses["oversized chunked"] == 413
    assert statuses["oversized json"] == statuses["batch oversized"] == 413
    assert statuses["chunked"] == statuses["batch commit"] == statuses["batch json"] == 200
    assert statuses["get"] == 405
    for name, status, ctype, body in lean:
        if status >= 400 and name != "get":
            assert ctype == "application/json" and b'"error"' in body, name
    # The lean binding served the plainly well-formed requests; FastAPI bound the others.
    assert len(lean_by_fastapi) == 5  # the negative, word, nan, 1e1 and batch -2 timeouts


def test_lean_params_bind_as_fastapi_does() -> None:
    assert lean_params(b"") == (None, 30.0)
    assert lean_params(b"wait=commit&timeout=2.5") == ("commit", 2.5)
    assert lean_params(b"wait=soon&wait=commit") == ("commit", 30.0)  # the last one
    assert lean_params(b"wait=&other=1") == ("", 30.0)
    for irregular in (b"timeout=-1", b"timeout=1e3", b"timeout=", b"timeout=nan", b"wait=\xe9"):
        assert lean_params(irregular) is None


@pytest.mark.parametrize("lean", [True, False])
def test_middleware_added_to_the_app_sees_submissions(chain, lean: bool) -> None:
    app = create_app(chain.service, lean_submit=lean)
    seen: list[str] = []

    @app.middleware("http")
    async def tag(request, call_next):
        seen.append(request.url.path)
        response = await call_next(request)
        response.headers["x-seen"] = "1"
        return response

    api = TestClient(app)
    one = api.post("/v1/txs", content=encode(make_tx(chain)), headers=OCTET)
    many = api.post(
        "/v1/txs/batch", content=encode([encode(make_tx(chain, nonce=2))]), headers=OCTET
    )
    assert one.status_code == 202 and many.status_code == 200
    assert one.headers["x-seen"] == many.headers["x-seen"] == "1"
    assert seen == ["/v1/txs", "/v1/txs/batch"]


@pytest.mark.parametrize("lean", [True, False])
def test_unexpected_error_in_a_submission_is_a_logged_500(
    chain, lean: bool, caplog, monkeypatch
) -> None:
    async def broken(tx):
        raise RuntimeError("boom")

    monkeypatch.setattr(chain.service, "submit", broken)
    api = TestClient(create_app(chain.service, lean_submit=lean), raise_server_exceptions=False)
    r = api.post(
        "/v1/txs", content=encode(make_tx(chain)), headers=OCTET, params={"wait": "commit"}
    )
    assert r.status_code == 500 and r.json() == {"error": "internal error"}
    assert "unhandled error in API handler" in caplog.text
    assert api.get("/openapi.json").status_code == 200  # the app itself still serves


def test_submission_routes_are_documented(chain) -> None:
    spec = TestClient(create_app(chain.service)).get("/openapi.json").json()
    for path in ("/v1/txs", "/v1/txs/batch"):
        op = spec["paths"][path]["post"]
        assert {p["name"] for p in op["parameters"]} == {"wait", "timeout"}
        assert {"application/octet-stream", "application/json"} <= op["requestBody"][
            "content"
        ].keys()


def test_chunked_body_is_read_whole(chain) -> None:
    api = TestClient(create_app(chain.service))
    tx = make_tx(chain)
    raw = encode(tx)
    r = api.post(
        "/v1/txs",
        content=iter([raw[:7], raw[7:50], raw[50:]]),
        headers=OCTET,
        params={"wait": "commit"},
    )
    assert r.status_code == 200 and r.json()["hash"] == tx.hash.hex()
    assert isinstance(r, httpx.Response)
