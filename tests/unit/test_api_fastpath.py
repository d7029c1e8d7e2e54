"""Unit tests: the `POST /v1/txs` fast path answers as the application does, and hands
everything it does not handle to the application."""

from fastapi import FastAPI
from fastapi.testclient import TestClient
from test_api import make_tx, post_raw

from tianfu.api.app import create_app
from tianfu.api.fastpath import FastSubmit
from tianfu.codec import encode
from tianfu.testing.memorychain import MemoryChain


class CountingChain(MemoryChain):
    def __init__(self) -> None:
        super().__init__()
        self.submits = 0

    async def submit(self, tx):
        self.submits += 1
        return await super().submit(tx)


def _count_stack_calls(app):
    """Count the requests that reach the FastAPI stack behind the fast path."""
    calls = []
    stack = app.fast.app

    async def counting(scope, receive, send):
        calls.append(scope["path"])
        await stack(scope, receive, send)

    app.fast.app = counting
    return calls


def test_fast_path_is_installed_and_answers_like_the_app() -> None:
    chain = CountingChain()
    app = create_app(chain)
    assert isinstance(app, FastAPI) and isinstance(app.fast, FastSubmit)
    assert not any(m.cls is FastSubmit for m in app.user_middleware)  # in front, not inside
    stack_calls = _count_stack_calls(app)
    api = TestClient(app)
    tx = make_tx(chain, args=["k", {"b": b"\x01", "n": 2**64 - 1}])
    r = post_raw(api, encode(tx), wait="commit", timeout="5")
    assert r.status_code == 200 and chain.submits == 1  # handled once, not handed on
    assert r.headers["content-type"] == "application/json"
    assert r.json() == api.get(f"/v1/txs/{tx.hash.hex()}").json()  # the app's document

    pending = post_raw(api, encode(make_tx(chain, nonce=2)))  # no wait: 202 pending
    assert pending.status_code == 202 and pending.json()["status"] == "pending"
    assert chain.submits == 2
    assert stack_calls == [f"/v1/txs/{tx.hash.hex()}"]  # the submissions never entered FastAPI


def test_unexpected_error_in_the_fast_path_is_a_logged_500() -> None:
    class Broken(MemoryChain):
        async def submit(self, tx):
            raise RuntimeError("boom")

    chain = Broken()
    api = TestClient(create_app(chain), raise_server_exceptions=False)
    r = post_raw(api, encode(make_tx(chain)), wait="commit")
    assert r.status_code == 500 and r.json() == {"error": "internal error"}
    assert api.get("/openapi.json").status_code == 200  # the app itself still serves


def test_what_the_fast_path_does_not_handle_gets_the_apps_answer() -> None:
    chain = CountingChain()
    api = TestClient(create_app(chain))
    tx = make_tx(chain)
    assert post_raw(api, encode(tx), wait="commit").status_code == 200
    dup = post_raw(api, encode(tx), wait="commit")
    assert dup.status_code == 409 and "duplicate" in dup.json()["error"]
    assert chain.submits == 2  # the refusal is answered once, not admitted again by the app
    bad_wait = post_raw(api, encode(make_tx(chain, nonce=3)), wait="soon")
    assert bad_wait.status_code == 400 and "wait mode" in bad_wait.json()["error"]
    bad_timeout = post_raw(api, encode(make_tx(chain, nonce=4)), wait="commit", timeout="-1")
    assert bad_timeout.status_code == 400
    junk = post_raw(api, b"\x93\x01\x02")
    assert junk.status_code == 400
    empty = post_raw(api, b"")
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    as_json = api.post("/v1/txs", json={"tx": encode(make_tx(chain, nonce=5)).hex()})
    assert as_json.status_code in (200, 202)
    assert api.get("/v1/status").status_code == 200  # other routes untouched
