"""CryptoSuite: the signature scheme and hash, selected by a scheme id carried with each key.

Ed25519 (PyNaCl/libsodium) is the default and the hot path; ECDSA P-256 (`cryptography`)
is offered for organisations whose HSMs or policies require it. A further suite (e.g.
SM2/SM3) plugs in by registering another `CryptoSuite` under a new id.
"""

from __future__ import annotations

from typing import Protocol

import nacl.bindings
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ED25519 = 1
ECDSA_P256 = 2


class CryptoError(ValueError):
    """Bad key, bad signature encoding, or unknown scheme."""


class CryptoSuite(Protocol):
    scheme: int
    name: str
    public_key_size: int
    signature_size: int

    def sign(self, private_key: object, message: bytes) -> bytes: ...

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool: ...


class Ed25519Suite:
    scheme = ED25519
    name = "ed25519"
    public_key_size = 32
    signature_size = 64

    def sign(self, private_key: object, message: bytes) -> bytes:
        assert isinstance(private_key, bytes) and len(private_key) == 64
        return nacl.bindings.crypto_sign(message, private_key)[:64]

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        if len(public_key) != 32 or len(signature) != 64:
            return False
        try:
            nacl.bindings.crypto_sign_open(signature + message, public_key)
            return True
        except Exception:  # nacl.exceptions.BadSignatureError, ValueError on bad points
            return False


class EcdsaP256Suite:
    """ECDSA over P-256 with SHA-256; public keys compressed (33 bytes), signatures r||s."""

    scheme = ECDSA_P256
    name = "ecdsa-p256"
    public_key_size = 33
    signature_size = 64

    def sign(self, private_key: object, message: bytes) -> bytes:
        assert isinstance(private_key, ec.EllipticCurvePrivateKey)
        der = private_key.sign(message, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        # Low-s normalisation: one valid signature per (key, message).
        n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        if s > n // 2:
            s = n - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        if len(public_key) != 33 or len(signature) != 64:
            return False
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        if not (0 < r < n and 0 < s <= n // 2):
            return False
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
            key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
            return True
        except (InvalidSignature, ValueError):
            return False


_SUITES: dict[int, CryptoSuite] = {ED25519: Ed25519Suite(), ECDSA_P256: EcdsaP256Suite()}


def get_suite(scheme: int) -> CryptoSuite:
    try:
        return _SUITES[scheme]
    except KeyError:
        raise CryptoError(f"unknown signature scheme {scheme}") from None


def verify(scheme: int, public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Verify a signature; False for any malformed key, signature or unknown scheme."""
    suite = _SUITES.get(scheme)
    if suite is None:
        return False
    return suite.verify(public_key, message, signature)
