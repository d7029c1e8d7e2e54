"""Conflicting-signature checker for fault tests: reads consensus WALs and commit certificates.

Every signed vote and proposal a node logged in its consensus WAL (its own and those it
received), every precommit in a stored commit certificate and in a header's last commit,
is recorded by (signer, height, round, step) with the hash of its sign bytes. Two
different sign bytes at one position are a double sign. Records are read from raw bytes
(`wal.scan`), so a live node's WAL is never truncated by the reader.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from tianfu.consensus.messages import Proposal
from tianfu.consensus.wal import WalProposal, WalVote, scan
from tianfu.types import PRECOMMIT, CommitCertificate, Vote, VoteDomain

STEP_OF = {1: 1, 2: 2}  # vote type -> step; a proposal is step 0

Position = tuple[bytes, int, int, int]  # (signer, height, round, step)


class SignatureLog:
    """Signatures seen so far, by position; `conflicts()` lists double signs."""

    def __init__(self, domain: VoteDomain | None = None) -> None:
        # Votes' bytes are those of one domain: two distinct messages of one position have
        # distinct bytes under any (a chain's own by default: the votes' chain id alone).
        self.domain = domain or VoteDomain("")
        self.seen: dict[Position, set[bytes]] = defaultdict(set)
        self.count = 0

    def add_vote(self, vote: Vote) -> None:
        self._add(
            (vote.validator, vote.height, vote.round, STEP_OF[vote.type]),
            vote.signing_bytes(self.domain),
        )

    def add_proposal(self, p: Proposal) -> None:
        self._add((p.proposer, p.height, p.round, 0), p.signing_bytes())

    def add_certificate(self, cert: CommitCertificate) -> None:
        for cs in cert.signatures:
            self._add(
                (cs.validator, cert.height, cert.round, STEP_OF[PRECOMMIT]),
                cert.signing_bytes(cs, self.domain),
            )

    def add_wal(self, path: Path) -> None:
        """Every signed message in the WAL file at `path` (read-only; a torn tail ends it)."""
        try:
            data = Path(path).read_bytes()
        except FileNotFoundError:
            return
        entries, _ = scan(data)
        for e in entries:
            if isinstance(e, WalVote):
                self.add_vote(e.vote)
            elif isinstance(e, WalProposal):
                self.add_proposal(e.proposal)

    def _add(self, pos: Position, sign_bytes: bytes) -> None:
        self.count += 1
        self.seen[pos].add(hashlib.sha256(sign_bytes).digest())

    def conflicts(self) -> list[str]:
        return [
            f"{signer.hex()[:12]} signed {len(digests)} different messages at height {h} "
            f"round {r} step {s}"
            for (signer, h, r, s), digests in sorted(self.seen.items())
            if len(digests) > 1
        ]
