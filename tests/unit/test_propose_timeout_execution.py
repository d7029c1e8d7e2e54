"""Execute before vote, with a propose timeout that allows for the block's execution: a
proposal received before the timeout but still being executed when it fires gets its
prevote once executed, not a nil prevote."""

from __future__ import annotations

from test_consensus_core import BLOCK_A, A, make_core, of, proposal

from tianfu.consensus.messages import (
    BlockExecuted,
    ProposalReceived,
    SignVote,
    Start,
    Step,
    TimeoutFired,
)
from tianfu.types import NO_HASH, PREVOTE


def test_a_propose_timeout_during_the_proposals_execution_waits_for_it():
    """A proposal received before the propose timeout but still being executed when it
    fires (an 8 MB block on a loaded machine) got a nil prevote, every round. Now the
    timeout waits for the execution: valid -> prevote the block, invalid -> nil. Without
    a proposal, or with one that is not being executed, it prevotes nil at once."""
    for valid, expected in ((True, A), (False, NO_HASH)):
        core, _ = make_core()
        core.handle(Start())
        core.handle(ProposalReceived(proposal(1, 0, BLOCK_A)))
        assert of(core.handle(TimeoutFired(1, 0, Step.PROPOSE)), SignVote) == []
        assert core.step == Step.PROPOSE
        acts = core.handle(BlockExecuted(1, A, valid))
        assert of(acts, SignVote) == [SignVote(1, 0, PREVOTE, expected)]
    core, _ = make_core()
    core.handle(Start())
    acts = core.handle(TimeoutFired(1, 0, Step.PROPOSE))
    assert of(acts, SignVote) == [SignVote(1, 0, PREVOTE, NO_HASH)]
    # a re-proposal whose POL prevotes are missing is not executed: nil at the timeout
    core, _ = make_core(round=1)
    core.handle(Start())
    core.handle(TimeoutFired(1, 0, Step.PRECOMMIT))
    core.handle(ProposalReceived(proposal(1, 1, BLOCK_A, pol_round=0)))
    acts = core.handle(TimeoutFired(1, 1, Step.PROPOSE))
    assert of(acts, SignVote) == [SignVote(1, 1, PREVOTE, NO_HASH)]
