"""Unit tests: `tianfu bench` figures — percentiles, window and block statistics, the
ceiling, the JSON document, the table and the PNG plots — on synthetic runs."""

from __future__ import annotations

import json
import os
import statistics
from array import array
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tianfu.bench import procstat
from tianfu.bench.ceiling import ceiling_tps, verifies_per_core
from tianfu.bench.load import WorkerResult
from tianfu.bench.plots import plot_validator_curve
from tianfu.bench.report import (
    BlockInfo,
    NodeFigures,
    Requests,
    bench_table,
    block_stats,
    percentile,
    plot_latency_vs_throughput,
    plot_run,
    summarize,
    sweep_table,
    timeline,
    window_stats,
)
from tianfu.bench.runner import BenchConfig, RunData
from tianfu.bench.sweep import at_half_load, rates_from_max

PNG = b"\x89PNG\r\n\x1a\n"
REQUIRED = {"tps", "p50_ms", "p95_ms", "p99_ms", "ceiling_tps", "validators", "duration_s", "nodes"}


def test_percentile_matches_known_values_and_statistics():
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([4, 1, 3, 2], 0) == 1 and percentile([4, 1, 3, 2], 100) == 4
    data = [float(x * x % 97) for x in range(200)]
    q = statistics.quantiles(data, n=100, method="inclusive")
    assert percentile(data, 95) == pytest.approx(q[94])
    with pytest.raises(ValueError):
        percentile(data, 101)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=80), st.floats(0, 100), st.floats(0, 100))
def test_percentile_is_bounded_and_monotone(values, a, b):
    lo, hi = sorted((a, b))
    pa, pb = percentile(values, lo), percentile(values, hi)
    assert min(values) <= pa <= pb <= max(values)


def test_ceiling_is_verifies_times_cores_over_validators():
    assert ceiling_tps(10_000, 2, 4) == 5_000
    assert ceiling_tps(10_000, 2, 1) == 20_000
    with pytest.raises(ValueError):
        ceiling_tps(10_000, 2, 0)
    assert verifies_per_core(0.05, rounds=2) > 100  # libsodium does thousands per second


def _requests(rows):
    r = Requests(array("d"), array("d"), array("H"), array("b"))
    for t0, t1, status, ok in rows:
        r.t_start.append(t0)
        r.t_end.append(t1)
        r.status.append(status)
        r.ok.append(ok)
    return r


def test_window_stats_count_only_successes_in_the_window():
    rows = [
        (0.5, 0.9, 200, 1),  # answered before the window: neither counted nor timed
        (1.0, 1.1, 200, 1),
        (1.2, 1.5, 200, 1),
        (1.3, 1.4, 200, 0),  # committed, failed receipt
        (1.4, 1.6, 400, 0),  # rejected
        (1.5, 2.5, 202, 0),  # not committed within the wait
        (1.6, 1.7, 0, 0),  # connection failed
        (2.9, 3.3, 200, 1),  # submitted in the window, answered after it: timed, not counted
    ]
    s = window_stats(_requests(rows), 1.0, 3.0)
    assert s["tps"] == 1.0  # two successes answered within 2 s
    assert s["submitted"] == 7
    assert s["committed_ok"] == 3
    assert s["failed"] == {
        "receipt_failed": 1,
        "rejected_4xx": 1,
        "not_committed_in_time": 1,
        "errors": 1,
    }
    assert s["p50_ms"] == 300.0 and s["max_ms"] == 400.0
    with pytest.raises(ValueError):
        window_stats(_requests(rows), 2.0, 2.0)


def test_block_stats_and_timeline():
    blocks = [BlockInfo(h, 10.0 + 0.5 * h, 10 * h) for h in range(1, 9)]  # t = 10.5 .. 14.0
    s = block_stats(blocks, 11.0, 13.0)  # heights 2, 3, 4, 5
    assert s == {"blocks": 4, "blocks_per_s": 2.0, "txs_per_block": 35.0, "chain_tps": 70.0}
    assert block_stats([], 0, 1)["txs_per_block"] == 0.0
    req = _requests(
        [(0.0, 0.2, 200, 1), (0.1, 0.5, 200, 1), (0.5, 1.5, 200, 1), (1.0, 1.2, 200, 0)]
    )
    tl = timeline(req, 0.0, 2.0)
    assert [p["tps"] for p in tl] == [2.0, 1.0]
    assert tl[0]["p50_ms"] == 300.0 and tl[1]["p99_ms"] == 1000.0


def _run(rate=None, validators=4):
    cfg = BenchConfig(validators=validators, duration=4.0, warmup=1.0, rate=rate, clients=2)
    w = WorkerResult(0)
    for k in range(400):
        t0 = 100.0 + k * 0.0125
        w.t_start.append(t0)
        w.t_end.append(t0 + 0.2)
        w.status.append(200)
        w.ok.append(1)
    w.presigned = 500
    samples = [
        {
            "t": 100.0 + s,
            "nodes": {"node1": 1.0 + 0.5 * s, "node2": 2.0 + 0.4 * s},
            "clients": [0.1 * s],
            "machine": (3.0 * s, 4.0 * s),
        }
        for s in range(6)
    ]
    return RunData(
        cfg=cfg,
        start_at=100.0,
        requests=Requests.join([w]),
        workers=[w],
        blocks=[BlockInfo(h, 100.0 + 0.5 * h, 40) for h in range(1, 11)],
        nodes=[NodeFigures("node1", 11, 50.0, 90.5), NodeFigures("node2", 12, 40.0, 91.0)],
        client_cpu_percent=[10.0],
        machine_busy_percent=150.0,
        samples=samples,
    )


def test_summarize_writes_every_required_key_as_plain_json():
    ident = {"ok": True, "height": 10, "message": "identical"}
    fig = summarize(_run(), 10_000.0, 2, ident)
    assert REQUIRED <= fig.keys()
    doc = json.loads(json.dumps(fig, allow_nan=False))
    assert doc["tps"] == 80.0  # one success every 12.5 ms in the 4 s window
    assert doc["ceiling_tps"] == 5000.0 and doc["fraction_of_ceiling"] == 0.016
    assert doc["p99_ms"] == pytest.approx(200.0)
    assert doc["nodes"][0] == {"name": "node1", "cpu_percent": 50.0, "rss_peak_mb": 90.5}
    assert doc["machine"] == {
        "capacity_percent": 200,
        "busy_percent": 150.0,
        "others_percent": 50.0,
    }
    assert doc["identical_chains"]["ok"] is True
    assert "ahead" in doc["load"]["signing"]
    assert doc["load"]["batch"] == 1 and doc["load"]["connections"] == 512
    assert doc["node_cpu_timeline"][0]["cpu_percent"] == {"node1": 50.0, "node2": 40.0}
    text = _render(bench_table(fig))
    assert "finalized tx/s" in text and "80.0" in text and "identical" in text
    assert "per request" not in text


def test_batched_run_reports_its_batch_and_keeps_per_transaction_figures():
    data = _run()
    data.cfg = replace(data.cfg, batch=50)
    fig = summarize(data, 10_000.0, 2, {"ok": True, "height": 10, "message": "identical"})
    assert fig["load"]["batch"] == 50
    assert fig["load"]["connections"] == 48  # ~2,048 txs in flight, 2 clients × 4 nodes
    assert fig["tps"] == 80.0  # per transaction, as with one per request
    assert "50 txs per request" in _render(bench_table(fig))


def _render(table) -> str:
    console = Console(record=True, width=140)
    console.print(table)
    return console.export_text()


def test_plots_are_png_files(tmp_path):
    fig = summarize(_run(), 10_000.0, 2, {"ok": True, "height": 10, "message": "identical"})
    plot_run(tmp_path / "run.png", fig)
    assert (tmp_path / "run.png").read_bytes()[:8] == PNG
    runs = [
        summarize(_run(rate=r, validators=v), 10_000.0, 2, {"ok": True, "height": 1, "message": ""})
        for r, v in ((None, 1), (20.0, 4), (40.0, 7))
    ]
    plot_latency_vs_throughput(tmp_path / "lat.png", runs)
    plot_validator_curve(tmp_path / "val.png", runs)
    assert (tmp_path / "lat.png").read_bytes()[:8] == PNG
    assert (tmp_path / "val.png").read_bytes()[:8] == PNG
    assert "40/s" in _render(sweep_table("sweep", runs))


def test_sweep_rates_and_half_load_choice():
    assert rates_from_max(1000.0) == [250.0, 500.0, 750.0, 1000.0, 1250.0]
    assert rates_from_max(0.0, (0.5,)) == [1.0]
    runs = [
        {"mode": "closed", "rate": None, "tps": 1000.0},
        {"mode": "open", "rate": 250.0, "tps": 250.0},
        {"mode": "open", "rate": 520.0, "tps": 500.0},
        {"mode": "open", "rate": 750.0, "tps": 740.0},
    ]
    assert at_half_load(runs, 1000.0)["rate"] == 520.0
    assert at_half_load(runs[:1], 1000.0) is None


def test_config_validation_and_connections():
    assert BenchConfig().connections() == 512
    assert BenchConfig(rate=1000).connections() == 2000
    assert BenchConfig(rate=1).connections() == 64
    assert BenchConfig(concurrency=7).connections() == 7
    for bad in (
        dict(validators=0),
        dict(duration=0),
        dict(rate=-1),
        dict(contract="x"),
        dict(clients=0),
    ):
        with pytest.raises(ValueError):
            BenchConfig(**bad).validate()


def test_procstat_reads_this_process():
    before = procstat.cpu_seconds(os.getpid())
    sum(i * i for i in range(300_000))
    after = procstat.cpu_seconds(os.getpid())
    assert before is not None and after is not None and after > before
    # The current size is read first: the peak read after it covers it even if the
    # process grows in between (reading the peak first raced with allocations).
    rss = procstat.rss_mb(os.getpid())
    peak = procstat.peak_rss_mb(os.getpid())
    assert rss is not None and peak is not None and peak >= rss > 1
    assert procstat.cpu_percent(1.0, 1.5, 2.0) == 25.0
    assert procstat.cpu_percent(None, 1.5, 2.0) is None
    busy, total = procstat.machine_cpu_seconds()
    assert 0 <= busy <= total
    assert procstat.cpu_seconds(2**22 + 12345) is None  # no such process
    assert procstat.cores() >= 1
