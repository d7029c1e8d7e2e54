"""The SDK's connection to one node: HTTP requests with busy retries, chain information,
blocks and the light client that verified reads use.

`tianfu.client.client.Client` builds on it (transactions, proofs, governance); see that
module for the trust model.
"""

from __future__ import annotations

import functools
import secrets
import ssl
import time
from typing import TYPE_CHECKING, Any, Self

import httpx

from tianfu.client.errors import ApiError, ClientError, ConnectionFailed, InvalidUrl
from tianfu.client.verify import LightClient, VerificationError
from tianfu.codec import CodecError, decode
from tianfu.crypto import ChainSuite, suite_for_scheme, suite_of
from tianfu.types import Block, BlockHeader, Genesis
from tianfu.types.genesis import decode_genesis

if TYPE_CHECKING:
    from tianfu.identity import Identity

DEFAULT_URL = "http://127.0.0.1:8701"
HEIGHT_TTL_S = 5.0  # how long a fetched chain height is reused for expiry computation

# How long a read refused as busy (429) or while the node cannot read its state (503) is
# retried, and a submission refused with 503 `state_unreadable`.
BUSY_RETRY_S = 10.0
_MAX_BUSY_WAIT_S = 2.0


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The certificate check of every HTTP client the SDK makes: httpx's default (certifi's
    CAs, or SSL_CERT_FILE / SSL_CERT_DIR), made once per process. Making one reads and
    parses the whole CA bundle (~50 ms of CPU), which each new `httpx.Client`, and so each
    `httpx.get`, otherwise repeats."""
    return httpx.create_ssl_context()


def http_get(url: str, **kw: Any) -> httpx.Response:
    """`httpx.get` (a connection of its own) with the shared `tls_context`."""
    return httpx.get(url, verify=tls_context(), **kw)


def check_url(url: str) -> str:
    """`url` without trailing slashes, if it is an http:// or https:// URL with a host and
    a valid port; else InvalidUrl saying what is wrong and what one looks like."""
    example = f"e.g. {DEFAULT_URL}"
    if not url.lower().startswith(("http://", "https://")):
        raise InvalidUrl(f"node URL {url!r} needs the scheme: http://... or https://..., {example}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidUrl(f"node URL {url!r} is not a valid URL ({exc}), {example}") from None
    if not parsed.host:
        raise InvalidUrl(f"node URL {url!r} names no host, {example}")
    port = _port_text(url)
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise InvalidUrl(f"node URL {url!r}: port {port} is not 1-65535, {example}")
    return url.rstrip("/")


def _port_text(url: str) -> str | None:
    """The port as written in `url`'s authority (httpx takes -1 or 99999 as written)."""
    authority = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host_port = authority.rsplit("@", 1)[-1]
    if host_port.startswith("["):  # [IPv6]:port
        _, _, rest = host_port.partition("]")
        return rest[1:] if rest.startswith(":") else None
    _, sep, port = host_port.rpartition(":")
    return port if sep else None


def _retry_after(resp: httpx.Response, attempt: int) -> float:
    """How long to wait before sending a request refused for now again: the node's Retry-After
    (capped), else a short backoff doubling per attempt; with jitter so that clients
    refused together do not come back together."""
    try:
        hint = float(resp.headers.get("retry-after", ""))
    except ValueError:
        hint = 0.05 * 2**attempt
    base = min(max(hint, 0.0), _MAX_BUSY_WAIT_S)
    return base * (0.5 + secrets.randbelow(1000) / 1000)


def _state_unreadable(resp: httpx.Response) -> bool:
    """Whether `resp` is a submission's 503 `state_unreadable`: the node could not check the
    transaction (its state unreadable) and did not keep it."""
    try:
        return resp.json().get("code") == "state_unreadable"
    except (ValueError, AttributeError):
        return False


def _again(resp: httpx.Response, method: str, path: str) -> bool:
    """Whether a request answered `resp` is sent again, unchanged, after a wait: a read
    refused as busy (429: before the request is looked at) or while the node cannot read
    its state (503); a single submission refused with 503 `state_unreadable` (not kept; the
    same bytes are the same transaction, which the chain runs at most once)."""
    status = resp.status_code
    if status == 429:
        # A busy refusal comes before the request is looked at (a private-data request's
        # nonce is not spent), so these are safe to send again byte for byte.
        return method == "GET" or path == "/v1/query" or path.startswith("/v1/private/")
    if status == 503:
        # A private-data request is not among them: its nonce may be spent by then.
        if method == "GET" or path == "/v1/query":
            return True
        return method == "POST" and path == "/v1/txs" and _state_unreadable(resp)
    return False


def _hex_field(doc: Any, *names: str) -> bytes:
    obj = doc
    for n in names:
        if not isinstance(obj, dict) or n not in obj:
            raise ClientError(f"malformed node response: no field {'.'.join(names)}")
        obj = obj[n]
    try:
        return bytes.fromhex(obj)
    except (TypeError, ValueError):
        raise ClientError(f"malformed node response: {'.'.join(names)} is not hex") from None


def _decode_raw(doc: Any, typ: type[Any], *names: str) -> Any:
    try:
        return decode(_hex_field(doc, *names), typ)
    except CodecError as exc:
        raise ClientError(f"malformed {typ.__name__} from node: {exc}") from None


def _json_object(resp: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object the node answered `what` with; any other answer (not JSON, nested
    past the parser's stack, or JSON but no object) is a `ClientError` saying so."""
    try:
        doc = resp.json()
    except (ValueError, RecursionError):
        raise ClientError(f"node sent a non-JSON answer to {what}") from None
    if not isinstance(doc, dict):
        raise ClientError(f"node sent an answer to {what} that is not a JSON object")
    return doc


def _count_field(doc: dict[str, Any], name: str, what: str) -> int:
    """`doc[name]`, a whole number >= 0 (a height, an index); else a `ClientError`."""
    if name not in doc:
        raise ClientError(f"malformed node answer to {what}: no field {name}")
    value = doc[name]
    if type(value) is not int or value < 0:
        raise ClientError(f"malformed node answer to {what}: {name} is not a whole number")
    return value


def _hash_hex(tx_hash: str | bytes) -> str:
    return tx_hash.hex() if isinstance(tx_hash, bytes) else tx_hash


class NodeConnection:
    """A connection to one node's REST API.

    `identity` signs transactions. The trust anchor for verified reads is `genesis` (a
    genesis you already hold) or `trust_genesis_hash` (the genesis is then fetched once from
    the node and accepted only if its hash matches). Without either, verified reads fail.
    `http` lets tests pass any `httpx.Client` (e.g. a FastAPI TestClient).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        identity: Identity | None = None,
        timeout: float = 30.0,
        genesis: Genesis | None = None,
        *,
        trust_genesis_hash: bytes | str | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = check_url(url)
        self.identity = identity
        self.timeout = timeout
        self.genesis = genesis
        if isinstance(trust_genesis_hash, str):
            trust_genesis_hash = bytes.fromhex(trust_genesis_hash)
        self.trust_genesis_hash = trust_genesis_hash
        self._http = (
            http
            if http is not None
            else httpx.Client(base_url=self.url, timeout=timeout, verify=tls_context())
        )
        self._own_http = http is None
        self._chain_id: str | None = genesis.chain_id if genesis else None
        self._height: tuple[int, float] | None = None
        # The chain's `tx_expiry_window` once a node refused an expiry as too far ahead (a
        # vote may narrow it to 1 block): expiries are capped at it from then on.
        self._expiry_window: int | None = None
        self._cert_registered = False
        self._light: LightClient | None = None
        # A read refused with 429 (the node's query limits) or 503 (its state unreadable),
        # and a submission refused with 503 `state_unreadable`, is retried for this long.
        self.busy_retry_s = BUSY_RETRY_S

    # --- plumbing ------------------------------------------------------------------------

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request; one the node turned away for now (`_again`: a read as busy or while
        its state is unreadable, a submission it could not check) is tried again after the
        wait the node asks for, for up to `busy_retry_s` in all."""
        # A plain read may also go again when its connection was closed under it.
        read = method == "GET" or path == "/v1/query"
        deadline = time.monotonic() + self.busy_retry_s
        attempt = 0
        while True:
            resp = self._send(method, path, read, **kw)
            if not _again(resp, method, path):
                break
            wait = _retry_after(resp, attempt)
            if time.monotonic() + wait > deadline:
                break
            time.sleep(wait)
            attempt += 1
        if resp.status_code >= 400:
            try:
                message = str(resp.json()["error"])
            except (ValueError, KeyError, TypeError):
                message = resp.text[:200] or resp.reason_phrase
            raise ApiError(resp.status_code, message)
        return resp

    def _send(self, method: str, path: str, read: bool, **kw: Any) -> httpx.Response:
        try:
            try:
                return self._http.request(method, path, **kw)
            except httpx.RemoteProtocolError:
                if not read:
                    raise
                # A kept-alive connection the node closed (idle past its keep-alive timeout)
                # as the request went out on it: no answer came. A read goes again, once,
                # on a new connection (httpx has dropped the closed one).
                return self._http.request(method, path, **kw)
        except httpx.ConnectError as exc:
            raise ConnectionFailed(f"cannot connect to {self.url}: {exc}") from None
        except httpx.TimeoutException:
            raise ConnectionFailed(f"request to {self.url}{path} timed out") from None
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"request to {self.url}{path} failed: {exc}") from None

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """An HTTP request to one of the node's routes (an application's own, such as the
        photo uploads); an answer of 400 or more raises `ApiError` with the node's message."""
        return self._request(method, path, **kw)

    def _get(self, path: str, **params: Any) -> Any:
        params = {k: v for k, v in params.items() if v is not None}
        try:
            return self._request("GET", path, params=params).json()
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's stack
            raise ClientError(f"node sent a non-JSON answer for {path}") from None

    def _get_object(self, path: str, **params: Any) -> dict[str, Any]:
        """`_get` of a route that answers a JSON object: any other JSON (null, a number, a
        text, an array) is the node's error, refused as a non-JSON answer is."""
        return _object_answer(self._get(path, **params), path)

    # --- chain information ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        doc = self._get_object("/v1/status")
        if type(doc.get("height")) is int and doc["height"] >= 0:
            self._height = (doc["height"], time.monotonic())
        return doc

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            chain_id = self.status().get("chain_id")
            if not isinstance(chain_id, str) or not chain_id:
                raise ClientError("malformed node answer to /v1/status: no chain_id")
            self._chain_id = chain_id
        return self._chain_id

    def _current_height(self) -> int:
        if self._height is None or time.monotonic() - self._height[1] > HEIGHT_TTL_S:
            self.status()
        if self._height is None:
            raise ClientError("malformed node answer to /v1/status: height is not a number")
        return self._height[0]

    def fetch_genesis(self) -> Genesis:
        """The node's genesis, decoded from its raw bytes (not trusted by itself)."""
        raw = _hex_field(self._get("/v1/genesis"), "raw")
        try:
            return decode_genesis(raw)  # either profile
        except CodecError as exc:
            raise ClientError(f"malformed Genesis from node: {exc}") from None

    def validators(self) -> list[dict[str, Any]]:
        return list(self._get("/v1/validators")["validators"])

    def orgs(self) -> list[dict[str, Any]]:
        return list(self._get("/v1/orgs")["orgs"])

    def contracts(self) -> list[dict[str, Any]]:
        return list(self._get("/v1/contracts")["contracts"])

    def metrics(self) -> str:
        return self._request("GET", "/metrics").text

    # --- blocks -----------------------------------------------------------------------------

    def block(self, height: int) -> Block:
        block: Block = _decode_raw(self._get(f"/v1/blocks/{int(height)}"), Block, "raw")
        if block.header.height != height:
            raise ClientError(f"node returned block {block.header.height} for height {height}")
        return block

    def blocks(self, from_: int | None = None, limit: int = 20) -> list[BlockHeader]:
        doc = self._get("/v1/blocks", **{"from": from_, "limit": limit})
        return [_decode_raw(h, BlockHeader, "raw") for h in doc["blocks"]]

    def block_raw(self, height: int) -> dict[str, Any]:
        return self._get_object(f"/v1/blocks/{int(height)}")

    def validator_chain_raw(self, height: int, after: int = 0) -> dict[str, Any]:
        """The validator-set changes after change `after` needed for block `height`."""
        return self._get_object("/v1/proofs/chain", height=height, after=after)

    # --- light client -------------------------------------------------------------------------

    @property
    def light_client(self) -> LightClient:
        """The light client over the trusted validator set (see the class docstring)."""
        if self._light is None:
            if self.genesis is None and self.trust_genesis_hash is not None:
                genesis = self.fetch_genesis()
                if genesis.hash != self.trust_genesis_hash:
                    raise VerificationError(
                        f"the node's genesis hash {genesis.hash.hex()} is not the trusted "
                        f"{self.trust_genesis_hash.hex()}"
                    )
                self.genesis = genesis
            if self.genesis is None:
                raise VerificationError(
                    "no trust anchor: give Client a genesis= or trust_genesis_hash= to verify reads"
                )
            self._light = LightClient.from_genesis(self.genesis, source=self)
        return self._light

    @property
    def suite(self) -> ChainSuite:
        """The chain's crypto suite: the trusted genesis's, else that of the identity's key,
        else the one the node's genesis names. Local hashes (a header's) use it."""
        if self.genesis is not None:
            return suite_of(self.genesis)
        if self.identity is not None:
            return suite_for_scheme(self.identity.keypair.scheme)
        return suite_of(self.fetch_genesis())


def _object_answer(answer: Any, path: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise ClientError(f"node sent an answer for {path} that is not a JSON object")
    return answer
