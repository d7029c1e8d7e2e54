"""CryptoSuite: the signature schemes, selected by a scheme id carried with each key, and the
chain suite chosen at genesis (which schemes a chain accepts and which hash it uses).

Ed25519 (PyNaCl/libsodium) is the default and the hot path; ECDSA P-256 (`cryptography`)
is offered for organisations whose HSMs or policies require it; both belong to the
"standard" chain suite, whose hash is SHA-256. The "sm2" chain suite accepts SM2 only
(GB/T 32918, with SM3 and the standard user id; `tianfu.crypto.sm2`) and hashes with SM3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import nacl.bindings
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from tianfu.codec import HASH_SUITES, HashSuite, hash_scope, set_default_hash
from tianfu.crypto.schemes import ECDSA_P256, ED25519, SCHEME_NAMES, SM2, CryptoError, CryptoSuite
from tianfu.crypto.sm2 import Sm2Suite
from tianfu.scoped import ScopedSetting
from tianfu.types.genesis import Genesis
from tianfu.types.suites import SUITE_HASHES, SUITE_SCHEMES


class Ed25519Suite(CryptoSuite):
    scheme = ED25519
    public_key_size = 32

    def sign(self, private_key: object, message: bytes) -> bytes:
        assert isinstance(private_key, bytes) and len(private_key) == 64
        return nacl.bindings.crypto_sign(message, private_key)[:64]

    def _verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        try:
            nacl.bindings.crypto_sign_open(signature + message, public_key)
            return True
        except Exception:  # nacl.exceptions.BadSignatureError, ValueError on bad points
            return False

    def _point_problem(self, public_key: bytes) -> str | None:
        # libsodium: a canonical encoding of a point of the curve, in the prime-order
        # subgroup, not of small order (the identity is of order 1).
        if nacl.bindings.crypto_core_ed25519_is_valid_point(public_key):
            return None
        return (
            "not a canonical point of the prime-order subgroup (off the curve, or of small order)"
        )


class EcdsaP256Suite(CryptoSuite):
    """ECDSA over P-256 with SHA-256; public keys compressed (33 bytes), signatures r||s."""

    scheme = ECDSA_P256
    public_key_size = 33

    def sign(self, private_key: object, message: bytes) -> bytes:
        assert isinstance(private_key, ec.EllipticCurvePrivateKey)
        der = private_key.sign(message, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        # Low-s normalisation: one valid signature per (key, message).
        n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        if s > n // 2:
            s = n - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def _verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
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

    def _point_problem(self, public_key: bytes) -> str | None:
        # P-256 has cofactor 1: every point but the identity (which has no 33-byte
        # encoding) is of prime order; decoding checks the prefix and that x is on the curve.
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
        except ValueError:
            return "not a compressed point of the curve"
        return None


_SUITES: dict[int, CryptoSuite] = {
    ED25519: Ed25519Suite(),
    ECDSA_P256: EcdsaP256Suite(),
    SM2: Sm2Suite(),
}


def get_suite(scheme: int) -> CryptoSuite:
    try:
        return _SUITES[scheme]
    except KeyError:
        raise CryptoError(f"unknown signature scheme {scheme}") from None


def verify(scheme: int, public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Verify a signature; False for any malformed key, signature, unknown scheme, or a
    scheme the chain suite in force does not accept (`current_suite()`)."""
    suite = _SUITES.get(scheme)
    if suite is None or scheme not in current_suite().schemes:
        return False
    return suite.verify(public_key, message, signature)


def scheme_name(scheme: int) -> str:
    return SCHEME_NAMES.get(scheme, f"scheme {scheme}")


# ---- the chain suite ------------------------------------------------------------------


@dataclass(frozen=True)
class ChainSuite:
    """What a chain signs and hashes with, fixed at genesis (`Genesis.suite` names it)."""

    name: str  # as recorded in the genesis
    hash: HashSuite  # every chain hash: transactions, blocks, votes, Merkle trees, addresses
    schemes: frozenset[int]  # the signature schemes accepted on the chain
    default_scheme: int  # for keys that tools create for the chain
    description: str

    def refusal(self, scheme: int) -> str | None:
        """Why a key or signature of `scheme` is refused on this chain (None: accepted)."""
        if scheme in self.schemes:
            return None
        accepted = ", ".join(scheme_name(s) for s in sorted(self.schemes))
        return (
            f"{scheme_name(scheme)} signatures are not accepted on this chain: its crypto "
            f"suite is {self.name!r} ({self.description}; accepts {accepted})"
        )

    @contextmanager
    def use(self) -> Iterator[None]:
        """Verify and hash as this chain does inside the block (this thread or task only):
        for code that checks data of a chain other than the process's own."""
        if current_suite() is self:
            yield
            return
        with hash_scope(self.hash), _chain_suite.scope(self):
            yield


def _suite(name: str, default_scheme: int, description: str) -> ChainSuite:
    hash_suite = HASH_SUITES[SUITE_HASHES[name]]
    return ChainSuite(name, hash_suite, SUITE_SCHEMES[name], default_scheme, description)


STANDARD = _suite("standard", ED25519, "Ed25519 or ECDSA P-256 signatures, SHA-256 hashes")
SM2_SUITE = _suite("sm2", SM2, "SM2 signatures with SM3, SM3 hashes: GB/T 32918, GB/T 32905")
CHAIN_SUITES: dict[str, ChainSuite] = {s.name: s for s in (STANDARD, SM2_SUITE)}

# The process's chain suite, and the one of an enclosing `ChainSuite.use()`.
_chain_suite: ScopedSetting[ChainSuite] = ScopedSetting("tianfu_chain_suite", STANDARD)


def chain_suite(name: str) -> ChainSuite:
    """The chain suite named `name` ("standard" or "sm2"); CryptoError if unknown."""
    suite = CHAIN_SUITES.get(name)
    if suite is None:
        raise CryptoError(
            f"unknown crypto suite {name!r}; known: {', '.join(sorted(CHAIN_SUITES))}"
        )
    return suite


def suite_of(genesis: Genesis) -> ChainSuite:
    """The chain suite a genesis names."""
    return chain_suite(genesis.suite)


def suite_for_scheme(scheme: int) -> ChainSuite:
    """The chain suite whose keys are of `scheme` (SM2 keys: "sm2"; others: "standard")."""
    for suite in CHAIN_SUITES.values():
        if scheme in suite.schemes:
            return suite
    raise CryptoError(f"unknown signature scheme {scheme}")


def current_suite() -> ChainSuite:
    """The chain suite in force here: the enclosing `use()` scope's, else the process's."""
    return _chain_suite.get()


def process_suite() -> ChainSuite:
    """The process's chain suite (`set_chain_suite`), whatever scope is entered."""
    return _chain_suite.default


def set_chain_suite(suite: ChainSuite) -> None:
    """Choose the process's chain suite: a node does it once, when it opens its genesis."""
    _chain_suite.default = suite
    set_default_hash(suite.hash)
