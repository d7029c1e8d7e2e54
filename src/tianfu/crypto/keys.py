"""Key pairs of every scheme, with PEM (PKCS#8) storage usable by X.509 tooling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from tianfu.crypto import sm2
from tianfu.crypto.suite import ECDSA_P256, ED25519, SM2, CryptoError, get_suite

# Ed25519 and P-256 keys are `cryptography` objects; an SM2 key is a `tongsuopy` one.
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | Any


@dataclass(frozen=True)
class KeyPair:
    """A private key with its scheme and raw public key bytes."""

    scheme: int
    public_key: bytes
    private: PrivateKey
    _signing_key: object  # libsodium 64-byte secret for Ed25519, the key object for ECDSA

    def sign(self, message: bytes) -> bytes:
        return get_suite(self.scheme).sign(self._signing_key, message)

    def private_pem(self) -> bytes:
        if self.scheme == SM2:
            return sm2.private_pem(self.private)
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_private(cls, private: PrivateKey) -> KeyPair:
        if isinstance(private, ed25519.Ed25519PrivateKey):
            seed = private.private_bytes_raw()
            pub = private.public_key().public_bytes_raw()
            return cls(ED25519, pub, private, seed + pub)
        if isinstance(private, ec.EllipticCurvePrivateKey):
            if not isinstance(private.curve, ec.SECP256R1):
                raise CryptoError("only the P-256 curve is supported for ECDSA")
            pub = private.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
            )
            return cls(ECDSA_P256, pub, private, private)
        if sm2.is_private_key(private):
            sm2.check_private_key(private)  # d = n - 1 would sign forever
            return cls(SM2, sm2.public_bytes(private), private, private)
        raise CryptoError(f"unsupported key type {type(private).__name__}")


def generate_keypair(scheme: int = ED25519) -> KeyPair:
    if scheme == ED25519:
        return KeyPair.from_private(ed25519.Ed25519PrivateKey.generate())
    if scheme == ECDSA_P256:
        return KeyPair.from_private(ec.generate_private_key(ec.SECP256R1()))
    if scheme == SM2:
        return KeyPair.from_private(sm2.generate_private_key())
    raise CryptoError(f"unknown signature scheme {scheme}")


def load_private_key_pem(data: bytes) -> KeyPair:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except UnsupportedAlgorithm:  # not a curve `cryptography` knows: an SM2 key?
        return KeyPair.from_private(sm2.load_private_pem(data))
    except TypeError:  # a password-protected key (`cryptography` wants its password)
        raise CryptoError(
            "the private key is encrypted with a password; tianfu reads a key file without "
            "one (kept readable by its owner only, mode 0600): decrypt it, e.g. "
            "`openssl pkey -in key.pem -out plain.pem`, and put plain.pem in its place"
        ) from None
    except ValueError:
        raise CryptoError(
            "not a private key in PEM form (a key file starts with '-----BEGIN PRIVATE KEY-----'"
            " as `tianfu identity issue` writes it)"
        ) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise CryptoError(f"unsupported key type {type(key).__name__}")
    return KeyPair.from_private(key)


def public_key_from_x509(public: object) -> tuple[int, bytes]:
    """(scheme, raw public bytes) of a certificate's public key."""
    if isinstance(public, ed25519.Ed25519PublicKey):
        return ED25519, public.public_bytes_raw()
    if isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1):
        return ECDSA_P256, public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
    raise CryptoError(f"unsupported certificate key type {type(public).__name__}")
