"""`tianfu bench sweep`: latency against throughput over several open-loop rates on one
network (the curves on a fresh network per point are in `tianfu.bench.curves`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tianfu.bench.report import summarize
from tianfu.bench.runner import (
    BenchConfig,
    BenchNetwork,
    Progress,
    Say,
    measure_ceiling,
    run_load,
)

DEFAULT_FRACTIONS = (0.25, 0.5, 0.75, 1.0, 1.25)


def rates_from_max(max_tps: float, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> list[float]:
    """Open-loop rates as fractions of a closed-loop maximum (at least 1 tx/s each)."""
    return [max(1.0, round(max_tps * f, 1)) for f in fractions]


def at_half_load(runs: list[dict[str, Any]], max_tps: float) -> dict[str, Any] | None:
    """The open-loop run whose offered rate is nearest half of the maximum throughput."""
    open_runs = [r for r in runs if r["mode"] == "open"]
    if not open_runs or max_tps <= 0:
        return None
    return min(open_runs, key=lambda r: abs(r["rate"] - max_tps / 2))


def run_rate_sweep(
    cfg: BenchConfig,
    rates: list[float] | None,
    say: Say = print,
    on_progress: Callable[[Progress], None] | None = None,
    home: Path | None = None,
) -> dict[str, Any]:
    """One network; without `rates`, a closed-loop run first finds the maximum and the
    rates are fractions of it. Every run is followed by the identical-chain check."""
    cfg.validate()
    ceiling = measure_ceiling(cfg.ceiling_s, cfg.scheme)
    runs: list[dict[str, Any]] = []
    with BenchNetwork(
        cfg.validators, home, say, cfg.scheme, block_interval_ms=cfg.block_interval_ms
    ) as bn:
        senders = bn.setup(cfg.contract, max(cfg.senders, cfg.clients))
        cfg = replace(cfg, senders=len(senders.addresses))

        def one(c: BenchConfig) -> dict[str, Any]:
            bn.settle()
            data = run_load(bn, senders, c, ceiling, on_progress)
            fig = summarize(data, ceiling.verifies_per_core, ceiling.cores, bn.check_identical())
            say(
                f"{'closed loop' if c.rate is None else f'{c.rate:,.0f} tx/s offered'}: "
                f"{fig['tps']:,.1f} tx/s, p50 {fig['p50_ms']} ms, p99 {fig['p99_ms']} ms"
            )
            return fig

        if rates is None:
            say("closed-loop run to find the maximum throughput ...")
            runs.append(one(replace(cfg, rate=None)))
            rates = rates_from_max(runs[0]["tps"])
        for r in rates:
            runs.append(one(replace(cfg, rate=r)))
    max_tps = max(r["tps"] for r in runs)
    half = at_half_load(runs, max_tps)
    return {
        "kind": "rates",
        "validators": cfg.validators,
        "contract": cfg.contract,
        "batch": cfg.batch,
        "max_tps": max_tps,
        "at_half_load": None
        if half is None
        else {k: half[k] for k in ("rate", "tps", "p50_ms", "p95_ms", "p99_ms")},
        "runs": [_light(r) for r in runs],
    }


def _light(fig: dict[str, Any]) -> dict[str, Any]:
    """A run's figures without its per-second timelines (kept short in a sweep's JSON)."""
    return {k: v for k, v in fig.items() if k not in ("timeline", "node_cpu_timeline")}
