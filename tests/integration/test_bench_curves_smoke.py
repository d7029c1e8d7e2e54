"""Integration: short real runs of the bench's application workload (supply-finance flows
signed during the run, every call committed ok) and, behind `slow`, of the delay curve
(validator links through delay proxies)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tianfu.cli.bench_cmds import bench_app

pytestmark = pytest.mark.timeout(300)


def test_supply_finance_flows_on_a_real_network(tmp_path):
    out = tmp_path / "bench.json"
    args = ["--validators", "1", "--duration", "3", "--warmup", "1"]
    args += ["--contract", "supply_finance", "--concurrency", "16", "--json", str(out)]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    fig = json.loads(out.read_text())
    assert fig["contract"] == "supply_finance" and fig["tps"] > 0
    assert sum(fig["failed"].values()) == 0  # every call of every flow found its state
    assert fig["load"]["presigned"] == 0 and fig["load"]["signed_during_run"] > 0
    assert fig["identical_chains"]["ok"], fig["identical_chains"]["message"]


@pytest.mark.slow
def test_delay_curve_through_proxies(tmp_path):
    out = tmp_path / "delays.json"
    args = ["sweep", "--validators", "2", "--delays", "0,30", "--duration", "4"]
    args += ["--warmup", "1", "--concurrency", "64", "--json", str(out)]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    zero, delayed = doc["runs"]
    assert zero["delay_ms"] == 0 and delayed["delay_ms"] == 30
    assert zero["tps"] > 0 and delayed["tps"] > 0 and delayed["tps_vs_0ms"] is not None
    # A height needs the proposal, the prevotes and the precommits to cross the links: at
    # least three one-way delays between submitting and committing (a lower bound only).
    assert delayed["p50_ms"] >= 90
    assert delayed["timeouts_ms"]["vote"] > zero["timeouts_ms"]["vote"]
    assert all(r["identical_chains"]["ok"] for r in doc["runs"])
