"""Bounds on what one request may cost a node: body size per route (the `BodyLimit`
middleware, in front of every route), integer ranges of parameters, and how many contract
queries run at once (`QueryGate`).

A body larger than its route's limit is refused with 413 and the connection is closed — from
its Content-Length before a byte of it is read, and otherwise (chunked) as soon as the bytes
read pass the limit, so an oversized body is never held in memory. The limit is the node's
`max_body_bytes`, except for the JSON forms of the submission routes, whose hex doubles it.

Event streams (WebSockets) are bounded like queries, by a gate of their own: each one holds a
subscription and is sent every matching event or block, so their number is what they cost.
How often one client address may open one is bounded too (`QueryGate(opens_per_s=)`), and
how often all clients together may (`opens_node_per_s`): each open is a handshake and a
subscription set up, so a client opening and closing streams in a loop, or many addresses
each at its own rate, would otherwise cost the node that work without ever holding more
than a few open.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tianfu.api.batch import BATCH_PATH, json_body_limit
from tianfu.api.errors import ApiError
from tianfu.consensus.peers import PeerBucketTable
from tianfu.netaddr import embedded_ipv4
from tianfu.ratelimit import TokenBucket

TX_PATH = "/v1/txs"
MAX_HEIGHT = (1 << 63) - 1  # heights, page sizes: what the store's integers hold
MAX_WAIT_S = 120.0  # longest wait for a commit a request may ask for
DEFAULT_QUERY_CONCURRENCY = 4  # contract queries running at once, all clients together
DEFAULT_QUERY_CONCURRENCY_PER_CLIENT = 2  # ... and from one client address
DEFAULT_STREAMS = 64  # event streams (WebSockets) open at once, all clients together
DEFAULT_STREAMS_PER_CLIENT = 8  # ... and from one client address
DEFAULT_STREAM_OPENS_PER_S = 2.0  # event streams one client address may open per second,
DEFAULT_STREAM_OPENS_BURST = 16  # ... after a burst of this many
DEFAULT_STREAM_OPENS_NODE_PER_S = 16.0  # event streams all clients together may open per s,
DEFAULT_STREAM_OPENS_NODE_BURST = 64  # ... after a burst of this many (DEFAULT_STREAMS)


class BodyTooLarge(HTTPException):
    """A request body over its route's limit (413; the connection is closed after it).

    A FastAPI `HTTPException`, so that FastAPI's own body reading passes it on unchanged."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        if size is None:
            message = f"request body exceeds the limit of {limit} bytes"
        else:
            message = f"request body of {size} bytes exceeds the limit of {limit}"
        super().__init__(413, message, headers={"connection": "close"})


@dataclass(frozen=True)
class BodyLimits:
    """The body limit of each route: `base` bytes (the node's `max_body_bytes`), and for the
    JSON forms of the submission routes what their hex of `base` bytes needs."""

    base: int

    def limit(self, path: str, is_json: bool) -> int:
        if is_json:
            if path == TX_PATH:
                return 2 * self.base + 1024
            if path == BATCH_PATH:
                return json_body_limit(self.base)
        return self.base


class BodyLimit:
    """ASGI middleware enforcing `BodyLimits` on every HTTP request (module docstring)."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: bytes | None = None
        is_json = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"content-type":
                is_json = value[:16].lower() == b"application/json"
        limit = self.limits.limit(scope["path"], is_json)
        if declared is not None:
            # The server delivers exactly Content-Length bytes, so the declared size decides.
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size < 0:
                await _answer(scope, receive, send, 400, "invalid Content-Length header")
            elif size > limit:
                exc = BodyTooLarge(limit, size)
                await _answer(scope, receive, send, 413, exc.detail, close=True)
            else:
                await self.app(scope, receive, send)
            return
        total = 0

        async def limited() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge as exc:  # only when the application did not answer it itself
            if started:
                raise
            await _answer(scope, receive, send, 413, exc.detail, close=True)


async def _answer(
    scope: Scope, receive: Receive, send: Send, status: int, message: str, close: bool = False
) -> None:
    headers = {"connection": "close"} if close else None
    await JSONResponse({"error": message}, status_code=status, headers=headers)(
        scope, receive, send
    )


async def read_body(receive: Receive) -> bytes:
    """The whole request body (bounded by `BodyLimit`); `ClientDisconnect` if the client left."""
    message = await receive()
    if message["type"] != "http.request":
        raise ClientDisconnect()
    body = message.get("body", b"")
    if not message.get("more_body", False):
        return body  # the usual case: the whole body in one message
    chunks = [body]
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class QueryGate:
    """At most `total` contract queries run at once, at most `per_client` of them for one
    client address; a query beyond either is refused with 429 at once (never queued), so
    unauthenticated queries cannot take the node's CPU from block production.

    `what` names what is counted in the refusal ("queries running", or "event streams
    open" for the gate of the WebSocket streams, whose slot is held while a stream is open).

    `opens_per_s` (None: no bound): how many slots one client address may take per second,
    after a burst of `opens_burst` (a token bucket per client address, at most 4,096 of them
    kept: `PeerBucketTable`); a slot asked for past it is refused with 429 at once, with
    `Retry-After` the seconds by which the client has its next one. `opens_node_per_s` /
    `opens_node_burst` (None: no bound; only with `opens_per_s`): the same for all clients
    together, so that many addresses (an IPv6 host's prefixes, a botnet) opening each at
    its own rate cannot make the node set up slots without end; a slot past it is refused
    the same way, and spends nothing of its client's rate. Every slot asked for within the
    rates spends one of each, refused past the concurrency limits or not.

    Used on the event loop only (no lock): a slot is taken and released there, and the
    query itself runs in a worker thread while its slot is held."""

    def __init__(
        self,
        total: int = DEFAULT_QUERY_CONCURRENCY,
        per_client: int = DEFAULT_QUERY_CONCURRENCY_PER_CLIENT,
        what: str = "queries running",
        opens_per_s: float | None = None,
        opens_burst: int = DEFAULT_STREAM_OPENS_BURST,
        clock: Callable[[], float] = time.monotonic,
        opens_node_per_s: float | None = None,
        opens_node_burst: int = DEFAULT_STREAM_OPENS_NODE_BURST,
    ) -> None:
        if total < 1 or per_client < 1:
            raise ValueError("concurrency limits must be at least 1")
        if opens_per_s is not None and not (opens_per_s > 0 and opens_burst >= 1):
            raise ValueError("the open rate must be positive and its burst at least 1")
        if opens_node_per_s is not None and not (opens_node_per_s > 0 and opens_node_burst >= 1):
            raise ValueError("the node's open rate must be positive and its burst at least 1")
        if opens_node_per_s is not None and opens_per_s is None:
            raise ValueError("the node's open rate needs a client's open rate")
        self.total = total
        self.per_client = per_client
        self.what = what
        self.running = 0
        self.by_client: dict[str, int] = {}
        self.refused = 0
        self.clock = clock
        self.opens_per_s = opens_per_s
        self.opens = (
            None if opens_per_s is None else PeerBucketTable(opens_per_s, float(opens_burst))
        )
        self.opens_node = (
            None
            if opens_node_per_s is None
            else TokenBucket(opens_node_per_s, float(opens_node_burst), clock())
        )

    @contextlib.contextmanager
    def slot(self, client: str) -> Iterator[None]:
        if self.opens is not None and self.opens_per_s is not None:
            now = self.clock()
            bucket = self.opens.get(client, now)
            what = self.what.rsplit(" ", 1)[0]
            if not bucket.ready(now):
                self.refused += 1
                retry = max(1, math.ceil(1 / self.opens_per_s))  # one more token by then
                raise ApiError(
                    429,
                    f"too many new {what} from your address (at most "
                    f"{self.opens_per_s:g} per second after {bucket.burst:g}); retry later",
                    headers={"retry-after": str(retry)},
                )
            node = self.opens_node
            if node is not None and not node.take(now):
                self.refused += 1
                raise ApiError(
                    429,
                    f"too many new {what} on this node (at most {node.rate:g} per second "
                    f"after {node.burst:g}, all clients together); retry later",
                    headers={"retry-after": str(max(1, math.ceil(1 / node.rate)))},
                )
            bucket.take(now)
        mine = self.by_client.get(client, 0)
        if self.running >= self.total or mine >= self.per_client:
            self.refused += 1
            who = "this node" if self.running >= self.total else "your address"
            raise ApiError(
                429,
                f"too many {self.what} at once for {who} (at most {self.total} in all, "
                f"{self.per_client} per client); retry later",
                headers={"retry-after": "1"},
            )
        self.running += 1
        self.by_client[client] = mine + 1
        try:
            yield
        finally:
            self.running -= 1
            left = self.by_client[client] - 1
            if left:
                self.by_client[client] = left
            else:
                del self.by_client[client]


def client_address(scope: Scope) -> str:
    """The client a request's limits are counted for (`QueryGate`, event streams, the read
    budget): its IP address without the port; an IPv6 address as its /56 network
    (`IPV6_CLIENT_PREFIX`: a site is given a /64 at the least, commonly a /56 by an ISP, a
    /48 at most, and may use every address of it, each one a new client otherwise; a /48
    site is 256 clients, not 65,536, and up to 256 /64 subscribers of one provider share
    a client), and an IPv6 address that carries an IPv4 address as that IPv4 address
    (`tianfu.netaddr.embedded_ipv4`: the same client on a dual-stack socket, through 6to4,
    Teredo or a NAT64). X-Forwarded-For is read only on a connection from a proxy the operator declared
    trusted (`TrustedProxies`, none by default): a client could name any address in it."""
    client = scope.get("client")
    if not client:
        return "unknown"
    host = str(client[0])
    app = scope.get("app")
    proxies = getattr(getattr(app, "state", None), "trusted_proxies", None)
    if isinstance(proxies, TrustedProxies) and proxies:
        host = proxies.client(host, scope.get("headers", ()))
    return _client_key(host)


MAX_FORWARDED_HOPS = 16  # X-Forwarded-For entries looked at, from the right


class TrustedProxies:
    """The reverse proxies whose X-Forwarded-For names the client (`[api] trusted_proxies`
    of a node's config: addresses or networks). A request from one of them counts as from
    the address its proxy says it forwarded for: the header's entries are read from the
    right (the nearest hop first) while the hop that added them is trusted; the first entry
    added by a trusted proxy for an untrusted address is the client. An entry that is not
    an IP address ends the walk (the trusted hop's address counts), and so do
    `MAX_FORWARDED_HOPS` entries. What a client writes in the header itself is left of what
    its proxy appends, so it is never reached."""

    def __init__(self, networks: tuple[str, ...] | list[str] = ()) -> None:
        self.networks = tuple(_proxy_network(n) for n in networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == n.version and ip in n for n in self.networks)

    def client(self, peer: str, headers: Any) -> str:
        """The address a request from `peer` counts as (`peer` unless it is trusted)."""
        if not self.trusts(peer):
            return peer
        values = [value for name, value in headers if name.lower() == b"x-forwarded-for"]
        # Only the last MAX_FORWARDED_HOPS entries are looked at: split no more than those.
        joined = b",".join(values).decode("latin-1")
        entries = joined.rsplit(",", MAX_FORWARDED_HOPS)[-MAX_FORWARDED_HOPS:] if values else []
        current = peer
        for entry in reversed(entries):
            if not self.trusts(current):
                break
            try:
                current = str(ipaddress.ip_address(entry.strip()))
            except ValueError:
                break
        return current


def _proxy_network(declared: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A trusted proxy's network as `TrustedProxies` compares it: an IPv4-mapped network
    (`::ffff:10.9.0.5`, as a dual-stack socket shows an IPv4 proxy) as its IPv4 network,
    since a connection's mapped address is compared as IPv4. ValueError for a malformed
    one, and for a network of every address (`0.0.0.0/0`, `::/0`, `::ffff:0:0/96`): every
    connection would be trusted and every X-Forwarded-For entry read, so any client could
    name any address as itself."""
    try:
        net = ipaddress.ip_network(declared.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"trusted proxy: {exc}") from None
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96:
        mapped = net.network_address.ipv4_mapped
        if mapped is not None:
            net = ipaddress.IPv4Network((mapped, net.prefixlen - 96))
    if net.prefixlen == 0:
        raise ValueError(
            f"trusted proxy: {declared.strip()} is every address: any client could name "
            "itself in X-Forwarded-For; declare the proxies' own addresses or networks"
        )
    return net


# The IPv6 network one client is counted as: RIPE-690 and RFC 6177 advise an ISP to give
# an end site a /56 or a /48 (a /64 only to a single network, such as a phone), and a site
# may use any address of it. A /64 key made a /56 site 256 clients and a /48 site 65,536,
# each with its own per-client limits and stream-open rate; a /56 key makes a /56 site one
# client and a /48 site 256, at the price that phones of one mobile provider whose /64s
# share a /56 share one client's limits (the node-wide limits bind them all anyway).
IPV6_CLIENT_PREFIX = 56


def host_key(host: str) -> str:
    """The client a connection from address `host` counts as (`client_address` without a
    trusted proxy's X-Forwarded-For): the key of the per-client limits."""
    return _client_key(host)


@functools.lru_cache(maxsize=4096)
def _client_key(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host  # not an IP address (a test client's name, a Unix socket)
    if isinstance(ip, ipaddress.IPv6Address):
        ipv4 = embedded_ipv4(ip)
        if ipv4 is not None:
            return str(ipv4)
        # The zone of a scoped (link-local) address is the server's interface: left out.
        shift = 128 - IPV6_CLIENT_PREFIX
        return str(ipaddress.IPv6Network((int(ip) >> shift << shift, IPV6_CLIENT_PREFIX)))
    return str(ip)
