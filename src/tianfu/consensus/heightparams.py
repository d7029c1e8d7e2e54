"""The consensus parameters of each height, and the driver's intervals taken from them.

Parameters of height h are `ledger.params(h)` (governance state of h - 2, ADR 0012); a
fixed `ConsensusParams` given to the driver overrides them (tests and simulations). The
gossip interval is the vote timeout unless set, the minimum block interval the
parameters' block interval unless set.
"""

from __future__ import annotations

from collections.abc import Callable

from tianfu.types import ConsensusParams


class HeightParams:
    """Where the driver reads the parameters of a height and the intervals they imply."""

    def __init__(
        self,
        ledger_params: Callable[[int], ConsensusParams],
        fixed: ConsensusParams | None,
        gossip_interval_ms: int | None,
        min_block_interval_ms: int | None,
    ) -> None:
        self._ledger_params = ledger_params
        self._fixed = fixed
        self._gossip_ms = gossip_interval_ms
        self._min_interval_ms = min_block_interval_ms

    def at(self, height: int) -> ConsensusParams:
        """The parameters of `height`: the fixed ones if given, else `ledger.params`."""
        if self._fixed is not None:
            return self._fixed
        return self._ledger_params(height)

    def gossip_interval(self, params: ConsensusParams) -> float:
        """Seconds between re-sends of this node's messages under `params`."""
        return (self._gossip_ms or params.timeout_vote_ms) / 1000

    def min_block_interval(self, params: ConsensusParams) -> float:
        """Seconds at least between two commits under `params`."""
        interval = self._min_interval_ms
        return (params.block_interval_ms if interval is None else interval) / 1000
