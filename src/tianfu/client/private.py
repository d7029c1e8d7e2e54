"""SDK helpers for private data (docs/adr/0023-private-data.md): seal content for the reader
organisations, hand it to your organisation's node, read it back, wrap its key for another
organisation, and register your organisation's data key.

Writing a private record is three steps: `seal` the content for the readers' registered data
keys (read from the chain with a proof when the client has a trust anchor), commit the
contract call that records `hash`, `size` and the wrapped keys (`Sealed.readers`), then `put`
the blob to your own node, which checks it against the committed record. Every request to a
node's private-data routes is signed by the client's identity.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Unpack

from tianfu.client.client import Client
from tianfu.client.errors import ApiError, ClientError
from tianfu.codec import encode
from tianfu.privdata import REGISTRY
from tianfu.privdata.messages import PUT, READ, WRAP, AccessExtras, sign_access
from tianfu.privdata.sealing import (
    PUBLIC_KEY_BYTES,
    SealingError,
    content_hash,
    encrypt,
    new_content_key,
    new_private_key,
    open_sealed,
    public_key_of,
    wrap_key,
)

NOT_RECEIVED = "has not received"  # the node's 404 while it is still fetching the content


@dataclass(frozen=True)
class Sealed:
    """Content encrypted for its readers: what the contract records, and what to `put`."""

    blob: bytes  # stays off the ledger
    hash: str  # hex SHA-256 of the blob
    size: int
    readers: dict[str, bytes]  # organisation -> content key wrapped for its data key


def _hex(doc: dict[str, Any], name: str) -> bytes:
    try:
        return bytes.fromhex(doc[name])
    except (KeyError, TypeError, ValueError):
        raise ClientError(f"malformed node answer: no hex field {name!r}") from None


class PrivateData:
    """Private-data operations through an SDK `Client` (which signs the requests)."""

    def __init__(self, client: Client, registry: str = REGISTRY) -> None:
        self.client = client
        self.registry = registry

    # -- keys ---------------------------------------------------------------------------------
    def org_key(self, org: str) -> bytes:
        """`org`'s registered data public key: proven against the trust anchor when the
        client has one, else as the node says."""
        c = self.client
        if c.genesis is not None or c.trust_genesis_hash is not None:
            entry = c.read_state(self.registry, f"key:{org}", verify=True).value
        else:
            entry = c.query(self.registry, "key", org)
        key = entry.get("public_key") if isinstance(entry, dict) else None
        if not isinstance(key, bytes) or len(key) != PUBLIC_KEY_BYTES:
            raise ClientError(f"organisation {org} has registered no data key (privdata)")
        return key

    def node_keys(self) -> dict[str, dict[str, Any]]:
        """The data keys the client's node holds: org -> {public_key, registered}."""
        doc = self.client._get("/v1/private/keys")
        return {
            k["org"]: {"public_key": bytes.fromhex(k["public_key"]), "registered": k["registered"]}
            for k in doc.get("keys", [])
        }

    def register_node_key(self) -> int | None:
        """As an organisation admin: register the data key your node holds for your
        organisation, unless it is registered already. The new version, or None."""
        ident = self._identity()
        org = ident.info.org
        held = self.node_keys().get(org)
        if held is None:
            raise ClientError(f"the node at {self.client.url} holds no data key of {org}")
        if held["registered"]:
            return None
        return int(self.client.invoke(self.registry, "set_key", held["public_key"]).result)

    # -- writing ------------------------------------------------------------------------------
    def seal(self, plaintext: bytes, orgs: Iterable[str]) -> Sealed:
        """Encrypt `plaintext` with a fresh key wrapped for each organisation in `orgs`."""
        readers = sorted(set(orgs))
        if not readers:
            raise ClientError("private content needs at least one reader organisation")
        keys = {org: self.org_key(org) for org in readers}
        key = new_content_key()
        try:
            blob = encrypt(plaintext, key)
            wrapped = {org: wrap_key(key, pub) for org, pub in keys.items()}
        except SealingError as exc:
            raise ClientError(str(exc)) from None
        return Sealed(blob, content_hash(blob), len(blob), wrapped)

    def put(self, contract: str, sealed: Sealed | bytes) -> dict[str, Any]:
        """Hand the blob of a committed record to the client's node (of your organisation)."""
        blob = sealed.blob if isinstance(sealed, Sealed) else sealed
        return self._post(PUT, contract, content_hash(blob), blob=blob)

    # -- reading and granting -----------------------------------------------------------------
    def read(self, contract: str, content_hash_hex: str, *, wait_s: float = 0.0) -> bytes:
        """The plaintext of a record your organisation is granted, through your node.

        `wait_s`: how long to keep asking while the node is still fetching the content from
        a granted peer (a record written through another organisation's node)."""
        deadline = time.monotonic() + wait_s
        while True:
            reply = new_private_key()
            try:
                doc = self._post(READ, contract, content_hash_hex, reply_key=public_key_of(reply))
            except ApiError as exc:
                if exc.status == 404 and NOT_RECEIVED in str(exc) and time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                raise
            try:
                return open_sealed(reply, _hex(doc, "sealed"))
            except SealingError as exc:
                raise ClientError(f"the node's answer does not open: {exc}") from None

    def wrap(self, contract: str, content_hash_hex: str, org: str) -> bytes:
        """The record's content key wrapped for `org`'s registered data key (for a grant).

        Checked here: it is sealed for the key the chain has for `org`."""
        doc = self._post(WRAP, contract, content_hash_hex, target=org)
        if _hex(doc, "public_key") != self.org_key(org):
            raise ClientError(f"the node wrapped the key for another key than {org}'s")
        wrapped = _hex(doc, "wrapped")
        return wrapped

    def describe(self, contract: str, content_hash_hex: str) -> dict[str, Any]:
        """The record as the client's node sees it, and whether that node holds the content."""
        return dict(self.client._get(f"/v1/private/records/{contract}/{content_hash_hex}"))

    def status(self) -> dict[str, Any]:
        return dict(self.client._get("/v1/private/status"))

    # -- plumbing -----------------------------------------------------------------------------
    def _identity(self) -> Any:
        if self.client.identity is None:
            raise ClientError("private-data requests are signed: give the client an identity")
        return self.client.identity

    def _post(
        self, action: str, contract: str, content_hash_hex: str, **extras: Unpack[AccessExtras]
    ) -> dict[str, Any]:
        ident = self._identity()
        try:
            digest = bytes.fromhex(content_hash_hex)
        except ValueError:
            raise ClientError(f"malformed content hash {content_hash_hex[:80]!r}") from None
        req = sign_access(
            ident.keypair,
            chain_id=self.client.chain_id,
            action=action,
            contract=contract,
            content_hash=digest,
            time_ms=int(time.time() * 1000),
            nonce=secrets.token_bytes(16),
            **extras,
        )
        resp = self.client._request(
            "POST",
            f"/v1/private/{action}",
            content=encode(req),
            headers={"content-type": "application/octet-stream"},
        )
        try:
            return dict(resp.json())
        except ValueError:
            raise ClientError("node sent a non-JSON answer") from None
