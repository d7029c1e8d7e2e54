"""Tendermint consensus: the pure core, vote sets and messages (driver and WAL live beside)."""

from tianfu.consensus.core import ConsensusCore, weighted_round_robin
from tianfu.consensus.messages import Proposal, Step, sign_proposal, verify_proposal
from tianfu.consensus.votes import AddResult, AddStatus, HeightVoteSet, VoteError, VoteSet

__all__ = [
    "AddResult",
    "AddStatus",
    "ConsensusCore",
    "HeightVoteSet",
    "Proposal",
    "Step",
    "VoteError",
    "VoteSet",
    "sign_proposal",
    "verify_proposal",
    "weighted_round_robin",
]
