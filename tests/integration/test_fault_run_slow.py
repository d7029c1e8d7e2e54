"""The fault run (benchmarks/fault_run.py) for 60 s: SIGKILLed validators under load lose,
duplicate and fork nothing, and every node ends at the same height. Not run by CI
(`make test-slow` runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fault_run.py"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_fault_run_60s_loses_nothing_and_does_not_fork(tmp_path):
    out = tmp_path / "fault.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--duration", "60", "--seed", "20261126", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert out.exists(), f"no figures written:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    fig = json.loads(out.read_text())
    detail = json.dumps({k: v for k, v in fig.items() if k != "suspect_log_lines"}, indent=1)
    assert fig["lost_acknowledged"] == 0, detail
    assert fig["duplicates"] == 0, detail
    assert fig["forks"] == 0, detail
    assert fig["converged"], detail
    assert fig["restarted_not_caught_up"] == 0, detail
    assert fig["unexpected_node_exits"] == 0, detail
    assert fig["kills"] >= 2, detail  # a kill every 10-20 s: at least 2 in 60 s
    assert all("restarted_at_s" in k for k in fig["kill_log"]), detail
    assert fig["acknowledged_txs"] >= 100, detail  # the load kept going through the kills
    assert proc.returncode == 0, detail
