"""Signature schemes, keys and Merkle trees behind one CryptoSuite interface."""

from tianfu.crypto.keys import KeyPair, generate_keypair, load_private_key_pem
from tianfu.crypto.suite import (
    ECDSA_P256,
    ED25519,
    CryptoError,
    CryptoSuite,
    get_suite,
    verify,
)

__all__ = [
    "ECDSA_P256",
    "ED25519",
    "CryptoError",
    "CryptoSuite",
    "KeyPair",
    "generate_keypair",
    "get_suite",
    "load_private_key_pem",
    "verify",
]

from tianfu.crypto.signing import (  # noqa: E402
    CertificateError,
    sign_tx,
    sign_vote,
    verify_commit,
    verify_tx,
    verify_vote,
)

__all__ += ["CertificateError", "sign_tx", "sign_vote", "verify_commit", "verify_tx", "verify_vote"]
