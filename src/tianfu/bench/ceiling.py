"""The machine's ceiling: Ed25519 verifications per second per core, with the library the
node uses (libsodium through PyNaCl), turned into a transactions-per-second bound."""

from __future__ import annotations

import os
import time

import nacl.bindings


def verifies_per_core(seconds: float = 1.0, rounds: int = 5) -> float:
    """Ed25519 signature verifications per second on one core (`crypto_sign_open`).

    The best of `rounds` equal slices of `seconds`: on a shared machine a slice can lose
    the core to another process, and the ceiling is what the core can do, not what it
    happened to do while interrupted.
    """
    pk, sk = nacl.bindings.crypto_sign_keypair()
    signed = nacl.bindings.crypto_sign(os.urandom(120), sk)  # about a transaction body
    best = 0.0
    for _ in range(max(1, rounds)):
        n = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / max(1, rounds):
            for _ in range(50):
                nacl.bindings.crypto_sign_open(signed, pk)
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
