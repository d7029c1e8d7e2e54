"""Signature scheme ids (carried with every key) and the crypto layer's error type."""

ED25519 = 1
ECDSA_P256 = 2
SM2 = 3
SCHEME_NAMES = {ED25519: "ed25519", ECDSA_P256: "ecdsa-p256", SM2: "sm2"}


class CryptoError(ValueError):
    """Bad key, bad signature encoding, or unknown scheme."""
