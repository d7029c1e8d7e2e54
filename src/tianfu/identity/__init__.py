"""X.509 identities: organisation CAs, certificates of admins, members and nodes."""

from tianfu.identity.certs import (
    KINDS,
    MAX_CERT_SIZE,
    CertInfo,
    IdentityError,
    cert_info,
    create_ca,
    der_to_pem,
    issue_cert,
    pem_to_der,
    verify_cert,
)
from tianfu.identity.files import Identity, OrgCA

__all__ = [
    "KINDS",
    "MAX_CERT_SIZE",
    "CertInfo",
    "Identity",
    "IdentityError",
    "OrgCA",
    "cert_info",
    "create_ca",
    "der_to_pem",
    "issue_cert",
    "pem_to_der",
    "verify_cert",
]
