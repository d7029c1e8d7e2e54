"""The capacity curves of `tianfu bench sweep` beside its rate sweep: throughput, p99 and
per-validator CPU per finalized transaction against the validator count, against a one-way
delay between validators (every validator link through a `DelayProxy`; clients and APIs
undelayed), and per workload (asset transfers against an application's flows). Each point
is a fresh network and one closed-loop run."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rich.table import Table

from tianfu.apps.common.readable import counted
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
BASE_LATENCY_MS = 200.0  # a commit's latency without delay (4 validators, quiet machine, p50-p99)


def _validator_points(cfg: BenchConfig, counts: list[int]) -> list[Point]:
    return [(counted(n, "validator"), replace(cfg, validators=n), {}) for n in counts]


def delay_connections(cfg: BenchConfig, delay_ms: float) -> int:
    """Closed-loop connections for a delay: a commit waits about four more one-way delays
    (the transaction's gossip, proposal, prevotes, precommits), so by Little's law the
    transactions in flight grow by that share of a commit's latency without delay
    (`BASE_LATENCY_MS`); otherwise the clients, not the chain, would set the throughput.
    A given `--concurrency` is kept as it is."""
    if cfg.concurrency is not None:
        return cfg.concurrency
    return math.ceil(cfg.connections() * (1 + 4 * delay_ms / BASE_LATENCY_MS))


def _delay_points(cfg: BenchConfig, delays_ms: list[float]) -> list[Point]:
    """Every link through proxies (0 ms too, so that the ratios compare delays, not the
    proxy), round timeouts from `delayed_params`, connections from `delay_connections`."""
    points = []
    for d in delays_ms:
        params = delayed_params(d)
        timeouts = {
            "propose": params.timeout_propose_ms,
            "vote": params.timeout_vote_ms,
            "delta": params.timeout_delta_ms,
        }
        title = f"one-way delay {d:g} ms between validators"
        point = replace(cfg, delay_ms=d, concurrency=delay_connections(cfg, d))
        points.append((title, point, {"delay_ms": d, "timeouts_ms": timeouts}))
    return points


def _workload_points(cfg: BenchConfig, contracts: list[str]) -> list[Point]:
    return [(f"workload {c}", replace(cfg, contract=c), {}) for c in contracts]


def _ratios(runs: list[dict[str, Any]], key: str, is_base: Callable[[Any], bool]) -> None:
    base = next((r["tps"] for r in runs if is_base(r)), None)
    for r in runs:
        r[key] = round(r["tps"] / base, 4) if base else None


def plan_curve(kind: str, cfg: BenchConfig, values: list[Any]) -> list[Point]:
    """The points of a curve — one per validator count ("validators"), one-way delay in
    ms ("delays") or contract ("workloads") — each configuration checked (ValueError)."""
    builders: dict[str, Callable[..., list[Point]]] = {
        "validators": _validator_points,
        "delays": _delay_points,
        "workloads": _workload_points,
    }
    if kind not in builders:
        raise ValueError(f"no curve {kind!r}; one of {', '.join(builders)}")
    points = builders[kind](cfg, values)
    for _, point_cfg, _ in points:
        point_cfg.validate()
    return points


def run_curve(
    kind: str,
    cfg: BenchConfig,
    points: list[Point],
    say: Say = print,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """One closed-loop run on a fresh network per point of `plan_curve(kind, ...)`."""
    runs = []
    for title, point_cfg, extra in points:
        say(f"— {title} —")
        runs.append(curve_point(run_bench(point_cfg, say, on_progress), **extra))
    doc = {"kind": kind, "validators": cfg.validators, "contract": cfg.contract, "runs": runs}
    if kind == "validators":
        doc["tps_by_validators"] = {str(r["validators"]): r["tps"] for r in runs}
    elif kind == "delays":
        _ratios(runs, "tps_vs_0ms", lambda r: r["delay_ms"] == 0)
    else:
        _ratios(runs, "tps_vs_asset", lambda r: r["contract"] == "asset")
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
