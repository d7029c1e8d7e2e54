"""Seeds that failed during development, kept as regression tests (never skipped).

n=4 seeds below stalled forever (liveness) with a double-voting validator: an honest node
locked on a value whose POL included the equivocator's vote, while the others had counted
its other vote, so nobody could ever see the POL. Fixed by counting each of an
equivocator's votes for its own value (bounded) and relaying round / POL votes in the
simulator's gossip.
"""

import pytest

from tianfu.testing.byzantine import random_scenario

_LIVENESS_N4 = "1 9 15 21 27 33 37 45 69 81 93 95 97 101 109 113 117 121 137 145 149 155 157 169 177 185 189 193"
REGRESSIONS = [(4, int(s)) for s in _LIVENESS_N4.split()]


@pytest.mark.parametrize("n,seed", REGRESSIONS)
def test_regression_seed(n, seed):
    sim = random_scenario(n, seed).run()
    assert sim.check_safety() == []
    assert sim.check_liveness() == []
