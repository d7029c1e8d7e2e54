"""One `tianfu dev` process per dev chain. A second one on the same home and another port
ran beside the first: two block producers on one store, the second building on heights the
first had moved past (`cannot store block 20: the store is at height 21`) and dropping the
transactions sent to it. It now refuses at once with one line naming the first's pid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tianfu.bench.netcheck import free_base_ports
from tianfu.client.transport import http_get
from tianfu.testing.processes import NodeProcess

pytestmark = pytest.mark.timeout(240)


def test_a_second_dev_chain_on_the_same_home_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "dev"
    first = NodeProcess(home)
    try:
        first.start(timeout=120)
        assert first.proc is not None
        other = free_base_ports(1)[0] + 1
        second = subprocess.run(
            [sys.executable, "-m", "tianfu", "dev", "--home", str(home), "--port", str(other)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert second.returncode == 1, (second.returncode, second.stdout, second.stderr)
        assert second.stderr.strip().splitlines() == [
            f"error: {home / 'data'} is in use by another process (pid {first.proc.pid}): "
            "stop it before running this dev chain again (or use another --home)"
        ], second.stderr
        assert "Tianfu dev chain" not in second.stdout  # nothing started
        assert http_get(first.url + "/v1/status", timeout=30).json()["height"] >= 1
    finally:
        first.stop()
    # Once the first has stopped, the chain runs again.
    again = NodeProcess(home)
    try:
        again.start(timeout=120)
        assert http_get(again.url + "/v1/status", timeout=30).json()["height"] >= 1
    finally:
        again.stop()
