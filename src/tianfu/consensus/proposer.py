"""Proposer selection: who proposes each (height, round), by weighted round robin.

`weighted_round_robin(validators, height, round)` takes slot `height + round` of one
cycle of smooth weighted round robin (CometBFT-style priorities from zero), so each
validator proposes in proportion to its voting power, interleaved rather than in a row.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from math import gcd

from tianfu.types import ValidatorSet

ProposerSelection = Callable[[ValidatorSet, int, int], bytes]


@lru_cache(maxsize=64)
def _rotation(powers: tuple[int, ...]) -> tuple[int, ...]:
    """One cycle of smooth weighted round robin (CometBFT-style priorities from zero).

    Each step adds every validator's power to its priority, picks the highest (lowest
    index on ties) and subtracts the total from it. Over a cycle of total/gcd steps each
    validator is picked exactly power/gcd times, interleaved rather than in a row.
    """
    g = 0
    for p in powers:
        g = gcd(g, p)
    weights = [p // g for p in powers]
    total = sum(weights)
    prio = [0] * len(weights)
    seq = []
    for _ in range(total):
        for i, w in enumerate(weights):
            prio[i] += w
        best = max(range(len(prio)), key=lambda i: (prio[i], -i))
        prio[best] -= total
        seq.append(best)
    return tuple(seq)


def weighted_round_robin(validators: ValidatorSet, height: int, round: int) -> bytes:
    """Proposer of (height, round): slot height+round of the weighted rotation cycle."""
    seq = _rotation(tuple(v.power for v in validators.validators))
    return validators.validators[seq[(height + round) % len(seq)]].public_key
