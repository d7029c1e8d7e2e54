"""The crypto suites a chain may choose at genesis: their signature schemes and their hash.

A genesis names its suite (`Genesis.suite`); `tianfu.crypto.suite` implements them. Scheme
ids are those of `tianfu.crypto` (1 Ed25519, 2 ECDSA P-256, 3 SM2).
"""

from __future__ import annotations

from tianfu.codec import HASH_SUITES, SHA256, HashSuite

SUITE_SCHEMES: dict[str, frozenset[int]] = {
    "standard": frozenset({1, 2}),  # Ed25519, ECDSA P-256
    "sm2": frozenset({3}),  # SM2 (with SM3 and the standard user id)
}
SUITE_HASHES: dict[str, str] = {"standard": "sha256", "sm2": "sm3"}
_SCHEME_HASHES: dict[int, HashSuite] = {
    scheme: HASH_SUITES[SUITE_HASHES[name]]
    for name, schemes in SUITE_SCHEMES.items()
    for scheme in schemes
}


def hash_for_scheme(scheme: int) -> HashSuite:
    """The hash of the suite that accepts keys of `scheme` (SM3 for SM2 keys, else SHA-256):
    what a key's address and a transaction's id are computed with, on any chain and in any
    process."""
    return _SCHEME_HASHES.get(scheme, SHA256)
