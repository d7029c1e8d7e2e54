"""Wire formats of private data: signed API requests and the p2p fetch messages.

An API request (`AccessRequest`) is signed by a member identity, like a transaction:
the signature covers `hash_domain("tianfu/private-access/v1", encode(body))`, and the body
names the chain, the action, the record, a time and a nonce (a request is accepted within
`MAX_SKEW_MS` of the node's clock, once). A read names an X25519 `reply_key`: the node seals
the plaintext to it, so only the client that made the request can open the answer.

Between nodes (mutual TLS; the peer's organisation comes from its node certificate):
`FetchRequest` asks one peer for a blob by (contract, hash); `FetchResponse` answers with
the blob, or with nothing when that peer's organisation is not granted or the blob is not
there; `Have` tells granted peers that a node now holds a blob.
"""

from __future__ import annotations

from typing import Annotated, TypedDict, Unpack

import msgspec

from tianfu.codec import CodecError, check_version, encode, hash_domain
from tianfu.crypto import KeyPair
from tianfu.crypto.suite import suite_for_scheme, verify
from tianfu.privdata.sealing import MAX_BLOB_BYTES, PUBLIC_KEY_BYTES

ACCESS_TAG = "tianfu/private-access/v1"
PUT, READ, WRAP = "put", "read", "wrap"
ACTIONS = (PUT, READ, WRAP)
MAX_SKEW_MS = 5 * 60 * 1000
NONCE_BYTES = 16
MAX_REQUEST_BYTES = MAX_BLOB_BYTES + 4096  # a put carries the blob
MAX_FETCH_REQUEST_BYTES = 256
MAX_FETCH_RESPONSE_BYTES = MAX_BLOB_BYTES + 512

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*\Z")]
Hash32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
U64 = Annotated[int, msgspec.Meta(ge=0, le=(1 << 63) - 1)]
Blob = Annotated[bytes, msgspec.Meta(max_length=MAX_BLOB_BYTES)]


class AccessBody(msgspec.Struct, array_like=True, frozen=True):
    """What the requesting identity signs."""

    version: int
    chain_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    action: Annotated[str, msgspec.Meta(max_length=8)]
    contract: Name
    hash: Hash32  # the record's content hash
    target: Annotated[str, msgspec.Meta(max_length=64)]  # wrap: the organisation to wrap for
    reply_key: Annotated[bytes, msgspec.Meta(max_length=PUBLIC_KEY_BYTES)]  # read: X25519 key
    time_ms: U64
    nonce: Annotated[bytes, msgspec.Meta(min_length=NONCE_BYTES, max_length=NONCE_BYTES)]
    scheme: int
    signer: Annotated[bytes, msgspec.Meta(max_length=65)]

    def validate(self) -> None:
        check_version(self)
        if self.action not in ACTIONS:
            raise CodecError(f"unknown action {self.action!r} (one of {', '.join(ACTIONS)})")
        if (self.action == READ) != (len(self.reply_key) == PUBLIC_KEY_BYTES):
            raise CodecError("a read names a 32-byte reply key, and only a read does")
        if (self.action == WRAP) != bool(self.target):
            raise CodecError("a wrap names the target organisation, and only a wrap does")

    def signing_hash(self) -> bytes:
        return hash_domain(ACCESS_TAG, encode(self))


class AccessRequest(msgspec.Struct, array_like=True, frozen=True):
    body: AccessBody
    signature: Annotated[bytes, msgspec.Meta(max_length=72)]
    blob: Blob = b""  # a put: the content, whose SHA-256 is body.hash

    def validate(self) -> None:
        self.body.validate()
        if self.blob and self.body.action != PUT:
            raise CodecError("only a put carries content")

    def signature_ok(self) -> bool:
        body = self.body
        return verify(body.scheme, body.signer, body.signing_hash(), self.signature)


class AccessExtras(TypedDict, total=False):
    """What one action adds to its request (none by default): a wrap's target organisation,
    a read's reply key, a put's content."""

    target: str
    reply_key: bytes
    blob: bytes


def sign_access(
    keypair: KeyPair,
    *,
    chain_id: str,
    action: str,
    contract: str,
    content_hash: bytes,
    time_ms: int,
    nonce: bytes,
    **extras: Unpack[AccessExtras],
) -> AccessRequest:
    body = AccessBody(
        1,
        chain_id,
        action,
        contract,
        content_hash,
        extras.get("target", ""),
        extras.get("reply_key", b""),
        time_ms,
        nonce,
        keypair.scheme,
        keypair.public_key,
    )
    # The signed hash is the one of the key's chain suite (SM3 for an SM2 key), whatever
    # this process hashes with: the node checks it with its chain's suite.
    with suite_for_scheme(keypair.scheme).use():
        signing_hash = body.signing_hash()
    return AccessRequest(body, keypair.sign(signing_hash), extras.get("blob", b""))


# -- p2p ------------------------------------------------------------------------------------
OK, UNAVAILABLE = 0, 1


class FetchRequest(msgspec.Struct, array_like=True, frozen=True):
    version: int
    request_id: U64
    contract: Name
    hash: Hash32

    def validate(self) -> None:
        check_version(self)


class FetchResponse(msgspec.Struct, array_like=True, frozen=True):
    version: int
    request_id: U64
    contract: Name
    hash: Hash32
    status: Annotated[int, msgspec.Meta(ge=0, le=1)]
    blob: Blob = b""

    def validate(self) -> None:
        check_version(self)
        if self.status != OK and self.blob:
            raise CodecError("a refusal carries no content")


class Have(msgspec.Struct, array_like=True, frozen=True):
    version: int
    contract: Name
    hash: Hash32

    def validate(self) -> None:
        check_version(self)
