"""Integration: a short real `tianfu bench` run — one validator process, load from client
processes — writes JSON with the required figures, commits transactions and finds the
nodes' chains identical."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tianfu.cli.bench_cmds import bench_app

pytestmark = pytest.mark.timeout(180)

REQUIRED = {"tps", "p50_ms", "p95_ms", "p99_ms", "ceiling_tps", "validators", "duration_s", "nodes"}


@pytest.mark.parametrize("contract", ["asset", "kv"])
def test_bench_short_run(tmp_path, contract):
    out = tmp_path / "bench.json"
    args = [
        "--validators",
        "1",
        "--duration",
        "3",
        "--warmup",
        "1",
        "--contract",
        contract,
        "--concurrency",
        "64",
        "--senders",
        "3",
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(bench_app, args)
    assert result.exit_code == 0, result.output
    fig = json.loads(out.read_text())
    assert REQUIRED <= fig.keys()
    assert fig["validators"] == 1 and fig["duration_s"] == 3 and fig["contract"] == contract
    assert fig["tps"] > 0 and fig["committed_ok"] > 0
    assert fig["p50_ms"] <= fig["p95_ms"] <= fig["p99_ms"]
    assert fig["ceiling_tps"] > fig["tps"]
    assert sum(fig["failed"].values()) == 0
    assert fig["blocks"] > 0 and fig["txs_per_block"] > 0
    (node,) = fig["nodes"]
    assert node["cpu_percent"] > 0 and node["rss_peak_mb"] > 10
    assert fig["load"]["presigned"] > 0 and fig["load"]["signed_during_run"] == 0
    assert fig["identical_chains"]["ok"], fig["identical_chains"]["message"]
    assert "finalized tx/s" in result.output
