"""SM2 X.509 certificates (GM/T 0015): built with asn1crypto, signed and checked with SM2-SM3.

`cryptography` parses SM2 certificates (subject, issuer, validity, extensions, signature)
but knows neither the SM2 curve nor the SM2-with-SM3 signature: this module builds the
TBSCertificate with asn1crypto, signs it with the CA's SM2 key (SM3 digest, default user
id "1234567812345678", as GM/T 0015 requires), reads an SM2 subject public key and checks
an SM2-SM3 signature. The layout is the one `certs.py` gives Ed25519 and P-256
certificates (same names, extensions and lifetimes), so `openssl x509 -text` shows the
same fields; `openssl verify` needs `-vfyopt distid:1234567812345678`, since OpenSSL 3
uses an empty user id unless told otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from asn1crypto import keys as akeys
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from tianfu.crypto import SM2, CryptoError, KeyPair, get_suite
from tianfu.crypto import sm2 as sm2key

EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"
SM2_CURVE_OID = sm2key.CURVE_OID
SM2_SIGNATURE_OID = sm2key.SIGNATURE_OID
_SIGNATURE_ALGORITHM = {"algorithm": SM2_SIGNATURE_OID}  # no parameters, as OpenSSL writes it


class Sm2CertError(ValueError):
    """An SM2 certificate that cannot be built, read or verified (certs.py reports it)."""


def _time(t: dt.datetime) -> ax509.Time:
    # RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
    return ax509.Time({"utc_time" if t.year < 2050 else "general_time": t})


def _spki(public_key: bytes) -> akeys.PublicKeyInfo:
    point = sm2key.expand_public_key(public_key)
    return akeys.PublicKeyInfo(
        {
            "algorithm": {
                "algorithm": EC_PUBLIC_KEY_OID,
                "parameters": akeys.ECDomainParameters(("named", SM2_CURVE_OID)),
            },
            "public_key": point,
        }
    )


def key_identifier(public_key: bytes) -> bytes:
    """RFC 5280 method 1: SHA-1 of the subject public key's bit string (as OpenSSL does)."""
    return hashlib.sha1(sm2key.expand_public_key(public_key)).digest()


def _ext(name: str, value: Any, critical: bool) -> dict[str, Any]:
    return {"extn_id": name, "critical": critical, "extn_value": value}


def build(
    *,
    issuer_key: KeyPair,
    issuer_name: ax509.Name | None,
    subject: dict[str, str],
    public_key: bytes,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool,
    issuer_key_id: bytes | None = None,
) -> bytes:
    """The DER of a certificate for the SM2 `public_key`, signed by the SM2 `issuer_key`.

    `subject` maps asn1crypto attribute names ("organization_name", ...) to values;
    `issuer_name` None makes it self-signed. A CA gets basicConstraints(CA, pathlen 0) and
    keyUsage(keyCertSign, cRLSign); a leaf basicConstraints(not CA), keyUsage
    (digitalSignature), extendedKeyUsage(clientAuth, serverAuth) and the CA's key id.
    """
    if issuer_key.scheme != SM2:
        raise Sm2CertError("an SM2 certificate is signed by an SM2 key")
    try:
        subject_name = ax509.Name.build(subject)
        ski = key_identifier(public_key)
        spki = _spki(public_key)
    except (CryptoError, ValueError, TypeError) as exc:
        raise Sm2CertError(f"cannot build the certificate: {exc}") from None
    if ca:
        extensions = [
            _ext("basic_constraints", {"ca": True, "path_len_constraint": 0}, True),
            _ext("key_usage", {"key_cert_sign", "crl_sign"}, True),
            _ext("key_identifier", ski, False),
        ]
    else:
        extensions = [
            # cA FALSE is the default, so DER omits it: an empty SEQUENCE (asn1crypto cannot
            # build one from a dict, but it keeps a parsed one).
            _ext("basic_constraints", ax509.BasicConstraints.load(b"\x30\x00"), True),
            _ext("key_usage", {"digital_signature"}, True),
            _ext("extended_key_usage", ["client_auth", "server_auth"], False),
            _ext("key_identifier", ski, False),
        ]
        if issuer_key_id is not None:
            extensions.append(
                _ext("authority_key_identifier", {"key_identifier": issuer_key_id}, False)
            )
    tbs = ax509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": _SIGNATURE_ALGORITHM,
            "issuer": subject_name if issuer_name is None else issuer_name,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": subject_name,
            "subject_public_key_info": spki,
            "extensions": extensions,
        }
    )
    tbs_der = tbs.dump()
    signature = sm2key.sign_der(issuer_key.private, tbs_der)
    cert = ax509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": _SIGNATURE_ALGORITHM,
            "signature_value": bytes(signature),
        }
    )
    return bytes(cert.dump())


def subject_name(ca_der: bytes) -> ax509.Name:
    """The subject of a certificate, as it is encoded there (an issuer name must match it)."""
    return ax509.Certificate.load(ca_der)["tbs_certificate"]["subject"]


def is_sm2(cert: x509.Certificate) -> bool:
    """True if the certificate's subject key is on the SM2 curve."""
    return _spki_of(cert) is not None


def _spki_of(cert: x509.Certificate) -> bytes | None:
    """The subject's SM2 point (65 bytes) if the key is an SM2 key, else None.

    Raises Sm2CertError for an SPKI that names the SM2 curve but is malformed.
    """
    if cert.public_key_algorithm_oid.dotted_string != EC_PUBLIC_KEY_OID:
        return None
    try:
        tbs = ax509.TbsCertificate.load(cert.tbs_certificate_bytes)
        spki = tbs["subject_public_key_info"]
        params = spki["algorithm"]["parameters"]
        if params.name != "named" or params.chosen.dotted != SM2_CURVE_OID:
            return None
        point = spki["public_key"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise Sm2CertError(f"malformed subject public key: {exc}") from None
    if not isinstance(point, bytes):
        raise Sm2CertError("malformed subject public key")
    return point


def public_key(cert: x509.Certificate) -> bytes | None:
    """The compressed SM2 public key (33 bytes) of the certificate's subject, or None if its
    key is not an SM2 key. Sm2CertError if it names SM2 but is not a point of the curve."""
    point = _spki_of(cert)
    if point is None:
        return None
    if len(point) != 65 or point[0] != 4:
        raise Sm2CertError("an SM2 subject key must be an uncompressed point (65 bytes)")
    try:
        return sm2key.compress_public_key(point)
    except CryptoError:
        raise Sm2CertError("the subject key is not a point of the SM2 curve") from None


def check_signature(cert: x509.Certificate, ca_public_key: bytes) -> None:
    """Raise Sm2CertError unless `cert` carries a valid SM2-SM3 signature of the CA key."""
    if cert.signature_algorithm_oid.dotted_string != SM2_SIGNATURE_OID:
        raise Sm2CertError(
            f"an SM2 CA signs with SM2-with-SM3 ({SM2_SIGNATURE_OID}), "
            f"not {cert.signature_algorithm_oid.dotted_string}"
        )
    try:
        tbs = ax509.TbsCertificate.load(cert.tbs_certificate_bytes)
        inner = tbs["signature"]
        outer = ax509.Certificate.load(cert.public_bytes(Encoding.DER))["signature_algorithm"]
        same = (
            inner.dump() == outer.dump() == ax509.SignedDigestAlgorithm(_SIGNATURE_ALGORITHM).dump()
        )
        r, s = decode_dss_signature(cert.signature)
    except (ValueError, TypeError, KeyError) as exc:
        raise Sm2CertError(f"malformed SM2 signature: {exc}") from None
    if not same:
        raise Sm2CertError("the signature algorithm is not encoded as SM2-with-SM3 alone")
    if not (0 < r < sm2key.N and 0 < s < sm2key.N):
        raise Sm2CertError("the SM2 signature is out of range")
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    message = cert.tbs_certificate_bytes
    # `Sm2Suite.verify` directly: a certificate is checked whatever chain suite is in force.
    if not get_suite(SM2).verify(ca_public_key, message, raw):
        raise Sm2CertError("the CA signature on the certificate does not verify")
