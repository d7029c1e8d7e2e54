"""Fault injection in a node process, for fault runs and tests: network partitions, a skewed clock.

When a node runs with `TIANFU_FAULTS=1`, its p2p traffic goes through `PartitionFilter`,
which drops every frame to or from the organisations listed (one per line) in the file
`<data>/partition` — re-read once a second. Both sides of a split list each other, so the
connection stays up but nothing crosses it, like a black-holed link; and `clock()` shifts
the consensus driver's clock by `TIANFU_CLOCK_SKEW_MS`. Never enabled unless the variable
is set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ENV = "TIANFU_FAULTS"
CLOCK_SKEW_ENV = "TIANFU_CLOCK_SKEW_MS"


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def clock() -> Callable[[], float]:
    """The node's clock: `time.time`, shifted by `TIANFU_CLOCK_SKEW_MS` (may be negative)
    when fault injection is enabled, to test a validator whose clock is wrong."""
    skew = os.environ.get(CLOCK_SKEW_ENV, "") if enabled() else ""
    if not skew:
        return time.time
    offset = int(skew) / 1000

    def skewed() -> float:
        return time.time() + offset

    return skewed


class PartitionFilter:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._blocked: frozenset[str] = frozenset()
        self._checked = 0.0

    def blocked(self) -> frozenset[str]:
        now = time.monotonic()
        if now - self._checked >= 1.0:
            self._checked = now
            try:
                self._blocked = frozenset(
                    line.strip() for line in self.path.read_text().splitlines() if line.strip()
                )
            except FileNotFoundError:
                self._blocked = frozenset()
        return self._blocked

    def wrap_handler(self, handler: Any) -> Any:
        def filtered(peer: Any, kind: int, payload: bytes) -> None:
            if peer.org not in self.blocked():
                handler(peer, kind, payload)

        return filtered

    def wrap_network(self, network: Any) -> Any:
        flt = self

        class Filtered:
            def broadcast(self, kind: int, payload: bytes) -> None:
                blocked = flt.blocked()
                for p in network.peers():
                    if p.org not in blocked:
                        network.send(p.address, kind, payload)

            def send(self, peer: str, kind: int, payload: bytes) -> None:
                blocked = flt.blocked()
                for p in network.peers():
                    if p.address == peer and p.org not in blocked:
                        network.send(peer, kind, payload)

            def peers(self) -> list[Any]:
                blocked = flt.blocked()
                return [p for p in network.peers() if p.org not in blocked]

        return Filtered()


def set_partition(data_dir: Path, blocked_orgs: list[str]) -> None:
    """Make the node whose data directory is `data_dir` drop traffic with these orgs."""
    (Path(data_dir) / "partition").write_text("\n".join(blocked_orgs) + "\n")


def heal(data_dir: Path) -> None:
    (Path(data_dir) / "partition").unlink(missing_ok=True)
