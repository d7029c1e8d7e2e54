"""`certificate_signers`: the one signature check of commit certificates, used by nodes
(`verify_commit`) and by the light client (`proofs.commit.check_commit`)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tianfu.crypto import ED25519, CertificateError, certificate_signers, sign_vote, verify_commit
from tianfu.proofs.commit import CommitError, check_commit
from tianfu.testing.sim import sim_key
from tianfu.types import (
    PRECOMMIT,
    CommitCertificate,
    CommitSig,
    Validator,
    ValidatorSet,
    VoteDomain,
)

CHAIN = "certs"
HASH = bytes(range(32))
KEYS = [sim_key(i) for i in range(5)]
VALS = ValidatorSet(
    [Validator(f"v{i}", f"o{i}", ED25519, k.public_key, 1) for i, k in enumerate(KEYS[:4])]
)


def commit_sig(i: int, time_ms: int = 1_000 + 7) -> CommitSig:
    vote = sign_vote(KEYS[i], CHAIN, 3, 1, PRECOMMIT, HASH, time_ms + i)
    return CommitSig(vote.validator, vote.time_ms, vote.signature)


def cert(sigs: list[CommitSig]) -> CommitCertificate:
    return CommitCertificate(1, CHAIN, 3, 1, HASH, sigs)


def test_returns_the_signers_in_the_certificate_order() -> None:
    signed = certificate_signers(
        cert([commit_sig(2), commit_sig(0)]), VALS.by_key, VoteDomain(CHAIN)
    )
    assert [v.name for v in signed] == ["v2", "v0"]


def forged(sig: CommitSig) -> CommitSig:
    return CommitSig(sig.validator, sig.time_ms + 1, sig.signature)  # another time: not signed


@pytest.mark.parametrize(
    ("sigs", "reason"),
    [
        ([commit_sig(0), commit_sig(1), commit_sig(0)], "lists a validator twice"),
        ([commit_sig(0), commit_sig(4)], "outside the validator set"),
        ([commit_sig(0), forged(commit_sig(1))], "invalid signature of validator v1"),
    ],
)
def test_every_listed_signature_counts_for_node_and_light_client(sigs, reason) -> None:
    bad = cert([*sigs, commit_sig(2), commit_sig(3)])  # a quorum even without the bad one
    with pytest.raises(CertificateError, match=f"^certificate .*{reason}"):
        certificate_signers(bad, VALS.by_key, VoteDomain(CHAIN))
    with pytest.raises(CertificateError, match=reason):
        verify_commit(bad, HASH, 3, VALS, CHAIN)
    header = SimpleNamespace(chain_id=CHAIN, height=3, hash=HASH)  # what check_commit reads
    with pytest.raises(CommitError, match=f"^the commit certificate .*{reason}"):
        check_commit(bad, header, VALS, CHAIN)  # type: ignore[arg-type]
