"""The REST + WebSocket API of a node: a FastAPI application over a `ChainService`.

Bytes are hex strings in JSON. Every chain object is returned readable *and* as
`raw` (hex of its canonical encoding), which is what clients verify. Every error is
`{"error": "<message>"}` with a 4xx status; bad input never produces a 500.

The application is assembled from routers — the submission routes (`tianfu.api.submit`)
and the read routes (`tianfu.api.reads`); a new group of routes is one more router added in
`create_app` (a node adds the applications' routes and the web console beside them:
`tianfu.node.http.node_app`). Whatever applies to every request is middleware of this one
application, in front of all routes alike: the body limits (`tianfu.api.limits.BodyLimit`)
and the error handlers (`tianfu.api.errors`).
"""

from __future__ import annotations

from fastapi import FastAPI

from tianfu.api.errors import ApiError, install_error_handlers
from tianfu.api.limits import (
    DEFAULT_QUERY_CONCURRENCY,
    DEFAULT_QUERY_CONCURRENCY_PER_CLIENT,
    DEFAULT_STREAM_OPENS_BURST,
    DEFAULT_STREAM_OPENS_NODE_BURST,
    DEFAULT_STREAM_OPENS_NODE_PER_S,
    DEFAULT_STREAM_OPENS_PER_S,
    DEFAULT_STREAMS,
    DEFAULT_STREAMS_PER_CLIENT,
    MAX_WAIT_S,
    BodyLimit,
    BodyLimits,
    QueryGate,
    TrustedProxies,
)
from tianfu.api.private import private_router
from tianfu.api.proofs import proofs_router
from tianfu.api.readgate import (
    DEFAULT_READ_WAIT_S,
    DEFAULT_READS,
    DEFAULT_READS_PER_CLIENT,
    DEFAULT_READS_WAITING,
    ReadBudget,
    ReadGate,
)
from tianfu.api.reads import MAX_BLOCKS_PER_PAGE, METRICS_MEDIA_TYPE, parse_hash, read_router
from tianfu.api.service import ChainService
from tianfu.api.submit import LeanDispatch, Submitter, add_submit_routes

DEFAULT_MAX_BODY = 1 << 20

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_BLOCKS_PER_PAGE",
    "MAX_WAIT_S",
    "METRICS_MEDIA_TYPE",
    "ApiError",
    "create_app",
    "parse_hash",
]


def create_app(
    service: ChainService,
    *,
    query_concurrency: int = DEFAULT_QUERY_CONCURRENCY,
    query_concurrency_per_client: int = DEFAULT_QUERY_CONCURRENCY_PER_CLIENT,
    streams: int = DEFAULT_STREAMS,
    streams_per_client: int = DEFAULT_STREAMS_PER_CLIENT,
    stream_opens_per_s: float = DEFAULT_STREAM_OPENS_PER_S,
    stream_opens_burst: int = DEFAULT_STREAM_OPENS_BURST,
    stream_opens_node_per_s: float = DEFAULT_STREAM_OPENS_NODE_PER_S,
    stream_opens_node_burst: int = DEFAULT_STREAM_OPENS_NODE_BURST,
    lean_submit: bool = True,
    reads: int = DEFAULT_READS,
    reads_per_client: int = DEFAULT_READS_PER_CLIENT,
    reads_waiting: int = DEFAULT_READS_WAITING,
    read_wait_s: float = DEFAULT_READ_WAIT_S,
    trusted_proxies: tuple[str, ...] = (),
) -> FastAPI:
    """The application serving `service`.

    `query_concurrency` / `query_concurrency_per_client`: contract queries running at once
    (`QueryGate`). `streams` / `streams_per_client`: event streams (WebSockets) open at
    once, refused with 429 beyond (`tianfu.api.streams.opened`); `stream_opens_per_s` /
    `stream_opens_burst`: how many one client address may open per second, after a burst
    (429 past it: each open is a handshake and a subscription set up);
    `stream_opens_node_per_s` / `stream_opens_node_burst`: the same for all clients
    together. `reads` / `reads_per_client` / `reads_waiting` / `read_wait_s`: the reads
    (GETs, queries) running at once, and waiting for a slot (`tianfu.api.readgate`;
    `app.state.read_budget`).
    `trusted_proxies`: the reverse proxies (addresses or networks) whose X-Forwarded-For
    names the client the per-client limits count (`tianfu.api.limits.TrustedProxies`;
    none by default). `lean_submit=False` binds the submission routes through FastAPI only (the same
    implementation, slower; `tianfu.api.submit`)."""
    app = FastAPI(
        title="Tianfu Chain node API",
        version="1",
        description="Bytes are hex strings; every chain object carries `raw`, its canonical "
        "encoding, which clients verify.",
        # The node exports Prometheus metrics at /metrics and configures no OpenTelemetry;
        # saying so spares FastAPI a look-up of the OpenTelemetry providers per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    app.state.trusted_proxies = TrustedProxies(trusted_proxies)  # read by client_address
    limit = int(getattr(service, "max_body_bytes", DEFAULT_MAX_BODY) or DEFAULT_MAX_BODY)
    if lean_submit:  # the innermost middleware: everything added after it wraps it too
        app.add_middleware(LeanDispatch, api=app)
    app.state.read_budget = ReadBudget(reads, reads_per_client, reads_waiting, read_wait_s)
    app.add_middleware(ReadGate, api=app, budget=app.state.read_budget)
    app.add_middleware(BodyLimit, limits=BodyLimits(limit))
    app.state.query_gate = QueryGate(query_concurrency, query_concurrency_per_client)
    add_submit_routes(app.router, Submitter(service, limit), lean=lean_submit)
    app.state.stream_gate = QueryGate(
        streams,
        streams_per_client,
        what="event streams open",
        opens_per_s=stream_opens_per_s,
        opens_burst=stream_opens_burst,
        opens_node_per_s=stream_opens_node_per_s,
        opens_node_burst=stream_opens_node_burst,
    )
    budget = app.state.read_budget
    app.include_router(read_router(service, app.state.query_gate, app.state.stream_gate, budget))
    app.include_router(
        proofs_router(service, app.state.query_gate, app.state.stream_gate, budget)
    )  # proof documents (tianfu.api.proofs)
    app.include_router(private_router(service, app.state.query_gate))  # tianfu.api.private
    return app
