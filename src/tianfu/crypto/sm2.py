"""SM2 signatures (GB/T 32918.2 / GM/T 0003) with SM3 and the standard user id, via Tongsuo.

A signature is SM2 over SM3(Z_A || message), where Z_A = SM3(ENTL || ID || a || b || xG ||
yG || xA || yA) with the default user id "1234567812345678" (GM/T 0009), which is what
Tongsuo uses when no id is set (the standard's vectors in `tests/unit/test_sm2.py` check
it). Public keys are carried compressed (33 bytes, GB/T 32918.1 point compression);
signatures as r || s (64 bytes, each big-endian), re-encoded to DER for Tongsuo, with
1 <= r, s < n checked first. The library is `tongsuopy` (Tongsuo, the OpenSSL fork of the
OpenAtom foundation, bundled in the wheel); ADR 0022 records why.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from tianfu.crypto.schemes import SM2, CryptoError, CryptoSuite

try:  # the SM2 suite's library; the standard suite works without it
    from tongsuopy.crypto import hashes as _hashes
    from tongsuopy.crypto import serialization as _ser
    from tongsuopy.crypto.asymciphers import ec as _ec
    from tongsuopy.crypto.exceptions import InvalidSignature as _InvalidSignature
except ImportError:  # pragma: no cover - tongsuopy has wheels for the supported platforms
    _ec = None

# The curve order n of the SM2 recommended curve (GB/T 32918.5).
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
DEFAULT_USER_ID = b"1234567812345678"
PUBLIC_KEY_SIZE = 33
SIGNATURE_SIZE = 64
CURVE_OID = "1.2.156.10197.1.301"  # the SM2 curve (GB/T 33560)
SIGNATURE_OID = "1.2.156.10197.1.501"  # SM2 signature with SM3 (GM/T 0006)


def available() -> bool:
    return _ec is not None


def _require() -> Any:
    if _ec is None:
        raise CryptoError(
            "the SM2 suite needs the tongsuopy package (pip install tongsuopy); "
            "it has wheels for Linux x86_64, macOS and Windows"
        )
    return _ec


def _sig_algorithm() -> Any:
    return _require().ECDSA(_hashes.SM3())


def generate_private_key() -> Any:
    """A new SM2 private key (a `tongsuopy` key object)."""
    return _require().generate_private_key(_ec.SM2())


def private_key_from_int(value: int) -> Any:
    """The SM2 private key with scalar `value` (1 <= value < n - 1)."""
    ec = _require()
    if not 1 <= value < N - 1:
        raise CryptoError("an SM2 private key must be in [1, n - 2]")
    return ec.derive_private_key(value, ec.SM2())


def is_private_key(key: object) -> bool:
    return _ec is not None and isinstance(key, _ec.EllipticCurvePrivateKey)


def check_private_key(private_key: Any) -> Any:
    """`private_key` if its scalar d is in [1, n - 2] (GB/T 32918.1 6.1: 1 + d must be
    invertible mod n) and its public key is [d]G; else CryptoError. Tongsuo reads from a
    key file d = n - 1, and then never returns from signing with it (it retries for an s
    forever), and the public key written beside d without checking it: the key pair then
    claimed that key and signed with d, so no signature verified under the key it showed
    (`cryptography` refuses such a P-256 file when it reads it)."""
    d = private_key.private_numbers().private_value
    if not 1 <= d < N - 1:
        raise CryptoError("an SM2 private key must be in [1, n - 2]")
    if public_bytes(private_key) != public_bytes(_require().derive_private_key(d, _ec.SM2())):
        raise CryptoError("the SM2 key file's public key is not the one of its private key")
    return private_key


def public_bytes(private_key: Any) -> bytes:
    """The compressed public key (33 bytes) of an SM2 private key."""
    return bytes(
        private_key.public_key().public_bytes(_ser.Encoding.X962, _ser.PublicFormat.CompressedPoint)
    )


def private_pem(private_key: Any) -> bytes:
    """PKCS#8 PEM (id-ecPublicKey with the SM2 curve), readable by OpenSSL 3 and GmSSL."""
    return bytes(
        private_key.private_bytes(_ser.Encoding.PEM, _ser.PrivateFormat.PKCS8, _ser.NoEncryption())
    )


def load_private_pem(data: bytes) -> Any:
    """An SM2 private key from PEM (PKCS#8 or SEC1); CryptoError if it is not one, or its
    scalar is not in [1, n - 2]."""
    ec = _require()
    try:
        key = _ser.load_pem_private_key(data, password=None)
    except Exception as exc:  # the library raises ValueError, TypeError, UnsupportedAlgorithm
        raise CryptoError(f"cannot read private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
        raise CryptoError("not an SM2 private key")
    return check_private_key(key)


def expand_public_key(public_key: bytes) -> bytes:
    """The uncompressed form (0x04 || x || y, 65 bytes) of a public key; CryptoError if the
    bytes are not a point of the curve."""
    key = _public_key(bytes(public_key))
    if key is None:
        raise CryptoError("not an SM2 public key")
    return bytes(key.public_bytes(_ser.Encoding.X962, _ser.PublicFormat.UncompressedPoint))


def compress_public_key(point: bytes) -> bytes:
    """The compressed form (33 bytes) of an encoded point (compressed or uncompressed)."""
    ec = _require()
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), bytes(point))
    except ValueError:
        raise CryptoError("not an SM2 public key") from None
    return bytes(key.public_bytes(_ser.Encoding.X962, _ser.PublicFormat.CompressedPoint))


@lru_cache(maxsize=8192)
def _public_key(encoded: bytes) -> Any:
    """The library's key object for an encoded point, or None if it is not a valid point.

    Decoding checks the point (and decompresses it): about a fifth of a verify's cost, so
    the keys of recent signers are kept.
    """
    ec = _require()
    if len(encoded) not in (33, 65):
        return None
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), encoded)
    except ValueError:
        return None


def sign_der(private_key: Any, message: bytes) -> bytes:
    """SM2-SM3 signature of `message` (default user id), DER-encoded as X.509 carries it."""
    if not is_private_key(private_key):
        raise CryptoError("not an SM2 private key")
    return bytes(private_key.sign(message, _sig_algorithm()))


class Sm2Suite(CryptoSuite):
    """SM2 with SM3 and the default user id; public keys compressed, signatures r || s."""

    scheme = SM2
    public_key_size = PUBLIC_KEY_SIZE
    signature_size = SIGNATURE_SIZE

    def sign(self, private_key: object, message: bytes) -> bytes:
        r, s = decode_dss_signature(sign_der(private_key, message))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def _verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        r = int.from_bytes(signature[:32], "big")
        s = int.from_bytes(signature[32:], "big")
        if not (0 < r < N and 0 < s < N):
            return False
        key = _public_key(bytes(public_key))
        if key is None:
            return False
        try:
            key.verify(encode_dss_signature(r, s), message, _sig_algorithm())
            return True
        except (_InvalidSignature, ValueError):
            return False

    def _point_problem(self, public_key: bytes) -> str | None:
        # The SM2 curve has cofactor 1: every point but the identity (which has no 33-byte
        # encoding) is of prime order; decoding checks the prefix and that x is on the curve.
        if public_key[:1] not in (b"\x02", b"\x03") or _public_key(public_key) is None:
            return "not a compressed point of the curve"
        return None
