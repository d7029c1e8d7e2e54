"""`tianfu bench sweep --state-sizes`: throughput against the size of the state.

For each size N, a fresh network whose genesis state already holds N asset balances
(`tianfu.bench.preload`, the same store copied to every node before it starts), then the
usual load of `asset.transfer`s, each to a random one of up to `RECIPIENTS` pre-loaded
accounts, so every transfer reads and writes a leaf somewhere in the large tree. Beside
the usual figures each run reports every node's RSS (now and peak) and what its data
directory takes on disk, the pre-load's build time and size, and its throughput as a ratio
to the first size's run of the same sweep. With `rounds` > 1 the sizes alternate (10 k,
1 M, 10 k, 1 M, ...) and every size's median round gives the ratio.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from rich.table import Table

from tianfu.bench import procstat
from tianfu.bench.preload import PreloadReport, data_mb, recipients, seed_network
from tianfu.bench.report import _save, _sweep_figure, summarize
from tianfu.bench.runner import (
    BenchConfig,
    BenchError,
    BenchNetwork,
    Progress,
    Say,
    Senders,
    measure_ceiling,
    run_load,
)
from tianfu.node.localnet import LocalNetwork

RECIPIENTS = 100_000  # pre-loaded accounts the transfers go to, at most (drawn at random)


def run_state_size(
    cfg: BenchConfig,
    keys: int,
    say: Say = print,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """One closed- (or open-) loop run on a fresh network pre-loaded with `keys` accounts."""
    if cfg.contract != "asset":
        raise BenchError("a state-size sweep loads asset balances: use --contract asset")
    cfg.validate()
    ceiling = measure_ceiling(cfg.ceiling_s, cfg.scheme)
    made: list[PreloadReport] = []

    def seed(net: LocalNetwork) -> None:
        made.append(seed_network(net, keys, say))

    with BenchNetwork(
        cfg.validators,
        None,
        say,
        cfg.scheme,
        before_start=seed,
        block_interval_ms=cfg.block_interval_ms,
    ) as bn:
        senders = bn.setup(cfg.contract, max(cfg.senders, cfg.clients))
        targets = Senders(
            senders.identity_dirs, recipients(keys, RECIPIENTS), random_recipients=True
        )
        data = run_load(
            bn, targets, replace(cfg, senders=len(senders.addresses)), ceiling, on_progress
        )
        fig = summarize(data, ceiling.verifies_per_core, ceiling.cores, bn.check_identical())
        pids = bn.pids()
        data_dirs = {c.name: c.data for c in bn.network.configs}
        for node in fig["nodes"]:
            rss = procstat.rss_mb(pids[node["name"]])
            node["rss_mb"] = None if rss is None else round(rss, 1)
            node["disk_mb"] = round(data_mb(data_dirs[node["name"]]), 1)
    cpu = [n["cpu_percent"] for n in fig["nodes"]]
    if fig["tps"] > 0 and None not in cpu:
        fig["node_cpu_us_per_tx"] = round(1e4 * sum(cpu) / fig["tps"] / len(cpu), 1)
    fig["state_keys"] = keys
    fig["preload"] = asdict(made[0])
    return {k: v for k, v in fig.items() if k not in ("timeline", "node_cpu_timeline")}


def run_state_sweep(
    cfg: BenchConfig,
    sizes: list[int],
    rounds: int = 1,
    say: Say = print,
    on_progress: Callable[[Progress], None] | None = None,
) -> dict[str, Any]:
    """A fresh pre-loaded network per size and round, the sizes alternating each round."""
    if rounds < 1:
        raise BenchError("at least one round")
    runs: list[dict[str, Any]] = []
    for r in range(rounds):
        for keys in sizes:
            say(f"— state of {keys:,} keys (round {r + 1} of {rounds}) —")
            runs.append(run_state_size(cfg, keys, say, on_progress))

    def median(key: str, keys: int) -> float | None:
        values = [x[key] for x in runs if x["state_keys"] == keys and x.get(key) is not None]
        return statistics.median(values) if values else None

    by_size = {keys: median("tps", keys) or 0.0 for keys in sizes}
    cpu_by_size = {keys: median("node_cpu_us_per_tx", keys) for keys in sizes}
    base = by_size[sizes[0]]
    cpu_base = cpu_by_size[sizes[0]]
    return {
        "kind": "state",
        "validators": cfg.validators,
        "contract": cfg.contract,
        "batch": cfg.batch,
        "rounds": rounds,
        "recipients": RECIPIENTS,
        "tps_by_state_keys": {str(k): v for k, v in by_size.items()},
        "ratio_to_first": {
            str(k): round(v / base, 3) if base > 0 else None for k, v in by_size.items()
        },
        # node CPU per finalized transaction (depends much less on a busy machine than tx/s),
        # and the first size's figure over it: the throughput ratio CPU alone would give
        "node_cpu_us_per_tx_by_state_keys": {str(k): v for k, v in cpu_by_size.items()},
        "cpu_ratio_to_first": {
            str(k): round(cpu_base / v, 3) if cpu_base and v else None
            for k, v in cpu_by_size.items()
        },
        "runs": runs,
    }


def plot_state_sizes(path: Path, doc: dict[str, Any]) -> None:
    """Throughput (every run, and each size's median) and p99 against the state size."""
    plt, figure, ax, runs = _sweep_figure(doc["runs"], "state_keys")
    ax.scatter([r["state_keys"] for r in runs], [r["tps"] for r in runs], color="tab:blue", s=12)
    sizes = [int(k) for k in doc["tps_by_state_keys"]]
    medians = list(doc["tps_by_state_keys"].values())
    ax.plot(sizes, medians, marker="o", color="tab:blue", label="finalized tx/s (median)")
    for k, v in zip(sizes, medians, strict=True):
        ratio = doc["ratio_to_first"][str(k)]
        ax.annotate(f"{ratio:.2f}", (k, v), fontsize=8, textcoords="offset points", xytext=(4, 4))
    p99 = ax.twinx()
    p99.plot([r["state_keys"] for r in runs], [r["p99_ms"] for r in runs], "x", color="tab:red")
    p99.set_ylabel("p99 submit→commit ms (x)", color="tab:red")
    ax.set_xscale("log")
    ax.set_xlabel("pre-loaded state keys")
    ax.set_ylabel("tx/s")
    ax.set_ylim(bottom=0)
    p99.set_ylim(bottom=0)
    ax.set_title(
        f"{doc['validators']} validators, asset transfers: throughput against state size "
        "(labels: ratio to the smallest)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    _save(plt, figure, path)


def _mb(values: list[Any]) -> str:
    """The smallest and largest of the nodes' figures."""
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    low, high = min(known), max(known)
    return f"{low:,.0f}" if round(low) == round(high) else f"{low:,.0f}–{high:,.0f}"


def state_table(doc: dict[str, Any]) -> Table:
    """One row per run: state size, throughput, ratio, latency, per-node RSS and disk."""
    t = Table(title="tianfu bench sweep — state sizes (latency in ms, memory and disk in MB)")
    for col in ("keys", "tx/s", "ratio", "% ceil", "p99", "cpu µs/tx", "node RSS",
                "node disk", "pre-load", "same"):  # fmt: skip
        t.add_column(col, justify="right")
    base = doc["tps_by_state_keys"][next(iter(doc["tps_by_state_keys"]))]
    for r in doc["runs"]:
        pre = r["preload"]
        t.add_row(
            f"{r['state_keys']:,}",
            f"{r['tps']:,.1f}",
            f"{r['tps'] / base:.2f}" if base > 0 else "-",
            f"{100 * r['fraction_of_ceiling']:.1f}",
            "-" if r["p99_ms"] is None else f"{r['p99_ms']:,.0f}",
            f"{r.get('node_cpu_us_per_tx', '-')}",
            _mb([n["rss_mb"] for n in r["nodes"]]),
            _mb([n["disk_mb"] for n in r["nodes"]]),
            f"{pre['build_s']:.0f} s",
            "yes" if r["identical_chains"]["ok"] else "NO",
        )
    return t
