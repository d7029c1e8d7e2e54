"""The machine's ceiling: signature verifications per second per core of the chain's scheme,
with the library the node uses (Ed25519: libsodium through PyNaCl; SM2: Tongsuo through
`tianfu.crypto.sm2`), turned into a transactions-per-second bound."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import nacl.bindings

from tianfu.crypto import ED25519, generate_keypair, get_suite


def _one_verify(scheme: int) -> Callable[[], object]:
    """One signature check as a node does it for a transaction of `scheme`."""
    if scheme == ED25519:
        pk, sk = nacl.bindings.crypto_sign_keypair()
        signed = nacl.bindings.crypto_sign(os.urandom(120), sk)  # about a transaction body
        return lambda: nacl.bindings.crypto_sign_open(signed, pk)
    # Other schemes sign the transaction's 32-byte hash, through the suite the node uses
    # (its key cache warm, as for a recent signer).
    key = generate_keypair(scheme)
    message = os.urandom(32)
    signature = key.sign(message)
    suite = get_suite(scheme)
    if not suite.verify(key.public_key, message, signature):
        raise RuntimeError(f"the {suite.name} suite does not verify its own signature")
    return lambda: suite.verify(key.public_key, message, signature)


def verifies_per_core(seconds: float = 1.0, rounds: int = 5, scheme: int = ED25519) -> float:
    """Signature verifications of `scheme` (default Ed25519) per second on one core.

    The best of `rounds` equal slices of `seconds`: on a shared machine a slice can lose
    the core to another process, and the ceiling is what the core can do, not what it
    happened to do while interrupted.
    """
    check = _one_verify(scheme)
    best = 0.0
    for _ in range(max(1, rounds)):
        n = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / max(1, rounds):
            for _ in range(50):
                check()
            n += 50
        best = max(best, n / elapsed)
    return best


def ceiling_tps(verifies_per_s_per_core: float, cores: int, validators: int) -> float:
    """Transactions per second the machine could finalize if verifying each transaction's
    signature once on every validator were the only cost: all cores verify, and every
    validator (all on this machine) must verify every transaction."""
    if cores < 1 or validators < 1:
        raise ValueError("cores and validators must be at least 1")
    return verifies_per_s_per_core * cores / validators
