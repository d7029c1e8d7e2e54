"""`tianfu bench --block-interval MS`: the network's genesis `block_interval_ms`, for
measuring latency and CPU per transaction against the shortest time between blocks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.test_bench_curves import _fig
from tests.unit.test_bench_report import _render, _run
from typer.testing import CliRunner

from tianfu.bench import curves
from tianfu.bench import runner as bench_runner
from tianfu.bench.delay_links import delayed_params, network_params
from tianfu.bench.report import bench_table, summarize
from tianfu.cli.bench_cmds import bench_app
from tianfu.types import ConsensusParams


class _Stop(Exception):
    pass


def test_network_params_set_the_interval_beside_the_delay_timeouts():
    default = ConsensusParams()
    assert network_params(None, None) is None
    assert network_params(None, 250) == ConsensusParams(block_interval_ms=250)
    delayed = network_params(50, 250)
    assert delayed is not None and delayed.block_interval_ms == 250
    assert delayed.timeout_vote_ms == delayed_params(50).timeout_vote_ms
    assert network_params(50, None) == delayed_params(50)
    assert default.block_interval_ms == 100


def test_the_bench_network_genesis_holds_the_interval(tmp_path):
    seen: list[int] = []

    def look(net):
        seen.append(net.genesis.params.block_interval_ms)
        raise _Stop  # before any node process starts

    with pytest.raises(_Stop):
        with bench_runner.BenchNetwork(
            1, tmp_path / "net", say=lambda _m: None, before_start=look, block_interval_ms=250
        ):
            pass
    assert seen == [250]


def test_the_cli_passes_the_interval_to_every_run(monkeypatch):
    seen: list = []

    def fake(cfg, say, on_progress=None, home=None):
        seen.append(cfg.block_interval_ms)
        return {
            **_fig(),
            "block_interval_ms": cfg.block_interval_ms,
            "load": {"batch": 1},
            "duration_s": 1.0,
            "warmup_s": 0.0,
            "failed": {},
        }

    monkeypatch.setattr(bench_runner, "run_bench", fake)
    monkeypatch.setattr(curves, "run_bench", fake)
    r = CliRunner().invoke(
        bench_app, ["sweep", "--delays", "0,50", "--block-interval", "250", "--duration", "1"]
    )
    assert r.exit_code == 0, r.output
    assert seen == [250, 250]


@pytest.mark.parametrize("value", ["-1", "60001", "x"])
def test_a_bad_interval_is_a_usage_error(value):
    r = CliRunner().invoke(bench_app, ["--block-interval", value, "--duration", "1"])
    assert r.exit_code == 2, r.output


def test_the_figures_and_table_name_the_interval():
    data = _run()
    ident = {"ok": True, "height": 10, "message": "identical"}
    default = summarize(data, 10_000.0, 2, ident)
    assert default["block_interval_ms"] == 100
    assert "ms apart" not in _render(bench_table(default))
    data.cfg = replace(data.cfg, block_interval_ms=250)
    fig = summarize(data, 10_000.0, 2, ident)
    assert fig["block_interval_ms"] == 250
    assert "blocks ≥ 250 ms apart" in _render(bench_table(fig))
