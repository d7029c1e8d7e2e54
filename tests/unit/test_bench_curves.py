"""The capacity curves of `tianfu bench sweep`: the per-validator CPU per transaction, the
curve documents and their tables, PNG plots and JSON from the CLI (runs replaced by canned
figures: the real runs are benchmarks), and the usage errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tianfu.bench import curves
from tianfu.bench.plots import plot_delay_curve, plot_validator_curve, plot_workload_curve
from tianfu.cli.bench_cmds import bench_app

PNG = b"\x89PNG\r\n\x1a\n"


def _fig(validators=4, tps=100.0, cpu=(50.0, 50.0), contract="asset", p99=200.0):
    return {
        "validators": validators,
        "contract": contract,
        "mode": "closed",
        "rate": None,
        "tps": tps,
        "ceiling_tps": 5000.0 / validators,
        "fraction_of_ceiling": tps / (5000.0 / validators),
        "p50_ms": p99 / 2,
        "p95_ms": p99 * 0.9,
        "p99_ms": p99,
        "nodes": [
            {"name": f"node{i}", "cpu_percent": c, "rss_peak_mb": 100.0} for i, c in enumerate(cpu)
        ],
        "identical_chains": {"ok": True, "height": 9, "message": "identical"},
        "timeline": [{"t": 1.0}],
        "node_cpu_timeline": [],
    }


def test_cpu_per_transaction_of_one_validator():
    # Two nodes at 50 % and 30 % of a core: 0.4 CPU-s per s each, over 200 tx/s = 2 ms/tx.
    assert curves.cpu_ms_per_tx(_fig(tps=200.0, cpu=(50.0, 30.0))) == 2.0
    assert curves.cpu_ms_per_tx(_fig(tps=0.0)) is None
    assert curves.cpu_ms_per_tx({"tps": 5.0, "nodes": [{"cpu_percent": None}]}) is None
    point = curves.curve_point(_fig(), delay_ms=10.0)
    assert "timeline" not in point and point["delay_ms"] == 10.0 and point["cpu_ms_per_tx"] == 5.0


def _fake_bench(monkeypatch, seen):
    def fake(cfg, say, on_progress=None):
        seen.append(cfg)
        tps = {None: 100.0, 0.0: 100.0, 50.0: 80.0}.get(cfg.delay_ms, 60.0)
        if cfg.contract == "supply_finance":
            tps = 40.0
        return _fig(cfg.validators, tps / cfg.validators * 4, contract=cfg.contract)

    monkeypatch.setattr(curves, "run_bench", fake)


@pytest.mark.parametrize(
    ("option", "value", "kind"),
    [
        ("--validators-sweep", "1,4,7", "validators"),
        ("--delays", "0,50,100", "delays"),
        ("--workloads", "asset,supply_finance", "workloads"),
    ],
)
def test_sweep_curves_write_json_png_and_a_table(monkeypatch, tmp_path, option, value, kind):
    seen: list = []
    _fake_bench(monkeypatch, seen)
    out, png = tmp_path / "c.json", tmp_path / "c.png"
    r = CliRunner().invoke(
        bench_app,
        ["sweep", option, value, "--duration", "2", "--json", str(out), "--plot", str(png)],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["kind"] == kind and len(doc["runs"]) == 3 - (kind == "workloads")
    assert png.read_bytes()[:8] == PNG
    assert all(run["cpu_ms_per_tx"] is not None for run in doc["runs"])
    if kind == "delays":
        assert [c.delay_ms for c in seen] == [0.0, 50.0, 100.0]  # 0 ms through proxies too
        assert [c.concurrency for c in seen] == [512, 1024, 1536]  # Little's law
        assert [run["tps_vs_0ms"] for run in doc["runs"]] == [1.0, 0.8, 0.6]
        assert doc["runs"][1]["timeouts_ms"]["vote"] == 600
    if kind == "validators":
        assert [c.validators for c in seen] == [1, 4, 7] and "4" in doc["tps_by_validators"]
    if kind == "workloads":
        assert [c.contract for c in seen] == ["asset", "supply_finance"]
        assert doc["runs"][1]["tps_vs_asset"] == 0.4
        assert "supply_finance" in r.output


def test_delay_connections_grow_unless_given():
    from tianfu.bench.runner import BenchConfig

    assert curves.delay_connections(BenchConfig(), 0.0) == 512
    assert curves.delay_connections(BenchConfig(), 10.0) == 615
    assert curves.delay_connections(BenchConfig(concurrency=64), 100.0) == 64


def test_plots_take_missing_figures(tmp_path):
    runs = [curves.curve_point(_fig(n, 50.0 * n, cpu=(None,))) for n in (1, 4)]
    plot_validator_curve(tmp_path / "v.png", runs)  # no CPU figures: no linear reference
    delayed = [dict(curves.curve_point(_fig()), delay_ms=d, tps_vs_0ms=None) for d in (0.0, 10.0)]
    plot_delay_curve(tmp_path / "d.png", delayed)
    plot_workload_curve(tmp_path / "w.png", [dict(_fig(), p99_ms=None)])
    for name in ("v", "d", "w"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "--delays", "0,50", "--validators-sweep", "1,4"],
        ["sweep", "--delays", "0,50", "--rates", "10"],
        ["sweep", "--delays", "-5"],
        ["sweep", "--delays", "2000"],
        ["sweep", "--workloads", " , "],
        ["sweep", "--workloads", "asset,nope"],
        ["--contract", "supply_finance", "--rate", "10"],
        ["sweep", "--contract", "supply_finance"],  # a rate sweep is open loop
        ["--contract", "supply_finance", "--batch", "10"],
    ],
)
def test_sweep_usage_errors_exit_2(args):
    r = CliRunner().invoke(bench_app, [*args, "--duration", "1"])
    assert r.exit_code == 2, r.output
