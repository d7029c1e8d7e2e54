"""Timeouts grow with the round whatever the parameters say. A governance vote may set
`timeout_propose_ms` and `timeout_vote_ms` to 10 ms and `timeout_delta_ms` to 0 (all
within their bounds); on a network whose messages take 20-40 ms every round then timed out
before its proposal arrived, and the chain never decided another height (700 rounds of
height 1 in a minute, in the simulator). No vote can mend a chain that commits nothing."""

from tianfu.testing.sim import NetConfig, Simulation
from tianfu.types import ConsensusParams

FIXED_10_MS = ConsensusParams(
    timeout_propose_ms=10,
    timeout_vote_ms=10,
    timeout_delta_ms=0,
    block_interval_ms=0,
    empty_block_interval_ms=0,
)


def test_timeouts_that_a_vote_fixed_below_the_network_delay_still_decide():
    sim = Simulation(
        4,
        1,
        target_height=3,
        params=FIXED_10_MS,
        net=NetConfig(min_delay_ms=20, max_delay_ms=40),
        max_time_ms=20_000,
    ).run()
    assert sim.check_safety() == []
    assert sim.check_liveness() == []
