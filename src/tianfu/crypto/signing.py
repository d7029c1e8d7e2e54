"""Signing and verifying transactions, votes and commit certificates."""

from __future__ import annotations

from collections.abc import Callable

from tianfu.crypto.keys import KeyPair
from tianfu.crypto.suite import suite_for_scheme, verify
from tianfu.types import (
    CommitCertificate,
    Transaction,
    TxBody,
    Validator,
    ValidatorSet,
    Vote,
    VoteDomain,
    vote_signing_bytes,
)


class CertificateError(ValueError):
    """A commit certificate that does not prove a block was committed."""


def sign_tx(keypair: KeyPair, body: TxBody) -> Transaction:
    """Sign `body`. The signed hash is the one of the key's chain suite (SM3 for an SM2 key)
    whatever this process hashes with, and stays cached in the returned transaction."""
    if body.signer != keypair.public_key or body.scheme != keypair.scheme:
        raise ValueError("transaction signer does not match the signing key")
    with suite_for_scheme(keypair.scheme).use():
        tx = Transaction(body, b"")
        signed = Transaction(body, keypair.sign(tx.signing_hash()))
        signed.hash  # noqa: B018  (computed here, with the key's suite, and kept)
    return signed


def verify_tx(tx: Transaction) -> bool:
    return verify(tx.body.scheme, tx.body.signer, tx.signing_hash(), tx.signature)


def sign_vote(
    keypair: KeyPair,
    domain: VoteDomain | str,
    height: int,
    round: int,
    type: int,
    block_hash: bytes,
    time_ms: int = 0,
) -> Vote:
    """A signed vote on the chain of `domain` (a bare chain id: of a version-1 genesis);
    `time_ms` (BFT time) only for a precommit of a block, else 0."""
    d = VoteDomain.of(domain)
    with suite_for_scheme(keypair.scheme).use():
        sig = keypair.sign(vote_signing_bytes(d, height, round, type, block_hash, time_ms))
    return Vote(1, d.chain_id, height, round, type, block_hash, time_ms, keypair.public_key, sig)


def verify_vote(vote: Vote, validators: ValidatorSet, domain: VoteDomain) -> bool:
    """Whether `vote` is signed, for the chain of `domain`, by a member of `validators`."""
    v = validators.by_key(vote.validator)
    if v is None or vote.chain_id != domain.chain_id:
        return False
    return verify(v.scheme, v.public_key, vote.signing_bytes(domain), vote.signature)


# (scheme, public key, message, signature) -> this process already found the signature valid
SignatureKnown = Callable[[int, bytes, bytes, bytes], bool]


def certificate_signers(
    cert: CommitCertificate,
    member: Callable[[bytes], Validator | None],
    domain: VoteDomain,
    known: SignatureKnown | None = None,
) -> list[Validator]:
    """The validators whose precommits `cert` lists (`member` finds one by its key), each
    signature checked against its own precommit bytes, which include its time. Every listed
    signature counts, none is skipped: raises `CertificateError` for a validator listed
    twice, a key `member` does not know, or an invalid signature. A signature `known`
    says this process verified already (the same key, bytes and signature: a precommit
    checked when it arrived as a vote) is not verified again. The precommits are those of
    the chain of `domain`."""
    signers: dict[bytes, Validator] = {}  # key -> validator, in the certificate's order
    for cs in cert.signatures:
        if cs.validator in signers:
            raise CertificateError("certificate lists a validator twice")
        v = member(cs.validator)
        if v is None:
            raise CertificateError("certificate is signed by a key outside the validator set")
        msg = cert.signing_bytes(cs, domain)
        seen = known is not None and known(v.scheme, v.public_key, msg, cs.signature)
        if not seen and not verify(v.scheme, v.public_key, msg, cs.signature):
            raise CertificateError(
                f"certificate carries an invalid signature of validator {v.name}"
            )
        signers[cs.validator] = v
    return list(signers.values())


def verify_commit(
    cert: CommitCertificate,
    block_hash: bytes,
    height: int,
    validators: ValidatorSet,
    domain: VoteDomain | str,
    known: SignatureKnown | None = None,
) -> None:
    """Raise `CertificateError` unless `cert` carries >2/3 valid precommits for `block_hash`.

    This is the light-client check: it needs only the validator set of that height. Each
    signature is checked against its own precommit bytes, which include its time (once:
    see `certificate_signers` for `known`), on the chain of `domain` (a bare chain id: of
    a version-1 genesis).
    """
    d = VoteDomain.of(domain)
    if cert.chain_id != d.chain_id:
        raise CertificateError(f"certificate is for chain {cert.chain_id!r}, not {d.chain_id!r}")
    if cert.height != height:
        raise CertificateError(f"certificate is for height {cert.height}, not {height}")
    if cert.block_hash != block_hash:
        raise CertificateError("certificate signs a different block hash")
    try:
        cert.validate()
    except ValueError as exc:
        raise CertificateError(f"malformed certificate: {exc}") from None
    power = sum(v.power for v in certificate_signers(cert, validators.by_key, d, known))
    if power < validators.quorum():
        raise CertificateError(
            f"signatures carry {power} of {validators.total_power} voting power; "
            f"more than 2/3 ({validators.quorum()}) is needed"
        )
