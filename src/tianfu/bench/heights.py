"""Where a height's wall time goes during a bench run: the validators' per-height
timelines (`tianfu.consensus.timeline`), read from their logs over the measured window and
averaged per role, weighted by the heights each logged line covers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from tianfu.consensus.timeline import HeightTimeline

# "2026-12-06 00:50:01,123 INFO tianfu.consensus.driver: consensus timeline: <roles>"
_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO [\w.]+: consensus timeline: (.*)$"
)
# "proposer x12 [ms wall/cpu]: build=3/1 built=50/45 ..."
_ROLE = re.compile(r"^(\w+) x(\d+) \[ms wall/cpu\]: (.*)$")
_POINT = re.compile(r"^(\w+)=(-?[\d.]+)/(-?[\d.]+)$")
LINE_SPAN_S = HeightTimeline().every  # a line covers the heights of the seconds before it


def _stamp(text: str) -> float:
    """A log line's time (the node's local time, as `logging` writes it) as Unix time."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def parse_line(body: str) -> dict[str, tuple[int, dict[str, tuple[float, float]]]]:
    """{role: (heights, {point: (wall ms, cpu ms)})} of one timeline line's text."""
    out = {}
    for part in body.split(" | "):
        m = _ROLE.match(part.strip())
        if m is None:
            continue
        points = {}
        for item in m.group(3).split():
            p = _POINT.match(item)
            if p is not None:
                points[p.group(1)] = (float(p.group(2)), float(p.group(3)))
        out[m.group(1)] = (int(m.group(2)), points)
    return out


def height_timeline(lines: Iterable[str], w0: float, w1: float) -> dict[str, Any]:
    """The mean per-height timeline of every role over the lines logged wholly inside the
    window [w0, w1] (Unix times): {role: {"heights": n, "points": {point: [wall, cpu]}}},
    points in the order of their mean wall time. Empty if no line falls inside."""
    sums: dict[str, dict[str, list[float]]] = {}
    heights: dict[str, int] = {}
    for line in lines:
        m = _LINE.match(line.rstrip("\n"))
        if m is None or not (w0 + LINE_SPAN_S <= _stamp(m.group(1)) <= w1 + 1.0):
            continue
        for role, (n, points) in parse_line(m.group(2)).items():
            heights[role] = heights.get(role, 0) + n
            acc = sums.setdefault(role, {})
            for name, (wall, cpu) in points.items():
                a = acc.setdefault(name, [0.0, 0.0, 0.0])
                a[0] += wall * n
                a[1] += cpu * n
                a[2] += n
    out: dict[str, Any] = {}
    for role, acc in sorted(sums.items()):
        means = {k: [round(w / c, 1), round(u / c, 1)] for k, (w, u, c) in acc.items()}
        ordered = dict(sorted(means.items(), key=lambda kv: kv[1][0]))
        out[role] = {"heights": heights[role], "points": ordered}
    return out


def from_logs(paths: Iterable[Path], w0: float, w1: float) -> dict[str, Any]:
    """`height_timeline` of every node log in `paths` together (missing files skipped)."""
    lines: list[str] = []
    for path in paths:
        try:
            lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
        except FileNotFoundError:
            continue
    return height_timeline(lines, w0, w1)


def timeline_rows(fig: dict[str, Any]) -> list[tuple[str, str]]:
    """Readable rows of a run's height timeline: one per role, `point wall/cpu` in ms."""
    rows = []
    for role, t in fig.get("height_timeline", {}).items():
        pts = "  ".join(f"{k} {w:.0f}/{c:.0f}" for k, (w, c) in t["points"].items())
        rows.append((f"height timeline, {role} ({t['heights']} heights; ms wall/cpu)", pts))
    return rows
