"""The bench's per-height timeline: the validators' timeline log lines, read over the
measured window and averaged per role, weighted by the heights each line covers."""

from __future__ import annotations

from datetime import datetime

from tianfu.bench.heights import LINE_SPAN_S, from_logs, height_timeline, parse_line
from tianfu.bench.report import bench_table, summarize
from tianfu.consensus.timeline import HeightTimeline


def _at(ts: float, body: str) -> str:
    stamp = datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
    return f"{stamp} INFO tianfu.consensus.driver: consensus timeline: {body}"


def _line_of(points: dict[str, float], role_is_proposer: bool, heights: int) -> str:
    """A real HeightTimeline's line after `heights` equal heights with these wall points."""
    tl = HeightTimeline(every=0.0)
    for _ in range(heights):
        tl.begin(0.0)
        if role_is_proposer:
            tl.mark("build", 0.0)
        for name, wall in points.items():
            tl.mark(name, wall)
        tl.end(max(points.values()) + 0.001)
    line = tl.line(1.0)
    assert line is not None
    return line


def test_parse_a_real_timeline_line() -> None:
    body = _line_of({"executed": 0.2, "decided": 0.3}, False, 4)
    parsed = parse_line(body)
    assert set(parsed) == {"validator"}
    n, points = parsed["validator"]
    assert n == 4
    assert round(points["executed"][0]) == 200 and round(points["decided"][0]) == 300


def test_window_and_weights() -> None:
    w0, w1 = 1_000_000.0, 1_000_030.0
    a = _line_of({"executed": 0.1}, False, 1)  # 100 ms, 1 height
    b = _line_of({"executed": 0.4}, False, 3)  # 400 ms, 3 heights
    early = _line_of({"executed": 9.0}, False, 50)  # covers the warm-up: left out
    late = _line_of({"executed": 9.0}, False, 50)  # after the window: left out
    lines = [
        _at(w0 + LINE_SPAN_S - 2, early),
        _at(w0 + LINE_SPAN_S + 1, a),
        _at(w0 + 25, b),
        _at(w1 + 5, late),
        "2026-12-06 00:00:00,000 INFO tianfu.api: something else",
        "garbage",
    ]
    out = height_timeline(lines, w0, w1)
    assert out["validator"]["heights"] == 4
    assert out["validator"]["points"]["executed"][0] == 325.0  # (100 + 3 × 400) / 4


def test_roles_apart_and_ordered(tmp_path) -> None:
    w0 = 2_000_000.0
    body = " | ".join(
        [
            _line_of({"built": 0.05, "proposal_sent": 0.06}, True, 2),
            _line_of({"executed": 0.2}, False, 6),
        ]
    )
    (tmp_path / "node1.log").write_text(_at(w0 + 20, body) + "\n")
    out = from_logs([tmp_path / "node1.log", tmp_path / "missing.log"], w0, w0 + 30)
    assert out["proposer"]["heights"] == 2 and out["validator"]["heights"] == 6
    walls = [w for w, _ in out["proposer"]["points"].values()]
    assert walls == sorted(walls)


def test_no_line_in_the_window_gives_nothing() -> None:
    assert height_timeline([_at(10.0, _line_of({"executed": 0.1}, False, 1))], 100.0, 130.0) == {}


def test_the_bench_table_shows_it() -> None:
    from tests.unit.test_bench_report import _render, _run  # noqa: PLC0415

    fig = summarize(_run(), 10_000.0, 2, {"ok": True, "height": 10, "message": "identical"})
    assert "height timeline" not in _render(bench_table(fig))
    fig["height_timeline"] = {"validator": {"heights": 7, "points": {"executed": [250.0, 90.0]}}}
    text = _render(bench_table(fig))
    assert "height timeline, validator (7 heights" in text and "executed 250/90" in text
