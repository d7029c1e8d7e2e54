"""An event stream opened with malformed query parameters is refused with a close frame
(1008, policy violation, naming the parameter), on the API alone and on a node's
application, whose console turns the API's errors into pages for browsers.

The console's error handlers wrapped every API handler, the WebSocket validation
handler's too, and read the `status_code` of its answer: that handler closes the socket and
answers None, so `/v1/events/blocks?from=0` (or `from=abc`, `to=0`) raised AttributeError
out of the application on every node: an unhandled error (a traceback in the log for each
such request) and a bare 403 in place of the close that says what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tianfu.api.app import create_app
from tianfu.node.http import node_app
from tianfu.testing.appchain import AppChain

BAD = ["from=0", "from=abc", "from=1&to=0", "to=-5", "from=99999999999999999999999"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppChain]:
    c = AppChain(tmp_path_factory.mktemp("stream-params"))
    yield c
    c.close()


def _apps(chain: AppChain, tmp: Path) -> dict[str, FastAPI]:
    return {"api": create_app(chain.service), "node": node_app(chain.service, tmp)}


@pytest.mark.parametrize("query", BAD)
@pytest.mark.parametrize("which", ["api", "node"])
def test_a_malformed_stream_parameter_is_a_policy_close(
    chain: AppChain, tmp_path: Path, which: str, query: str
) -> None:
    app = _apps(chain, tmp_path)[which]
    # raise_server_exceptions (the default): an error escaping the application fails here.
    with TestClient(app) as client:
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect(f"/v1/events/blocks?{query}") as ws:
                ws.receive_text()
        assert refused.value.code == 1008
        name = query.split("=")[0] if "to=" not in query else "to"
        assert name in str(refused.value.reason)
        # The node still serves, streams included.
        assert client.get("/v1/status").status_code == 200
        with client.websocket_connect("/v1/events/blocks?from=1&to=1") as ws:
            assert '"height":1' in ws.receive_text()
