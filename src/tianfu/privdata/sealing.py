"""Encrypting private content and wrapping its key (libsodium through PyNaCl).

A record's content is encrypted once with a fresh 32-byte key: XChaCha20-Poly1305 (IETF),
a random 24-byte nonce — large enough that random nonces never repeat — and a fixed
associated-data tag. The stored *blob* is `MAGIC || nonce || ciphertext+tag`; its SHA-256
is the hash the ledger keeps. The content key is then wrapped for each reader
organisation's X25519 public key with a sealed box (an ephemeral X25519 key, the shared
secret hashed, XSalsa20-Poly1305): only the holder of that organisation's private key can
open it, and the writer keeps nothing that opens it later. The same sealed boxes carry a
plaintext from a node to the one client that asked for it (`seal_to` / `open_sealed`).
"""

from __future__ import annotations

import hashlib

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils
from nacl.public import PrivateKey, PublicKey, SealedBox

MAGIC = b"TFP1"  # format of the blob, version 1
KEY_BYTES = 32  # the content key
NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16
OVERHEAD = len(MAGIC) + NONCE_BYTES + TAG_BYTES  # blob bytes beyond the plaintext: 44
PUBLIC_KEY_BYTES = 32  # X25519
WRAPPED_KEY_BYTES = PUBLIC_KEY_BYTES + 16 + KEY_BYTES  # a sealed content key: 80
MAX_BLOB_BYTES = 1_000_000  # one record's stored content (fits one API request body)
MAX_PLAINTEXT_BYTES = MAX_BLOB_BYTES - OVERHEAD
AAD = b"tianfu/private/v1"


class SealingError(ValueError):
    """Content or a key that does not open: wrong key, damaged or malformed bytes."""


def new_content_key() -> bytes:
    return nacl.utils.random(KEY_BYTES)


def new_private_key() -> bytes:
    """A fresh X25519 private key (32 bytes)."""
    return bytes(PrivateKey.generate())


def public_key_of(private_key: bytes) -> bytes:
    return bytes(PrivateKey(private_key).public_key)


def encrypt(plaintext: bytes, key: bytes) -> bytes:
    """The blob of `plaintext` under the content `key`."""
    if len(key) != KEY_BYTES:
        raise SealingError(f"a content key is {KEY_BYTES} bytes")
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise SealingError(
            f"private content of {len(plaintext)} bytes exceeds the limit of "
            f"{MAX_PLAINTEXT_BYTES} bytes"
        )
    nonce = nacl.utils.random(NONCE_BYTES)
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, AAD, nonce, key)
    return MAGIC + nonce + ct


def decrypt(blob: bytes, key: bytes) -> bytes:
    """The plaintext of a blob; `SealingError` unless `key` opens it intact."""
    if len(key) != KEY_BYTES:
        raise SealingError(f"a content key is {KEY_BYTES} bytes")
    if len(blob) < OVERHEAD or blob[: len(MAGIC)] != MAGIC:
        raise SealingError("not a private-data blob (wrong format or truncated)")
    start = len(MAGIC)
    nonce = blob[start : start + NONCE_BYTES]
    try:
        return bytes(
            sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                blob[start + NONCE_BYTES :], AAD, nonce, key
            )
        )
    except nacl.exceptions.CryptoError:
        raise SealingError(
            "the content does not open with this key (wrong key or damaged)"
        ) from None


def content_hash(blob: bytes) -> str:
    """The hex SHA-256 of a blob: what the ledger records and every node checks."""
    return hashlib.sha256(blob).hexdigest()


def seal_to(public_key: bytes, data: bytes) -> bytes:
    """`data` sealed for the holder of the X25519 private key of `public_key`."""
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise SealingError(f"an X25519 public key is {PUBLIC_KEY_BYTES} bytes")
    try:
        return bytes(SealedBox(PublicKey(public_key)).encrypt(data))
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError):
        # libsodium refuses a low-order point (all zeros, ...): no shared secret.
        raise SealingError("not a usable X25519 public key") from None


def open_sealed(private_key: bytes, sealed: bytes) -> bytes:
    """Open a sealed box with an X25519 private key; `SealingError` if it is not for it."""
    try:
        return bytes(SealedBox(PrivateKey(private_key)).decrypt(sealed))
    except (nacl.exceptions.CryptoError, nacl.exceptions.RuntimeError, TypeError, ValueError):
        raise SealingError("the sealed box does not open with this key") from None


def wrap_key(content_key: bytes, public_key: bytes) -> bytes:
    """The content key sealed for one reader organisation's data public key."""
    if len(content_key) != KEY_BYTES:
        raise SealingError(f"a content key is {KEY_BYTES} bytes")
    return seal_to(public_key, content_key)


def unwrap_key(wrapped: bytes, private_key: bytes) -> bytes:
    """The content key from its wrapped form; `SealingError` if not wrapped for this key."""
    if len(wrapped) != WRAPPED_KEY_BYTES:
        raise SealingError(f"a wrapped key is {WRAPPED_KEY_BYTES} bytes")
    key = open_sealed(private_key, wrapped)
    if len(key) != KEY_BYTES:
        raise SealingError("the wrapped key is not a content key")
    return key
