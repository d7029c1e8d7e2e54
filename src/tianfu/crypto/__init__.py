"""Signature schemes, keys and Merkle trees behind one CryptoSuite interface."""

from tianfu.crypto.keys import KeyPair, generate_keypair, load_private_key_pem
from tianfu.crypto.suite import (
    CHAIN_SUITES,
    ECDSA_P256,
    ED25519,
    SM2,
    SM2_SUITE,
    STANDARD,
    ChainSuite,
    CryptoError,
    CryptoSuite,
    chain_suite,
    current_suite,
    get_suite,
    process_suite,
    scheme_name,
    set_chain_suite,
    suite_for_scheme,
    suite_of,
    verify,
)

__all__ = [
    "CHAIN_SUITES",
    "ECDSA_P256",
    "ED25519",
    "SM2",
    "SM2_SUITE",
    "STANDARD",
    "ChainSuite",
    "CryptoError",
    "CryptoSuite",
    "KeyPair",
    "chain_suite",
    "current_suite",
    "generate_keypair",
    "get_suite",
    "load_private_key_pem",
    "scheme_name",
    "process_suite",
    "set_chain_suite",
    "suite_for_scheme",
    "suite_of",
    "verify",
]

from tianfu.crypto.signing import (  # noqa: E402
    CertificateError,
    certificate_signers,
    sign_tx,
    sign_vote,
    verify_commit,
    verify_tx,
    verify_vote,
)

__all__ += [
    "CertificateError",
    "certificate_signers",
    "sign_tx",
    "sign_vote",
    "verify_commit",
    "verify_tx",
    "verify_vote",
]
