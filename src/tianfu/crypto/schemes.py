"""Signature scheme ids (carried with every key), the base of a scheme's implementation and
the crypto layer's error type."""

ED25519 = 1
ECDSA_P256 = 2
SM2 = 3
SCHEME_NAMES = {ED25519: "ed25519", ECDSA_P256: "ecdsa-p256", SM2: "sm2"}


class CryptoError(ValueError):
    """Bad key, bad signature encoding, or unknown scheme."""


class CryptoSuite:
    """One signature scheme (`tianfu.crypto.suite.get_suite`): its id, name and sizes, and its
    signing and checking. `verify` refuses a key or a signature of another size before the
    scheme's own check (`_verify`)."""

    scheme: int
    public_key_size: int
    signature_size = 64

    @property
    def name(self) -> str:
        return SCHEME_NAMES[self.scheme]

    def sign(self, private_key: object, message: bytes) -> bytes:
        raise NotImplementedError

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is this scheme's signature of `message` by `public_key`; False
        for anything malformed."""
        if len(public_key) != self.public_key_size or len(signature) != self.signature_size:
            return False
        return self._verify(public_key, message, signature)

    def _verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        """The check of a key and a signature of the right sizes."""
        raise NotImplementedError
