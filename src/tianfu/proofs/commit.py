"""Checking commit certificates for a light client: quorum of a set, and trust in another.

The signatures are checked by `tianfu.crypto.certificate_signers`, as a node checks them
(`CommitCertificate.signing_bytes` says which bytes a commit signature signs).
"""

from __future__ import annotations

from dataclasses import dataclass

from tianfu.crypto import CertificateError, certificate_signers
from tianfu.types import BlockHeader, CommitCertificate, ValidatorSet, VoteDomain


class CommitError(ValueError):
    """A commit certificate that does not certify the header for the given set."""


@dataclass(frozen=True)
class Fraction:
    """A share of voting power: more than `numerator / denominator` of a set's total."""

    numerator: int
    denominator: int

    def exceeded_by(self, power: int, total: int) -> bool:
        return power * self.denominator > total * self.numerator

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator}"


TWO_THIRDS = Fraction(2, 3)
ONE_THIRD = Fraction(1, 3)


def check_commit(
    cert: CommitCertificate, header: BlockHeader, valset: ValidatorSet, chain: VoteDomain | str
) -> list[tuple[int, bytes]]:
    """Raise `CommitError` unless `cert` carries valid precommits for exactly `header` of
    validators of `valset` holding more than 2/3 of its power. Every signature listed must
    be valid and from a distinct member of the set (none is ignored). Returns the signers'
    (scheme, public key). The precommits are those of the chain of `chain` (a bare chain
    id: of a version-1 genesis)."""
    domain = VoteDomain.of(chain)
    chain_id = domain.chain_id
    if cert.chain_id != chain_id or header.chain_id != chain_id:
        raise CommitError(f"the commit certificate is not for chain {chain_id!r}")
    if cert.height != header.height:
        raise CommitError(
            f"the commit certificate is for height {cert.height}, not {header.height}"
        )
    if cert.block_hash != header.hash:
        raise CommitError("the commit certificate signs a different block hash")
    try:
        signed = certificate_signers(cert, valset.members().get, domain)
    except CertificateError as exc:
        raise CommitError(f"the commit {exc}") from None
    power = sum(v.power for v in signed)
    total = valset.total_power
    if not TWO_THIRDS.exceeded_by(power, total):
        raise CommitError(
            f"the signatures carry {power} of {total} voting power; more than 2/3 is needed"
        )
    return [(v.scheme, v.public_key) for v in signed]


def trusted_power(signers: list[tuple[int, bytes]], trusted: ValidatorSet) -> int:
    """The power of `trusted` validators among `signers` (matched by scheme and key; every
    member holding a signer's scheme and key counts)."""
    index = trusted.power_of_signers()
    return sum(index.get(s, 0) for s in set(signers))
