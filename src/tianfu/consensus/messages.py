"""Consensus messages: the signed Proposal, evidence, and the core's events and actions.

`Proposal` is the only wire message defined here; votes are `tianfu.types.Vote`. The
events (facts the driver tells the core) and actions (commands the core gives the
driver) are frozen dataclasses; `tianfu.consensus.core` documents the protocol between
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated

import msgspec

from tianfu.codec import check_version, encode, hash_domain
from tianfu.crypto.keys import KeyPair
from tianfu.crypto.suite import verify
from tianfu.types import CommitCertificate, ValidatorSet, Vote, VoteDomain
from tianfu.types.block import Hash
from tianfu.types.tx import ChainId, PubKey, Sig

MAX_BLOCK_BYTES = 16 << 20


class Step(IntEnum):
    """A round's steps; COMMIT means the height is decided and waits for `BlockCommitted`."""

    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2
    COMMIT = 3


class ProposalBody(msgspec.Struct, array_like=True, frozen=True):
    chain_id: ChainId
    height: int
    round: int
    pol_round: int
    block_hash: Hash


def proposal_signing_bytes(
    chain_id: str, height: int, round: int, pol_round: int, block_hash: bytes
) -> bytes:
    """What a proposer signs: the block is bound through its hash, not its bytes."""
    body = ProposalBody(chain_id, height, round, pol_round, block_hash)
    return hash_domain("tianfu/proposal/v1", encode(body))


class Proposal(msgspec.Struct, array_like=True, frozen=True):
    """A proposer's signed block proposal for (height, round).

    `pol_round` is Tendermint's valid round (-1 if none): the round in which 2f+1
    prevotes were seen for this block. `block` is the encoded block; it may be b"" when
    the receivers are known to hold it already (the driver then resolves it by hash).
    """

    version: int
    chain_id: ChainId
    height: int
    round: int
    pol_round: int
    block_hash: Hash
    block: Annotated[bytes, msgspec.Meta(max_length=MAX_BLOCK_BYTES)]
    proposer: PubKey
    signature: Sig

    def validate(self) -> None:
        check_version(self)
        if self.height < 1 or self.round < 0:
            raise ValueError("proposal height must be >= 1 and round >= 0")
        if not -1 <= self.pol_round < self.round:
            raise ValueError("proposal pol_round must be -1 or lower than its round")
        if len(self.block_hash) != 32:
            raise ValueError("proposal block hash must be 32 bytes")

    def signing_bytes(self) -> bytes:
        return proposal_signing_bytes(
            self.chain_id, self.height, self.round, self.pol_round, self.block_hash
        )


def sign_proposal(
    keypair: KeyPair,
    chain_id: str,
    height: int,
    round: int,
    pol_round: int,
    block_hash: bytes,
    block: bytes,
) -> Proposal:
    sig = keypair.sign(proposal_signing_bytes(chain_id, height, round, pol_round, block_hash))
    return Proposal(
        1, chain_id, height, round, pol_round, block_hash, block, keypair.public_key, sig
    )


def message_signing_bytes(msg: Vote | Proposal, domain: VoteDomain) -> bytes:
    """The bytes `msg` signed: a vote's on the chain of `domain`, a proposal's own."""
    return msg.signing_bytes(domain) if isinstance(msg, Vote) else msg.signing_bytes()


def verify_proposal(proposal: Proposal, validators: ValidatorSet) -> bool:
    v = validators.by_key(proposal.proposer)
    if v is None:
        return False
    return verify(v.scheme, v.public_key, proposal.signing_bytes(), proposal.signature)


# ---------------------------------------------------------------- evidence


@dataclass(frozen=True)
class DuplicateVoteEvidence:
    """Two votes of one validator for the same (height, round, type), different blocks."""

    vote_a: Vote
    vote_b: Vote


@dataclass(frozen=True)
class ConflictingProposalEvidence:
    """Two proposals of one proposer for the same (height, round), different blocks."""

    proposal_a: Proposal
    proposal_b: Proposal


Evidence = DuplicateVoteEvidence | ConflictingProposalEvidence


# ------------------------------------------------ what events and actions are about


@dataclass(frozen=True)
class AtRound:
    """A round of a height: the place most events and actions refer to."""

    height: int
    round: int


# ---------------------------------------------------------------- events (facts)


@dataclass(frozen=True)
class Start:
    """The driver is ready: start round 0 of the core's height."""


@dataclass(frozen=True)
class ProposalReceived:
    proposal: Proposal


@dataclass(frozen=True)
class VoteReceived:
    vote: Vote


@dataclass(frozen=True)
class TimeoutFired(AtRound):
    """The timeout that `ScheduleTimeout` set for (height, round, step) has expired."""

    step: Step


@dataclass(frozen=True)
class BlockExecuted:
    """Answer to `ExecuteBlock`: `valid` iff the block decodes, hashes to `block_hash`
    and executing it yields the roots its header claims."""

    height: int
    block_hash: bytes
    valid: bool


@dataclass(frozen=True)
class BlockBytesWrong:
    """Answer to `ExecuteBlock` when its bytes are not the block of `block_hash` (absent,
    not decoding, another header, or transactions other than the header's): nothing is
    known of that block; its bytes may come again from another copy."""

    height: int
    block_hash: bytes


@dataclass(frozen=True)
class ProposalBlockReady(AtRound):
    """Answer to `CreateProposalBlock`: a block the driver built and executed."""

    block_hash: bytes
    block: bytes


@dataclass(frozen=True)
class CommitReceived:
    """A block with its commit certificate for the core's height (catch-up / sync)."""

    block: bytes
    certificate: CommitCertificate


@dataclass(frozen=True)
class SkipToRound(AtRound):
    """Go to `round` of `height` now (a validator recovering its signer state, which may
    not sign in the rounds before it, moves there so that it can vote again)."""


@dataclass(frozen=True)
class BlockCommitted:
    """The driver has durably stored the decided block of `height`; move to height+1."""

    height: int
    next_validator_set: ValidatorSet


Event = (
    Start
    | ProposalReceived
    | VoteReceived
    | TimeoutFired
    | BlockExecuted
    | BlockBytesWrong
    | ProposalBlockReady
    | CommitReceived
    | BlockCommitted
    | SkipToRound
)


# ---------------------------------------------------------------- actions (commands)


@dataclass(frozen=True)
class Broadcast:
    """Send a signed message (our own, already accepted by the core) to all peers."""

    message: Proposal | Vote


@dataclass(frozen=True)
class SignProposal(AtRound):
    """Persist last-signed (h, r, PROPOSE), sign, then feed back `ProposalReceived`."""

    pol_round: int
    block_hash: bytes
    block: bytes


@dataclass(frozen=True)
class SignVote(AtRound):
    """Persist last-signed (h, r, type), sign, then feed back `VoteReceived`."""

    type: int
    block_hash: bytes


@dataclass(frozen=True)
class ScheduleTimeout(AtRound):
    """Feed back `fired()` after `delay_ms`."""

    step: Step
    delay_ms: int

    def fired(self) -> TimeoutFired:
        return TimeoutFired(self.height, self.round, self.step)


@dataclass(frozen=True)
class ExecuteBlock(AtRound):
    """Execute the block, answer `executed(valid)`, or `bytes_wrong()` if `block` is not
    the block of `block_hash`."""

    block_hash: bytes
    block: bytes

    def executed(self, valid: bool) -> BlockExecuted:
        return BlockExecuted(self.height, self.block_hash, valid)

    def bytes_wrong(self) -> BlockBytesWrong:
        return BlockBytesWrong(self.height, self.block_hash)


@dataclass(frozen=True)
class CreateProposalBlock(AtRound):
    """Build and execute a block to propose in this round, answer `ready(hash, block)`."""

    def ready(self, block_hash: bytes, block: bytes) -> ProposalBlockReady:
        return ProposalBlockReady(self.height, self.round, block_hash, block)


@dataclass(frozen=True)
class CommitBlock:
    """Store the decided block with its certificate, then answer `committed(...)`."""

    height: int
    block_hash: bytes
    block: bytes
    certificate: CommitCertificate

    def committed(self, next_validator_set: ValidatorSet) -> BlockCommitted:
        return BlockCommitted(self.height, next_validator_set)


@dataclass(frozen=True)
class RecordEvidence:
    evidence: Evidence


Action = (
    Broadcast
    | SignProposal
    | SignVote
    | ScheduleTimeout
    | ExecuteBlock
    | CreateProposalBlock
    | CommitBlock
    | RecordEvidence
)
