"""Vote sets: votes of one (height, round, type) with voting-power quorum arithmetic.

A `VoteSet` counts each validator's power once towards "any" thresholds and once for
each block it voted for (an equivocator's conflicting votes are all counted, up to a
bound, and the first conflict is returned as `DuplicateVoteEvidence`). Signatures are NOT checked
here (the core checks them before adding); membership, height, round, type and chain
are. Thresholds: a quorum is more than 2/3 of the total power (`ValidatorSet.quorum()`),
"f+1" is more than 1/3 (`one_third_plus`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tianfu.consensus.messages import DuplicateVoteEvidence
from tianfu.types import PRECOMMIT, PREVOTE, CommitCertificate, CommitSig, ValidatorSet, Vote

MAX_VALUES_PER_VALIDATOR = 3


class VoteError(ValueError):
    """A vote that does not belong in this vote set."""


class AddStatus(Enum):
    ADDED = "added"
    DUPLICATE = "duplicate"
    CONFLICTING = "conflicting"


@dataclass(frozen=True)
class AddResult:
    status: AddStatus
    evidence: DuplicateVoteEvidence | None = None

    @property
    def added(self) -> bool:
        return self.status is AddStatus.ADDED


def one_third_plus(total_power: int) -> int:
    """Smallest voting power strictly greater than 1/3 of the total (f+1)."""
    return total_power // 3 + 1


@dataclass(eq=False)
class VoteSet:
    """Votes of one (height, round, type), counted by voting power."""

    chain_id: str
    height: int
    round: int
    type: int
    validators: ValidatorSet

    def __post_init__(self) -> None:
        if self.type not in (PREVOTE, PRECOMMIT):
            raise VoteError(f"unknown vote type {self.type}")
        validators = self.validators
        self._power = {v.public_key: v.power for v in validators.validators}
        self._order = {v.public_key: i for i, v in enumerate(validators.validators)}
        self.total_power = validators.total_power
        self.quorum = validators.quorum()
        self.one_third = one_third_plus(self.total_power)
        self._votes: dict[bytes, dict[bytes, Vote]] = {}  # validator -> block hash -> vote
        self._by_hash: dict[bytes, int] = {}
        self._sum = 0
        self._conflicting: set[bytes] = set()

    def get(self, validator: bytes) -> Vote | None:
        """The first vote of `validator` in this set."""
        votes = self._votes.get(validator)
        return next(iter(votes.values())) if votes else None

    def contains(self, vote: Vote) -> bool:
        """True if this very vote (same block hash and signature) is already counted."""
        votes = self._votes.get(vote.validator)
        return votes is not None and votes.get(vote.block_hash) == vote

    def add(self, vote: Vote) -> AddResult:
        """Count a (signature-checked) vote.

        A validator's votes for different blocks are all counted, each for its own block
        (up to `MAX_VALUES_PER_VALIDATOR`), as in the paper where every received message
        counts: an equivocator may then help a quorum form for either value, which keeps
        the protocol live when honest nodes saw different halves of its votes, and stays
        safe because two quorums for different blocks would need an honest validator in
        both. The first conflict is returned as evidence.
        """
        if (vote.chain_id, vote.height, vote.round, vote.type) != (
            self.chain_id,
            self.height,
            self.round,
            self.type,
        ):
            raise VoteError("vote is for another chain, height, round or type")
        power = self._power.get(vote.validator)
        if power is None:
            raise VoteError("vote from a key outside the validator set")
        votes = self._votes.get(vote.validator)
        if votes is None:
            self._votes[vote.validator] = {vote.block_hash: vote}
            self._by_hash[vote.block_hash] = self._by_hash.get(vote.block_hash, 0) + power
            self._sum += power
            return AddResult(AddStatus.ADDED)
        if vote.block_hash in votes:
            return AddResult(AddStatus.DUPLICATE)
        first = next(iter(votes.values()))
        evidence = None
        if vote.validator not in self._conflicting:
            self._conflicting.add(vote.validator)
            evidence = DuplicateVoteEvidence(first, vote)
        if len(votes) < MAX_VALUES_PER_VALIDATOR:
            votes[vote.block_hash] = vote
            self._by_hash[vote.block_hash] = self._by_hash.get(vote.block_hash, 0) + power
        return AddResult(AddStatus.CONFLICTING, evidence)

    def power_for(self, block_hash: bytes) -> int:
        return self._by_hash.get(block_hash, 0)

    def power_any(self) -> int:
        return self._sum

    def has_two_thirds_for(self, block_hash: bytes) -> bool:
        return self._by_hash.get(block_hash, 0) >= self.quorum

    def has_two_thirds_any(self) -> bool:
        return self._sum >= self.quorum

    def has_one_third_any(self) -> bool:
        return self._sum >= self.one_third

    def two_thirds_hash(self) -> bytes | None:
        """The block hash (possibly nil = b"") with a quorum, if any (at most one can)."""
        for h, p in self._by_hash.items():
            if p >= self.quorum:
                return h
        return None

    def votes(self) -> list[Vote]:
        return [v for votes in self._votes.values() for v in votes.values()]

    def conflicting(self) -> set[bytes]:
        """Validators seen voting for two different blocks here."""
        return set(self._conflicting)

    def make_certificate(self, block_hash: bytes) -> CommitCertificate:
        """The commit certificate of a precommit quorum for `block_hash`."""
        if self.type != PRECOMMIT:
            raise VoteError("only precommits form a commit certificate")
        if not block_hash or not self.has_two_thirds_for(block_hash):
            raise VoteError("no precommit quorum for this block")
        sigs = sorted(
            (votes[block_hash] for votes in self._votes.values() if block_hash in votes),
            key=lambda v: self._order[v.validator],
        )
        return CommitCertificate(
            1,
            self.chain_id,
            self.height,
            self.round,
            block_hash,
            [CommitSig(v.validator, v.time_ms, v.signature) for v in sigs],
        )


class HeightVoteSet:
    """Prevote and precommit `VoteSet`s of every round of one height."""

    def __init__(self, chain_id: str, height: int, validators: ValidatorSet) -> None:
        self.chain_id = chain_id
        self.height = height
        self.validators = validators
        self._sets: dict[tuple[int, int], VoteSet] = {}

    def get(self, round: int, type: int) -> VoteSet:
        key = (round, type)
        vs = self._sets.get(key)
        if vs is None:
            vs = VoteSet(self.chain_id, self.height, round, type, self.validators)
            self._sets[key] = vs
        return vs

    def prevotes(self, round: int) -> VoteSet:
        return self.get(round, PREVOTE)

    def precommits(self, round: int) -> VoteSet:
        return self.get(round, PRECOMMIT)

    def add(self, vote: Vote) -> AddResult:
        return self.get(vote.round, vote.type).add(vote)

    def rounds(self) -> list[int]:
        return sorted({r for r, _ in self._sets})

    def precommit_rounds(self) -> list[int]:
        return sorted(r for r, t in self._sets if t == PRECOMMIT)
