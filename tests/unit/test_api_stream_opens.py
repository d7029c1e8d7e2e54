"""How often one client address may open an event stream is bounded (`QueryGate(opens_per_s=)`
on the stream gate): each open is a WebSocket handshake and a subscription set up, so a client
opening and closing streams in a loop, never holding more than one open, made the node do that
work as fast as it could ask. Past its rate a handshake is answered 429 with `Retry-After`
(a WebSocket denial response) and no subscription is made."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from tests.unit.kvchain import KvChain

from tianfu.api.app import create_app
from tianfu.api.errors import ApiError
from tianfu.api.limits import (
    DEFAULT_STREAM_OPENS_BURST,
    DEFAULT_STREAM_OPENS_NODE_BURST,
    DEFAULT_STREAM_OPENS_NODE_PER_S,
    DEFAULT_STREAM_OPENS_PER_S,
    QueryGate,
)
from tianfu.ratelimit import TokenBucket


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[KvChain]:
    kv = KvChain(tmp_path)
    yield kv
    kv.close()


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


@pytest.mark.timeout(120)
def test_a_client_opening_streams_in_a_loop_is_refused_past_its_rate(chain: KvChain) -> None:
    """With the node's defaults, a client opening and closing `/v1/events` in a loop is
    refused once past its burst and rate: at most `DEFAULT_STREAM_OPENS_BURST` plus
    `DEFAULT_STREAM_OPENS_PER_S` per second elapsed are accepted."""
    app = create_app(chain.service)
    accepted = 0
    refusal: WebSocketDenialResponse | None = None
    start = time.monotonic()
    with TestClient(app) as api:
        while refusal is None and accepted < 400:
            try:
                with api.websocket_connect("/v1/events"):
                    accepted += 1
            except WebSocketDenialResponse as exc:
                refusal = exc
        elapsed = time.monotonic() - start
        assert refusal is not None, f"{accepted} streams opened in a loop, none refused"
        assert refusal.status_code == 429
        assert refusal.headers["retry-after"] == "1"
        assert "too many new event streams from your address" in refusal.json()["error"]
        allowed = DEFAULT_STREAM_OPENS_BURST + DEFAULT_STREAM_OPENS_PER_S * elapsed
        assert DEFAULT_STREAM_OPENS_BURST <= accepted <= allowed + 1, (accepted, elapsed)
        _wait(lambda: app.state.stream_gate.running == 0, "a stream kept its slot")


@pytest.mark.timeout(120)
def test_a_refused_open_sets_up_no_subscription_and_other_clients_open(
    chain: KvChain, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribed = [0]
    subscribe = chain.service.subscribe

    def counted() -> Any:
        subscribed[0] += 1
        return subscribe()

    monkeypatch.setattr(chain.service, "subscribe", counted)
    app = create_app(chain.service, stream_opens_per_s=0.01, stream_opens_burst=3)
    gate = app.state.stream_gate
    with TestClient(app) as api:
        for _ in range(3):
            with api.websocket_connect("/v1/events"):
                _wait(lambda: chain.subscriber_count == 1, "the stream never subscribed")
            _wait(lambda: chain.subscriber_count == 0 and gate.running == 0, "never left")
        assert subscribed[0] == 3
        for path in ("/v1/events", "/v1/events/blocks?from=1"):
            with pytest.raises(WebSocketDenialResponse) as refused:
                with api.websocket_connect(path):
                    pass
            assert refused.value.status_code == 429
            assert refused.value.headers["retry-after"] == "100"  # one open per 100 s
        assert subscribed[0] == 3 and gate.refused == 2 and gate.running == 0
    with TestClient(app, client=("10.0.0.2", 50000)) as other:
        with other.websocket_connect("/v1/events"):
            _wait(lambda: chain.subscriber_count == 1, "the other client never subscribed")
    assert subscribed[0] == 4


def test_the_open_rate_refills_with_time_and_is_per_client() -> None:
    now = [0.0]
    gate = QueryGate(total=8, per_client=8, opens_per_s=0.5, opens_burst=2, clock=lambda: now[0])
    for _ in range(2):
        with gate.slot("a"):
            pass
    with pytest.raises(ApiError) as exc:
        with gate.slot("a"):
            pass
    assert exc.value.status == 429 and exc.value.headers == {"retry-after": "2"}
    with gate.slot("b"):  # another client has its own burst
        pass
    now[0] = 1.9
    with pytest.raises(ApiError):
        with gate.slot("a"):
            pass
    now[0] = 2.0  # one open per 2 s: the next one
    with gate.slot("a"):
        pass
    assert gate.refused == 2 and gate.running == 0 and gate.by_client == {}
    unbounded = QueryGate(total=8, per_client=8)  # the query gate: no rate
    for _ in range(100):
        with unbounded.slot("a"):
            pass
    with pytest.raises(ValueError):
        QueryGate(opens_per_s=0.0)


def test_many_addresses_together_are_bounded_by_the_nodes_open_rate(chain: KvChain) -> None:
    """Each client address had its own burst and rate and nothing bounded them together: 200
    addresses (an IPv6 host's prefixes, a botnet) opening one stream each at the same moment
    were all let in. With the node's defaults, at most `DEFAULT_STREAM_OPENS_NODE_BURST` are
    now, then `DEFAULT_STREAM_OPENS_NODE_PER_S` per second; an open refused by the node's
    rate spends nothing of its client's own rate."""
    app = create_app(chain.service)
    gate: QueryGate = app.state.stream_gate
    now = [1000.0]
    gate.clock = lambda: now[0]

    def node_bucket() -> TokenBucket:  # full, on the test's clock
        return TokenBucket(
            DEFAULT_STREAM_OPENS_NODE_PER_S, float(DEFAULT_STREAM_OPENS_NODE_BURST), now[0]
        )

    if gate.opens_node is not None:
        gate.opens_node = node_bucket()

    def opened(clients: list[str]) -> int:
        n = 0
        for client in clients:
            try:
                with gate.slot(client):
                    n += 1
            except ApiError as exc:
                assert exc.status == 429 and exc.headers == {"retry-after": "1"}, exc.message
                assert "on this node" in exc.message, exc.message
        return n

    many = [f"2001:db8:{i:x}::/64" for i in range(300)]
    assert opened(many[:200]) == DEFAULT_STREAM_OPENS_NODE_BURST
    now[0] += 1.0  # a second later: the node's rate lets that many more in
    assert opened(many[200:]) == int(DEFAULT_STREAM_OPENS_NODE_PER_S)
    one = "2001:db8:ffff::/64"
    assert opened([one] * (DEFAULT_STREAM_OPENS_BURST + 4)) == 0  # refused by the node ...
    gate.opens_node = node_bucket()  # ... its own burst is whole, at the same instant
    assert opened([one] * DEFAULT_STREAM_OPENS_BURST) == DEFAULT_STREAM_OPENS_BURST
    with pytest.raises(ApiError, match="from your address"):
        with gate.slot(one):
            pass
    assert gate.running == 0 and gate.by_client == {}
