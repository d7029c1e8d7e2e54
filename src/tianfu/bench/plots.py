"""PNG plots of the capacity curves of `tianfu bench sweep` (matplotlib, Agg backend): per
validator count, per one-way delay between validators, and per workload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tianfu.bench.report import _pyplot, _save


def _panels(rows: int) -> tuple[Any, Any, list[Any]]:
    plt = _pyplot()
    figure, axes = plt.subplots(rows, 1, figsize=(8, 3.2 * rows), sharex=True)
    return plt, figure, list(axes)


def _latency(ax: Any, xs: list[Any], runs: list[dict[str, Any]]) -> None:
    ax.plot(xs, [r["p50_ms"] for r in runs], marker="o", label="p50")
    ax.plot(xs, [r["p99_ms"] for r in runs], marker="o", label="p99")
    ax.set_ylabel("submit→commit ms")
    ax.legend(loc="best", fontsize=8)


def plot_validator_curve(path: Path, runs: list[dict[str, Any]]) -> None:
    """Throughput (with the ceiling), latency, and one validator's CPU per finalized
    transaction against the validator count; the CPU panel has the line a cost linear in
    the count would follow from the smallest network."""
    runs = sorted(runs, key=lambda r: r["validators"])
    xs = [r["validators"] for r in runs]
    plt, figure, (ax1, ax2, ax3) = _panels(3)
    ax1.plot(xs, [r["tps"] for r in runs], marker="o", label="finalized tx/s")
    ax1.plot(xs, [r["ceiling_tps"] for r in runs], marker="x", ls="--", label="ceiling tx/s")
    for r in runs:
        ax1.annotate(
            f"{100 * r['fraction_of_ceiling']:.1f} %",
            (r["validators"], r["tps"]),
            fontsize=8,
            textcoords="offset points",
            xytext=(4, 4),
        )
    ax1.set_yscale("log")
    ax1.set_ylabel("tx/s")
    ax1.legend(loc="best", fontsize=8)
    _latency(ax2, xs, runs)
    cpu = [r.get("cpu_ms_per_tx") for r in runs]
    ax3.plot(xs, cpu, marker="o", label="CPU ms per finalized tx, one validator")
    first = next(((x, c) for x, c in zip(xs, cpu, strict=True) if c), None)
    if first is not None:
        ax3.plot(
            xs, [first[1] * x / first[0] for x in xs], ls=":", color="0.5", label="linear in n"
        )
    ax3.set_ylabel("CPU ms / tx")
    ax3.set_xlabel("validators")
    ax3.set_xticks(xs)
    ax3.legend(loc="best", fontsize=8)
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    ax1.set_title(f"{runs[0]['contract']}: per validator count (labels: % of ceiling)", fontsize=10)
    _save(plt, figure, path)


def plot_delay_curve(path: Path, runs: list[dict[str, Any]]) -> None:
    """Throughput relative to 0 ms (with the 70 % goal) and latency against the one-way
    delay between validators."""
    runs = sorted(runs, key=lambda r: r["delay_ms"])
    xs = [r["delay_ms"] for r in runs]
    plt, figure, (ax1, ax2) = _panels(2)
    ratio = [None if r.get("tps_vs_0ms") is None else 100 * r["tps_vs_0ms"] for r in runs]
    ax1.plot(xs, ratio, marker="o", label="finalized tx/s, % of 0 ms")
    ax1.axhline(70, color="tab:red", ls="--", lw=1, label="goal at 50 ms: 70 %")
    for r, y in zip(runs, ratio, strict=True):
        ax1.annotate(
            f"{r['tps']:,.0f} tx/s",
            (r["delay_ms"], y or 0),
            fontsize=8,
            textcoords="offset points",
            xytext=(4, 4),
        )
    ax1.set_ylim(0, 120)
    ax1.set_ylabel("% of 0 ms")
    ax1.legend(loc="best", fontsize=8)
    _latency(ax2, xs, runs)
    ax2.set_xlabel("one-way delay between validators, ms")
    ax2.set_xticks(xs)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    ax1.set_title(
        f"{runs[0]['validators']} validators, {runs[0]['contract']}: per network delay",
        fontsize=10,
    )
    _save(plt, figure, path)


def plot_workload_curve(path: Path, runs: list[dict[str, Any]]) -> None:
    """Throughput and p99 of each workload, side by side."""
    plt = _pyplot()
    figure, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    names = [r["contract"] for r in runs]
    ax1.bar(names, [r["tps"] for r in runs], color="tab:blue")
    ax1.set_ylabel("finalized tx/s")
    ax2.bar(names, [r["p99_ms"] or 0 for r in runs], color="tab:orange")
    ax2.set_ylabel("p99 submit→commit ms")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, axis="y")
    figure.suptitle(f"{runs[0]['validators']} validators: per workload (closed loop)", fontsize=10)
    _save(plt, figure, path)
