"""The equivocations the consensus driver saw, kept until they are reported.

One evidence per kind (votes, proposals), key and height: the first double sign seen of
each validator at each height. Slashing takes one proof of a validator (it jails it, or
with `slash_double_sign` removes it: ADR 0025, ADR 0012), and members reading the record
learn of every height a key equivocated at. Keeping every conflict let equivocators push
another validator's evidence out before the reporter took it: a Byzantine validator makes
up to 18 conflicting votes a height (two vote types, the current round and
`MAX_FUTURE_ROUNDS` above it), so a few of them filled a book of the 256 newest in one
reporter interval. Now each of them adds one entry a height; pushing one out takes
`capacity` newer (key, height) pairs, more than the largest validator set
(`MAX_COMMIT_SIGS`) makes in a height.
"""

from __future__ import annotations

from collections import OrderedDict

from tianfu.consensus.messages import ConflictingProposalEvidence, Evidence
from tianfu.types.block import MAX_COMMIT_SIGS

CAPACITY = 2 * MAX_COMMIT_SIGS  # both kinds of every key of the largest validator set


class EvidenceBook:
    """The first evidence of each (kind, key, height), at most `capacity`, oldest out
    first."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._book: OrderedDict[tuple[str, bytes, int], Evidence] = OrderedDict()

    def add(self, evidence: Evidence) -> bool:
        """Keep `evidence` unless one of its kind, key and height is kept (False then)."""
        if isinstance(evidence, ConflictingProposalEvidence):
            p = evidence.proposal_a
            key = ("proposal", bytes(p.proposer), p.height)
        else:
            v = evidence.vote_a
            key = ("vote", bytes(v.validator), v.height)
        if key in self._book:
            return False
        self._book[key] = evidence
        while len(self._book) > self.capacity:
            self._book.popitem(last=False)
        return True

    def pending(self) -> list[Evidence]:
        return list(self._book.values())

    def __len__(self) -> int:
        return len(self._book)
