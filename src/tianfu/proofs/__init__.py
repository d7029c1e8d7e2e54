"""Proofs that verify against the genesis alone: bundles, documents, the validator chain.

- `formats`: the binary `ProofBundle` (certified blocks, tx/receipt/state proofs, links);
- `valchain`: `TrustedHistory`, the validator sets a light client trusts and its rules;
- `verify`: checking a bundle; `documents`: the strict JSON documents and their kinds;
- `build`: assembling bundles and documents on a node (`ProofBuilder`).
"""

from tianfu.proofs.errors import VerificationError

__all__ = ["VerificationError"]
