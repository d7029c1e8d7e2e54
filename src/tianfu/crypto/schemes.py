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

    def check_public_key(self, public_key: bytes) -> None:
        """Raise CryptoError unless `public_key` is a key this scheme can verify signatures
        of: its size, and a point of the curve that is not the identity nor of small order
        (`_point_problem`)."""
        if len(public_key) != self.public_key_size:
            raise CryptoError(f"a {self.name} public key is {self.public_key_size} bytes")
        problem = self._point_problem(bytes(public_key))
        if problem is not None:
            raise CryptoError(f"not an {self.name} public key: {problem}")

    def _point_problem(self, public_key: bytes) -> str | None:
        """Why a key of the right size is not a usable point (None: it is)."""
        raise NotImplementedError
