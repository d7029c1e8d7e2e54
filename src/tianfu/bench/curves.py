"""The capacity curves of `tianfu bench sweep` beside its rate sweep: throughput, p99 and
per-validator CPU per finalized transaction against the validator count, against a one-way
delay between validators (every validator link through a `DelayProxy`; clients and APIs
undelayed), and per workload (asset transfers against an application's flows). Each point
is a fresh network and one closed-loop run."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rich.table import Table

from tianfu.bench.delay_links import delayed_params
from tianfu.bench.runner import BenchConfig, Progress, Say, run_bench


def cpu_ms_per_tx(fig: dict[str, Any]) -> float | None:
    """CPU milliseconds one validator spends per finalized transaction (the mean over the
    nodes of their CPU in the measured window, divided by the finalized tx/s)."""
    cpus = [n["cpu_percent"] for n in fig["nodes"] if n["cpu_percent"] is not None]
    if not cpus or fig["tps"] <= 0:
        return None
    return round(10 * statistics.fmean(cpus) / fig["tps"], 3)


def curve_point(fig: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A run's figures as a point of a curve: without its timelines, with the CPU per tx."""
    light = {k: v for k, v in fig.items() if k not in ("timeline", "node_cpu_timeline")}
    return {**light, **extra, "cpu_ms_per_tx": cpu_ms_per_tx(fig)}


Point = tuple[str, BenchConfig, dict[str, Any]]  # title, configuration, extra figures


def _curve(
    kind: str,
    cfg: BenchConfig,
    points: list[Point],
    say: Say,
    on_progress: Callable[[Progress], None] | None,
) -> dict[str, Any]:
    """One run per (title, config, extra figures) on a fresh network each (every point's
    configuration is checked before the first run starts)."""
    for _, point_cfg, _ in points:
        point_cfg.validate()
    runs = []
    for title, point_cfg, extra in points:
        say(f"— {title} —")
        runs.append(curve_point(run_bench(point_cfg, say, on_progress), **extra))
    return {"kind": kind, "validators": cfg.validators, "contract": cfg.contract, "runs": runs}


def run_validator_curve(
    cfg: BenchConfig,
    counts: list[int],
    say: Say = print,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Per validator count: tx/s, p99, and CPU per finalized tx of one validator."""
    points: list[Point] = [(f"{n} validator(s)", replace(cfg, validators=n), {}) for n in counts]
    doc = _curve("validators", cfg, points, say, on_progress)
    doc["tps_by_validators"] = {str(r["validators"]): r["tps"] for r in doc["runs"]}
    return doc


def run_delay_curve(
    cfg: BenchConfig,
    delays_ms: list[float],
    say: Say = print,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Per one-way delay: every link through proxies (0 ms too, so that the ratios compare
    delays, not the proxy), round timeouts from `delayed_params`."""
    points: list[Point] = []
    for d in delays_ms:
        params = delayed_params(d)
        timeouts = {
            "propose": params.timeout_propose_ms,
            "vote": params.timeout_vote_ms,
            "delta": params.timeout_delta_ms,
        }
        points.append(
            (
                f"one-way delay {d:g} ms between validators",
                replace(cfg, delay_ms=d),
                {"delay_ms": d, "timeouts_ms": timeouts},
            )
        )
    doc = _curve("delays", cfg, points, say, on_progress)
    base = next((r["tps"] for r in doc["runs"] if r["delay_ms"] == 0), None)
    for r in doc["runs"]:
        r["tps_vs_0ms"] = round(r["tps"] / base, 4) if base else None
    return doc


def run_workload_curve(
    cfg: BenchConfig,
    contracts: list[str],
    say: Say = print,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """Per workload (`asset`, `kv`, `supply_finance`): tx/s and p99 side by side."""
    points: list[Point] = [(f"workload {c}", replace(cfg, contract=c), {}) for c in contracts]
    doc = _curve("workloads", cfg, points, say, on_progress)
    base = next((r["tps"] for r in doc["runs"] if r["contract"] == "asset"), None)
    for r in doc["runs"]:
        r["tps_vs_asset"] = round(r["tps"] / base, 4) if base else None
    return doc


def curve_table(title: str, doc: dict[str, Any]) -> Table:
    """One row per point of a curve; the column that varies comes first."""
    kind = doc["kind"]
    first = {"validators": "vals", "delays": "delay ms", "workloads": "workload"}[kind]
    ratio = {"delays": "vs 0 ms", "workloads": "vs asset"}.get(kind)
    t = Table(title=title + " (latency in ms; CPU: one validator's ms per finalized tx)")
    cols = [first, "tx/s", "% ceil", *([ratio] if ratio else []), "p50", "p99", "CPU/tx", "same"]
    for col in cols:
        t.add_column(col, justify="right")
    for r in doc["runs"]:
        key = {"validators": str(r["validators"]), "workloads": r["contract"]}.get(
            kind, f"{r.get('delay_ms', 0):g}"
        )
        vs = r.get("tps_vs_0ms", r.get("tps_vs_asset"))
        t.add_row(
            key,
            f"{r['tps']:,.1f}",
            f"{100 * r['fraction_of_ceiling']:.1f}",
            *([] if ratio is None else ["-" if vs is None else f"{100 * vs:.1f} %"]),
            _num(r["p50_ms"]),
            _num(r["p99_ms"]),
            _num(r.get("cpu_ms_per_tx")),
            "yes" if r["identical_chains"]["ok"] else "NO",
        )
    return t


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f}" if v >= 10 else f"{v:.3f}"
