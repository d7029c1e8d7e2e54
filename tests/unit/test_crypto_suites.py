"""The signature schemes' shared base: names from the scheme ids, sizes checked before the
scheme's own check."""

from __future__ import annotations

import pytest

from tianfu.crypto import ECDSA_P256, ED25519, SM2, generate_keypair, get_suite
from tianfu.crypto.schemes import SCHEME_NAMES


@pytest.mark.parametrize("scheme", [ED25519, ECDSA_P256, SM2])
def test_each_scheme_verifies_its_own_signature_and_refuses_wrong_sizes(scheme: int) -> None:
    suite = get_suite(scheme)
    assert suite.scheme == scheme and suite.name == SCHEME_NAMES[scheme]
    key = generate_keypair(scheme)
    message = b"m" * 32
    signature = key.sign(message)
    assert len(key.public_key) == suite.public_key_size
    assert len(signature) == suite.signature_size
    assert suite.verify(key.public_key, message, signature)
    assert not suite.verify(key.public_key, b"n" * 32, signature)
    assert not suite.verify(key.public_key + b"\0", message, signature)
    assert not suite.verify(key.public_key[:-1], message, signature)
    assert not suite.verify(key.public_key, message, signature + b"\0")
    assert not suite.verify(key.public_key, message, signature[:-1])
    assert not suite.verify(b"", message, b"")
