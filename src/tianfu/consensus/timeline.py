"""Where a height's wall time goes on one node: the driver's per-height timeline."""

from __future__ import annotations

import logging
import time
from collections import Counter

log = logging.getLogger("tianfu.consensus.driver")  # what the driver does, in its log


class HeightTimeline:
    """Where a height's wall time goes on this node: the first time each point of
    a height is reached, in seconds since the height started, with the process CPU time
    spent by then (all threads: a wait with little CPU is idle time), averaged per role
    (`proposer`: this node built the height's first proposal; `validator`) over the heights
    since the last report. `next_height` logs `line()` at INFO every `every` seconds.

    Points: `build` (the proposer takes transactions), `built`, `proposal_sent`,
    `proposal_in` (a proposal arrived from the network), `exec_begin`, `executed`,
    `prevote_sent`, `prevote_quorum` (our precommit is asked for), `precommit_sent`,
    `decided`, `stored`, `callbacks_done`, `next` (the next height starts).
    """

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.t0 = self.c0 = 0.0
        self.marks: dict[str, tuple[float, float]] = {}
        self.sums: dict[str, dict[str, list[float]]] = {}
        self.heights: Counter[str] = Counter()
        self.last_line = 0.0

    def begin(self, now: float) -> None:
        self.t0, self.c0 = now, time.process_time()
        self.marks = {}

    def mark(self, name: str, now: float) -> None:
        if name not in self.marks:
            self.marks[name] = (now - self.t0, time.process_time() - self.c0)

    def end(self, now: float) -> None:
        self.mark("next", now)
        role = "proposer" if "build" in self.marks else "validator"
        sums = self.sums.setdefault(role, {})
        for name, (wall, cpu) in self.marks.items():
            acc = sums.setdefault(name, [0.0, 0.0, 0.0])
            acc[0] += wall
            acc[1] += cpu
            acc[2] += 1
        self.heights[role] += 1

    def next_height(self, now: float) -> None:
        """The height ended at `now` and the next begins; log `line()` at INFO when due."""
        self.end(now)
        line = self.line(now)
        if line:
            log.info("consensus timeline: %s", line)
        self.begin(now)

    def report(self) -> dict[str, dict[str, tuple[float, float]]]:
        """{role: {point: (mean wall ms, mean CPU ms since the height started)}}, by time."""
        out = {}
        for role, sums in self.sums.items():
            points = sorted(sums.items(), key=lambda kv: kv[1][0] / kv[1][2])
            out[role] = {k: (w / n * 1000, c / n * 1000) for k, (w, c, n) in points}
        return out

    def line(self, now: float) -> str | None:
        """A report line (and a reset) if `every` seconds have passed since the last one."""
        if now - self.last_line < self.every or not self.heights:
            return None
        self.last_line = now
        parts = []
        for role, points in sorted(self.report().items()):
            pts = " ".join(f"{k}={w:.0f}/{c:.0f}" for k, (w, c) in points.items())
            parts.append(f"{role} x{self.heights[role]} [ms wall/cpu]: {pts}")
        self.sums, self.heights = {}, Counter()
        return " | ".join(parts)
