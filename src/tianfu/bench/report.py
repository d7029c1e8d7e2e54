"""Figures of a benchmark run — pure functions over the recorded answers and blocks — and
their output: a Rich table, JSON, and PNG plots (matplotlib, Agg backend)."""

from __future__ import annotations

import json
import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from tianfu.apps.common.readable import counted
from tianfu.bench.ceiling import ceiling_tps
from tianfu.bench.heights import timeline_rows
from tianfu.crypto import ED25519, scheme_name
from tianfu.types.genesis import ConsensusParams

DEFAULT_PARAMS = ConsensusParams()

if TYPE_CHECKING:
    from tianfu.bench.load import WorkerResult
    from tianfu.bench.runner import RunData

SIGNING_NOTE = (
    "transactions are signed ahead, in the load-generator processes, before the clock starts"
)


@dataclass(frozen=True)
class BlockInfo:
    height: int
    time_s: float  # the block's header time (the proposer's clock), seconds since the epoch
    tx_count: int


@dataclass(frozen=True)
class NodeFigures:
    name: str
    pid: int
    cpu_percent: float | None  # over the measured window, % of one core
    rss_peak_mb: float | None  # VmHWM: the process's peak over its whole life


@dataclass
class Requests:
    """Every answer of every load generator, as parallel arrays."""

    t_start: array[float]
    t_end: array[float]
    status: array[int]
    ok: array[int]

    @classmethod
    def join(cls, workers: Sequence[WorkerResult]) -> Requests:
        out = cls(array("d"), array("d"), array("H"), array("b"))
        for w in workers:
            out.t_start.extend(w.t_start)
            out.t_end.extend(w.t_end)
            out.status.extend(w.status)
            out.ok.extend(w.ok)
        return out

    def __len__(self) -> int:
        return len(self.t_start)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def window_stats(req: Requests, w0: float, w1: float) -> dict[str, Any]:
    """Client-side figures of the window [w0, w1).

    Throughput counts successful receipts whose answer arrived in the window. Latency is
    submit-to-commit of the successful transactions *submitted* in the window (including
    those answered after it, so that a slow end of the run is not cut off).
    """
    span = w1 - w0
    if span <= 0:
        raise ValueError("empty window")
    ok_done = 0
    lat: list[float] = []
    submitted = receipt_failed = rejected = pending = errors = 0
    for t0, t1, st, ok in zip(req.t_start, req.t_end, req.status, req.ok, strict=True):
        if ok and w0 <= t1 < w1:
            ok_done += 1
        if not w0 <= t0 < w1:
            continue
        submitted += 1
        if ok:
            lat.append(t1 - t0)
        elif st == 200:
            receipt_failed += 1
        elif st == 202:
            pending += 1
        elif 400 <= st < 500:
            rejected += 1
        else:
            errors += 1
    return {
        "tps": round(ok_done / span, 1),
        "submitted": submitted,
        "committed_ok": len(lat),
        "failed": {
            "receipt_failed": receipt_failed,
            "rejected_4xx": rejected,
            "not_committed_in_time": pending,
            "errors": errors,
        },
        "p50_ms": _ms(percentile(lat, 50)),
        "p95_ms": _ms(percentile(lat, 95)),
        "p99_ms": _ms(percentile(lat, 99)),
        "max_ms": _ms(max(lat) if lat else None),
    }


def block_stats(blocks: Sequence[BlockInfo], w0: float, w1: float) -> dict[str, Any]:
    """Chain-side figures of the blocks whose header time lies in [w0, w1)."""
    inside = [b for b in blocks if w0 <= b.time_s < w1]
    span = w1 - w0
    txs = sum(b.tx_count for b in inside)
    return {
        "blocks": len(inside),
        "blocks_per_s": round(len(inside) / span, 2),
        "txs_per_block": round(txs / len(inside), 1) if inside else 0.0,
        "chain_tps": round(txs / span, 1),
    }


def timeline(req: Requests, begin: float, end: float, bin_s: float = 1.0) -> list[dict[str, Any]]:
    """Per `bin_s` from `begin`: successful commits per second and their latency (by answer time)."""
    n = max(1, math.ceil((end - begin) / bin_s))
    lat: list[list[float]] = [[] for _ in range(n)]
    for t0, t1, ok in zip(req.t_start, req.t_end, req.ok, strict=True):
        k = int((t1 - begin) // bin_s)
        if ok and 0 <= k < n:
            lat[k].append(t1 - t0)
    return [
        {
            "t": round((k + 1) * bin_s, 3),
            "tps": round(len(v) / bin_s, 1),
            "p50_ms": _ms(percentile(v, 50)),
            "p99_ms": _ms(percentile(v, 99)),
        }
        for k, v in enumerate(lat)
    ]


def _scheme(fig: dict[str, Any]) -> str:
    return {"ed25519": "Ed25519", "sm2": "SM2", "ecdsa-p256": "ECDSA P-256"}.get(
        str(fig.get("scheme", "ed25519")), str(fig.get("scheme"))
    )


def _verifies(fig: dict[str, Any]) -> Any:
    """Verifies/s per core (also in JSON files written before the scheme was recorded)."""
    return fig.get("verifies_per_s_per_core", fig.get("ed25519_verifies_per_s_per_core"))


def summarize(
    data: RunData, verifies_per_core: float, cores: int, identical: dict[str, Any]
) -> dict[str, Any]:
    """All figures of one run, as the JSON document `tianfu bench --json` writes."""
    cfg = data.cfg
    w0 = data.start_at + cfg.warmup
    w1 = w0 + cfg.duration
    ceiling = ceiling_tps(verifies_per_core, cores, cfg.validators)
    client = window_stats(data.requests, w0, w1)
    workers = data.workers
    out: dict[str, Any] = {
        "validators": cfg.validators,
        "contract": cfg.contract,
        "mode": "closed" if cfg.rate is None else "open",
        "rate": cfg.rate,
        "duration_s": cfg.duration,
        "warmup_s": cfg.warmup,
        "block_interval_ms": (
            DEFAULT_PARAMS.block_interval_ms
            if cfg.block_interval_ms is None
            else cfg.block_interval_ms
        ),
        **client,
        **block_stats(data.blocks, w0, w1),
        "scheme": scheme_name(cfg.scheme),
        "verifies_per_s_per_core": round(verifies_per_core),
        # The figure under its former name, for Ed25519 runs only.
        **(
            {"ed25519_verifies_per_s_per_core": round(verifies_per_core)}
            if cfg.scheme == ED25519
            else {}
        ),
        "cores": cores,
        "ceiling_tps": round(ceiling, 1),
        "fraction_of_ceiling": round(client["tps"] / ceiling, 4),
        "nodes": [
            {
                "name": n.name,
                "cpu_percent": None if n.cpu_percent is None else round(n.cpu_percent, 1),
                "rss_peak_mb": None if n.rss_peak_mb is None else round(n.rss_peak_mb, 1),
            }
            for n in data.nodes
        ],
        "load": {
            "processes": cfg.clients,
            "connections": cfg.connections(),
            "batch": cfg.batch,
            "senders": cfg.senders,
            "signing": SIGNING_NOTE,
            "presigned": sum(w.presigned for w in workers),
            "presign_s": round(max((w.presign_s for w in workers), default=0.0), 2),
            "signed_during_run": sum(w.signed_in_run for w in workers),
            "late_sends": sum(w.late for w in workers),
            "unfinished": sum(w.unfinished for w in workers),
            "connection_errors": sum(w.conn_errors for w in workers),
            "cpu_percent": [None if c is None else round(c, 1) for c in data.client_cpu_percent],
        },
        "machine": machine_load(data, cores),
        "identical_chains": identical,
        "timeline": timeline(data.requests, data.start_at, w1),
        "node_cpu_timeline": _cpu_timeline(data),
    }
    return out


def machine_load(data: RunData, cores: int) -> dict[str, Any]:
    """CPU of the whole machine in the window, and how much of it was not ours (other
    processes on a shared machine make every figure of the run lower)."""
    busy = data.machine_busy_percent
    ours = sum(n.cpu_percent or 0.0 for n in data.nodes) + sum(
        c or 0.0 for c in data.client_cpu_percent
    )
    return {
        "capacity_percent": 100 * cores,
        "busy_percent": None if busy is None else round(busy, 1),
        "others_percent": None if busy is None else round(max(0.0, busy - ours), 1),
    }


def _cpu_timeline(data: RunData) -> list[dict[str, Any]]:
    out = []
    for a, b in zip(data.samples, data.samples[1:], strict=False):
        span = b["t"] - a["t"]
        if span < 0.2:
            continue
        cpu = {
            name: None
            if a["nodes"][name] is None or b["nodes"][name] is None
            else round(100 * (b["nodes"][name] - a["nodes"][name]) / span, 1)
            for name in a["nodes"]
        }
        out.append({"t": round(b["t"] - data.start_at, 3), "cpu_percent": cpu})
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def bench_table(fig: dict[str, Any]) -> Table:
    """The readable summary of one run."""
    mode = "closed loop" if fig["mode"] == "closed" else f"open loop at {fig['rate']:g} tx/s"
    batch = fig["load"].get("batch", 1)
    if batch > 1:
        mode += f", {batch} txs per request"
    interval = fig.get("block_interval_ms", DEFAULT_PARAMS.block_interval_ms)
    if interval != DEFAULT_PARAMS.block_interval_ms:
        mode += f", blocks ≥ {interval:g} ms apart"
    t = Table(
        title=f"tianfu bench — {counted(fig['validators'], 'validator')}, {fig['contract']}, "
        f"{mode}, "
        f"{fig['duration_s']:g} s measured after {fig['warmup_s']:g} s warm-up"
    )
    t.add_column("figure")
    t.add_column("value", justify="right")
    f = fig["failed"]
    rows = [
        ("finalized tx/s (ok receipts)", fig["tps"]),
        (f"ceiling tx/s ({_scheme(fig)} verifies × cores ÷ validators)", fig["ceiling_tps"]),
        ("fraction of ceiling", f"{100 * fig['fraction_of_ceiling']:.1f} %"),
        (
            "latency p50 / p95 / p99 ms",
            f"{_fmt(fig['p50_ms'])} / {_fmt(fig['p95_ms'])} / {_fmt(fig['p99_ms'])}",
        ),
        ("submitted in window", fig["submitted"]),
        (
            "failed: receipt / rejected / timed out / errors",
            f"{f['receipt_failed']} / {f['rejected_4xx']} / {f['not_committed_in_time']} / {f['errors']}",
        ),
        ("blocks/s", fig["blocks_per_s"]),
        ("txs/block", fig["txs_per_block"]),
        ("chain tx/s (from blocks)", fig["chain_tps"]),
        (f"{_scheme(fig)} verifies/s per core", _verifies(fig)),
        ("cores", fig["cores"]),
    ]
    for n in fig["nodes"]:
        rows.append(
            (
                f"{n['name']} CPU % / peak RSS MiB",
                f"{_fmt(n['cpu_percent'])} / {_fmt(n['rss_peak_mb'])}",
            )
        )
    load = fig["load"]
    rows.append(("load generators CPU %", " / ".join(_fmt(c) for c in load["cpu_percent"])))
    m = fig["machine"]
    rows.append(
        (
            f"machine CPU % busy (of {m['capacity_percent']}) / other processes",
            f"{_fmt(m['busy_percent'])} / {_fmt(m['others_percent'])}",
        )
    )
    rows.append(
        (
            "signing",
            f"ahead: {load['presigned']:,} txs in {load['presign_s']:g} s; "
            f"during the run: {load['signed_during_run']:,}",
        )
    )
    rows.extend(timeline_rows(fig))
    ident = fig["identical_chains"]
    rows.append(("identical chains", ("yes — " if ident["ok"] else "NO — ") + ident["message"]))
    for k, v in rows:
        t.add_row(k, _fmt(v))
    return t


def write_json(path: Path, doc: Any) -> None:
    Path(path).write_text(json.dumps(doc, indent=2) + "\n")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise RuntimeError("plots need matplotlib: pip install 'tianfu[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _sweep_figure(runs: list[dict[str, Any]], by: str) -> tuple[Any, Any, Any, list[Any]]:
    """A sweep's figure of one axis: pyplot, the figure, its axis, the runs sorted by `by`."""
    plt = _pyplot()
    figure, ax = plt.subplots(figsize=(8, 5))
    return plt, figure, ax, sorted(runs, key=lambda r: r[by])


def plot_run(path: Path, fig: dict[str, Any]) -> None:
    """Throughput, latency and node CPU over time, the warm-up shaded."""
    plt = _pyplot()
    tl = fig["timeline"]
    xs = [p["t"] for p in tl]
    figure, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    ax1.plot(xs, [p["tps"] for p in tl], color="tab:blue", label="finalized tx/s")
    if fig["ceiling_tps"] <= 3 * max([p["tps"] for p in tl] + [1.0]):
        ax1.axhline(fig["ceiling_tps"], color="tab:red", ls="--", lw=1, label="ceiling")
    else:
        ax1.plot([], [], " ", label=f"ceiling {fig['ceiling_tps']:,.0f} tx/s (off scale)")
    ax1.axhline(fig["tps"], color="tab:blue", ls=":", lw=1, label=f"mean {fig['tps']:,.0f} tx/s")
    ax1.set_ylabel("tx/s")
    ax1.legend(loc="best", fontsize=8)
    ax2.plot(xs, [p["p50_ms"] for p in tl], label="p50")
    ax2.plot(xs, [p["p99_ms"] for p in tl], label="p99")
    ax2.set_ylabel("submit→commit ms")
    ax2.legend(loc="best", fontsize=8)
    cpu = fig.get("node_cpu_timeline", [])
    for name in cpu[0]["cpu_percent"] if cpu else []:
        ax3.plot([q["t"] for q in cpu], [q["cpu_percent"][name] for q in cpu], label=name)
    ax3.set_ylabel("node CPU % (1 core = 100)")
    ax3.set_xlabel("seconds since the load started")
    ax3.legend(loc="best", fontsize=8)
    for ax in (ax1, ax2, ax3):
        ax.axvspan(0, fig["warmup_s"], color="0.9", zorder=0)
        ax.grid(alpha=0.3)
    ax1.set_title(
        f"{counted(fig['validators'], 'validator')}, {fig['contract']}, {fig['mode']} loop — "
        f"{fig['tps']:,.0f} tx/s = {100 * fig['fraction_of_ceiling']:.1f} % of ceiling "
        f"(warm-up shaded)",
        fontsize=10,
    )
    _save(plt, figure, path)


def plot_latency_vs_throughput(path: Path, runs: list[dict[str, Any]]) -> None:
    """A rate sweep: latency percentiles against achieved throughput, one point per rate."""
    plt, figure, ax, runs = _sweep_figure(runs, "tps")
    xs = [r["tps"] for r in runs]
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        ax.plot(xs, [r[key] for r in runs], marker="o", label=key.removesuffix("_ms"))
    for r in runs:
        label = "closed" if r["mode"] == "closed" else f"{r['rate']:,.0f}/s"
        ax.annotate(
            label,
            (r["tps"], r["p99_ms"] or 0),
            fontsize=7,
            textcoords="offset points",
            xytext=(3, 3),
        )
    ax.set_xlabel("finalized tx/s")
    ax.set_ylabel("submit→commit latency ms")
    ax.set_title(
        f"{counted(runs[0]['validators'], 'validator')}, {runs[0]['contract']}: "
        "latency vs throughput"
    )
    ax.grid(alpha=0.3)
    ax.legend()
    _save(plt, figure, path)


def sweep_table(title: str, runs: list[dict[str, Any]]) -> Table:
    t = Table(title=title + " (latency in ms)")
    for col in (
        "vals",
        "load",
        "tx/s",
        "% ceil",
        "p50",
        "p95",
        "p99",
        "tx/blk",
        "same",
    ):
        t.add_column(col, justify="right")
    for r in runs:
        load = "closed" if r["mode"] == "closed" else f"{r['rate']:,.0f}/s"
        t.add_row(
            str(r["validators"]),
            load,
            _fmt(r["tps"]),
            f"{100 * r['fraction_of_ceiling']:.1f}",
            _fmt(r["p50_ms"]),
            _fmt(r["p95_ms"]),
            _fmt(r["p99_ms"]),
            _fmt(r["txs_per_block"]),
            "yes" if r["identical_chains"]["ok"] else "NO",
        )
    return t
