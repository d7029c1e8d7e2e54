"""X.509 certificates of member organisations: CA creation, issuing, parsing and verification.

Each organisation has its own CA. A leaf certificate names its holder in the subject:
O = organisation, CN = the identity's name, OU = its kind (Fabric "NodeOU" style):
`admin`, `member` or `node`. Keys are Ed25519 (default) or ECDSA P-256, or SM2 on a chain
of the SM2 suite: an SM2 CA signs with SM2-with-SM3 and issues SM2 keys only
(`tianfu.identity.sm2certs`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tianfu import unicode14
from tianfu.crypto.address import address_of
from tianfu.crypto.keys import KeyPair, generate_keypair, public_key_from_x509
from tianfu.crypto.suite import ED25519, SM2, CryptoError
from tianfu.identity import sm2certs

KINDS = ("admin", "member", "node")
MAX_CERT_SIZE = 4096  # bytes of DER; same bound as a transaction's embedded certificate
MAX_NAME_LENGTH = 64  # X.509 upper bound for CN / O / OU
CLOCK_SKEW = dt.timedelta(minutes=5)  # not_before is back-dated by this much

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class IdentityError(ValueError):
    """A certificate or identity file that is malformed, unsupported or not trusted."""


@dataclass(frozen=True)
class CertInfo:
    """What the chain needs to know from a certificate."""

    org: str  # subject O
    name: str  # subject CN
    kind: str  # subject OU ("" when absent, as in a CA certificate)
    scheme: int
    public_key: bytes  # raw bytes, as in transactions (Ed25519 32, P-256 compressed 33)
    serial: int
    not_before_ms: int
    not_after_ms: int
    der: bytes
    is_ca: bool = False

    @property
    def address(self) -> str:
        return address_of(self.scheme, self.public_key)


def _check_label(what: str, value: str) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME_LENGTH:
        raise IdentityError(f"{what} must be a string of 1 to {MAX_NAME_LENGTH} characters")
    # printable as Unicode 14.0 (CPython 3.11) has it, on every Python version (`unicode14`)
    if not unicode14.isprintable(value) or value != value.strip():
        raise IdentityError(
            f"{what} {unicode14.fix_repr(repr(value))} has control characters or surrounding spaces"
        )


def _sign_algorithm(key: KeyPair) -> hashes.SHA256 | None:
    return None if key.scheme == ED25519 else hashes.SHA256()


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def create_ca(org: str, scheme: int = ED25519, days: int = 3650) -> tuple[KeyPair, bytes]:
    """A new self-signed organisation CA: (CA key, CA certificate DER)."""
    _check_label("organisation name", org)
    if len(org) + 3 > MAX_NAME_LENGTH:
        raise IdentityError(f"organisation name is longer than {MAX_NAME_LENGTH - 3} characters")
    try:
        key = generate_keypair(scheme)
    except CryptoError as exc:
        raise IdentityError(str(exc)) from None
    now = _now()
    if scheme == SM2:
        try:
            der = sm2certs.build(
                issuer_key=key,
                issuer_name=None,
                subject={"organization_name": org, "common_name": f"{org} CA"},
                public_key=key.public_key,
                serial=x509.random_serial_number(),
                not_before=now - CLOCK_SKEW,
                not_after=now + dt.timedelta(days=days),
                ca=True,
            )
        except sm2certs.Sm2CertError as exc:
            raise IdentityError(str(exc)) from None
        return key, der
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{org} CA"),
        ]
    )
    public = key.private.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(ca=True),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key.private, _sign_algorithm(key))
    )
    return key, cert.public_bytes(serialization.Encoding.DER)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA's key signs certificates and CRLs; an admin's, member's or node's signs data."""
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _public_of(public_key: KeyPair | PublicKey) -> PublicKey:
    if isinstance(public_key, KeyPair):
        if public_key.scheme == SM2:
            raise IdentityError("only an SM2 CA issues certificates for SM2 keys")
        return public_key.private.public_key()
    if isinstance(public_key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        try:
            public_key_from_x509(public_key)  # rejects curves other than P-256
        except CryptoError as exc:
            raise IdentityError(str(exc)) from None
        return public_key
    raise IdentityError(f"unsupported public key type {type(public_key).__name__}")


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at `pos`."""
    if pos + 2 > len(data):
        raise IdentityError("truncated DER element")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if not 1 <= n <= 2 or pos + n > len(data):
            raise IdentityError("bad DER length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise IdentityError("DER element overruns its container")
    return tag, pos, pos + length


def _check_signature_bits(der: bytes) -> None:
    """Reject a signature BIT STRING with unused bits: a second byte form of the same
    certificate that cryptography would otherwise accept (DER malleability)."""
    _, start, end = _tlv(der, 0)
    _, _, pos = _tlv(der, start)  # tbsCertificate
    _, _, pos = _tlv(der, pos)  # signatureAlgorithm
    tag, bits, bits_end = _tlv(der, pos)
    if end != len(der) or bits_end != end or tag != 0x03 or bits == bits_end or der[bits] != 0:
        raise IdentityError("non-canonical certificate signature encoding")


def _load(der: bytes, what: str) -> x509.Certificate:
    if not isinstance(der, bytes | bytearray):
        raise IdentityError(f"{what} must be DER bytes")
    if len(der) > MAX_CERT_SIZE:
        raise IdentityError(f"{what} of {len(der)} bytes exceeds the limit of {MAX_CERT_SIZE}")
    try:
        cert = x509.load_der_x509_certificate(bytes(der))
        # Parts of the certificate are parsed lazily: touch them all here, so that a
        # malformed field raises IdentityError at load time, not a stray error at first use.
        cert.issuer, cert.subject, cert.extensions  # noqa: B018
        cert.not_valid_before_utc, cert.not_valid_after_utc, cert.signature  # noqa: B018
        if sm2certs.public_key(cert) is None:
            cert.public_key()
    except Exception as exc:  # untrusted bytes: cryptography raises many unrelated types
        # (ValueError, InvalidVersion, DuplicateExtension, UnsupportedGeneralNameType, ...)
        raise IdentityError(f"malformed {what}: {exc}") from None
    try:
        _check_signature_bits(bytes(der))
    except IdentityError as exc:
        raise IdentityError(f"malformed {what}: {exc}") from None
    return cert


def _one(name: x509.Name, oid: x509.ObjectIdentifier, label: str, *, required: bool) -> str:
    attrs = name.get_attributes_for_oid(oid)
    if len(attrs) > 1:
        raise IdentityError(f"certificate subject has {len(attrs)} {label} attributes")
    if not attrs:
        if required:
            raise IdentityError(f"certificate subject has no {label}")
        return ""
    value = attrs[0].value
    if not isinstance(value, str):
        raise IdentityError(f"certificate subject {label} is not a string")
    return value


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return bool(bc.ca)


def issue_cert(
    ca_key: KeyPair,
    ca_cert_der: bytes,
    name: str,
    kind: str,
    public_key: KeyPair | PublicKey,
    days: int = 825,
) -> bytes:
    """Issue a leaf certificate (DER) of `kind` for `name`, signed by the organisation CA."""
    _check_label("name", name)
    if kind not in KINDS:
        raise IdentityError(f"certificate kind must be one of {', '.join(KINDS)}, not {kind!r}")
    ca = _load(ca_cert_der, "CA certificate")
    if not _is_ca(ca):
        raise IdentityError("the issuing certificate is not a CA certificate")
    ca_info = _info(ca, ca_cert_der)
    if (ca_info.scheme, ca_info.public_key) != (ca_key.scheme, ca_key.public_key):
        raise IdentityError("the CA key does not match the CA certificate")
    org = _one(ca.subject, NameOID.ORGANIZATION_NAME, "O", required=True)
    now = _now()
    not_after = min(now + dt.timedelta(days=days), ca.not_valid_after_utc)
    if ca_key.scheme == SM2:
        return _issue_sm2(ca_key, ca_cert_der, org, name, kind, public_key, now, not_after)
    ca_public = ca.public_key()
    public = _public_of(public_key)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, kind),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(ca=False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public),  # type: ignore[arg-type]
            critical=False,
        )
    )
    cert = builder.sign(ca_key.private, _sign_algorithm(ca_key))
    return cert.public_bytes(serialization.Encoding.DER)


def _issue_sm2(
    ca_key: KeyPair,
    ca_cert_der: bytes,
    org: str,
    name: str,
    kind: str,
    public_key: KeyPair | PublicKey,
    now: dt.datetime,
    not_after: dt.datetime,
) -> bytes:
    """`issue_cert` by an SM2 CA: the subject key must be SM2 too."""
    if not isinstance(public_key, KeyPair) or public_key.scheme != SM2:
        raise IdentityError("an SM2 CA issues certificates for SM2 keys only")
    try:
        return sm2certs.build(
            issuer_key=ca_key,
            issuer_name=sm2certs.subject_name(ca_cert_der),
            subject={
                "organization_name": org,
                "organizational_unit_name": kind,
                "common_name": name,
            },
            public_key=public_key.public_key,
            serial=x509.random_serial_number(),
            not_before=now - CLOCK_SKEW,
            not_after=not_after,
            ca=False,
            issuer_key_id=sm2certs.key_identifier(ca_key.public_key),
        )
    except sm2certs.Sm2CertError as exc:
        raise IdentityError(str(exc)) from None


def _scheme_and_key(cert: x509.Certificate) -> tuple[int, bytes]:
    """(scheme, raw public key) of the certificate's subject."""
    try:
        sm2_key = sm2certs.public_key(cert)
        if sm2_key is not None:
            return SM2, sm2_key
        return public_key_from_x509(cert.public_key())
    except (CryptoError, ValueError) as exc:  # Sm2CertError is a ValueError
        raise IdentityError(f"unsupported certificate key: {exc}") from None


def _info(cert: x509.Certificate, der: bytes) -> CertInfo:
    scheme, raw = _scheme_and_key(cert)
    try:
        org = _one(cert.subject, NameOID.ORGANIZATION_NAME, "O", required=True)
        name = _one(cert.subject, NameOID.COMMON_NAME, "CN", required=True)
        kind = _one(cert.subject, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU", required=False)
        is_ca = _is_ca(cert)
        not_before = _ms(cert.not_valid_before_utc)
        not_after = _ms(cert.not_valid_after_utc)
    except (ValueError, TypeError) as exc:  # e.g. a malformed extension, parsed lazily
        raise IdentityError(f"malformed certificate: {exc}") from None
    return CertInfo(
        org, name, kind, scheme, raw, cert.serial_number, not_before, not_after, bytes(der), is_ca
    )


def cert_info(der: bytes) -> CertInfo:
    """Parse a certificate; `IdentityError` if it is malformed or its key is unsupported."""
    return _info(_load(der, "certificate"), der)


def verify_cert(der: bytes, ca_cert_der: bytes, at_ms: int | None = None) -> CertInfo:
    """Check that `der` is a leaf certificate validly issued by the CA `ca_cert_der`.

    Raises `IdentityError` unless the issuer is the CA's subject, the CA's signature
    verifies, the subject O is the CA's O, the OU is one of `KINDS`, the certificate is
    not itself a CA, and (when `at_ms` is given) both it and the CA are valid at `at_ms`.
    """
    ca = _load(ca_cert_der, "CA certificate")
    cert = _load(der, "certificate")
    ca_info = _info(ca, ca_cert_der)
    info = _info(cert, der)
    if not ca_info.is_ca:
        raise IdentityError("the trust anchor is not a CA certificate")
    if cert.issuer != ca.subject:
        raise IdentityError(
            f"certificate is issued by {cert.issuer.rfc4514_string()!r}, "
            f"not by {ca.subject.rfc4514_string()!r}"
        )
    if ca_info.scheme == SM2:
        try:
            sm2certs.check_signature(cert, ca_info.public_key)
        except sm2certs.Sm2CertError as exc:
            raise IdentityError(str(exc)) from None
    else:
        try:
            cert.verify_directly_issued_by(ca)
        except InvalidSignature:
            raise IdentityError("the CA signature on the certificate does not verify") from None
        except (ValueError, TypeError) as exc:  # also an SM2-SM3 signature by a non-SM2 CA
            raise IdentityError(f"cannot verify the certificate signature: {exc}") from None
    if info.org != ca_info.org:
        raise IdentityError(
            f"certificate organisation {info.org!r} is not the CA's {ca_info.org!r}"
        )
    if info.is_ca:
        raise IdentityError("a CA certificate cannot be used as an identity")
    if info.kind not in KINDS:
        raise IdentityError(f"certificate OU {info.kind!r} is not one of {', '.join(KINDS)}")
    if at_ms is not None:
        if not info.not_before_ms <= at_ms <= info.not_after_ms:
            raise IdentityError("certificate is not valid at this time (not yet valid or expired)")
        if not ca_info.not_before_ms <= at_ms <= ca_info.not_after_ms:
            raise IdentityError("the CA certificate is not valid at this time")
    return info


def der_to_pem(der: bytes) -> bytes:
    """PEM form of a DER certificate."""
    return _load(der, "certificate").public_bytes(serialization.Encoding.PEM)


def pem_to_der(pem: bytes) -> bytes:
    """DER form of a PEM certificate; `IdentityError` if it is not one."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise IdentityError(f"malformed PEM certificate: {exc}") from None
    return cert.public_bytes(serialization.Encoding.DER)
