"""Real node processes: one data directory is used by one node process at a time.

A second `tianfu node start` of a home whose node is running would write the same signer
file, WAL and store: two processes signing from one signer state can sign two different
messages at one position. The node holds an exclusive `flock` on `data/node.lock` while
it runs; a second start is refused at once, before it opens anything, with the holder's
pid, and the running node is untouched.
"""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from tianfu.bench.netcheck import free_base_ports
from tianfu.node.localnet import LocalNetwork
from tianfu.node.storeguard import LOCK_FILE


def test_the_same_data_directory_started_twice_is_refused(tmp_path):
    api, p2p = free_base_ports(1)
    net, _ = LocalNetwork.prepare(tmp_path / "net", 1, True, api_base_port=api, p2p_base_port=p2p)
    cfg = net.configs[0]
    try:
        net.start_node(cfg)
        net.wait_ready(timeout=120)
        first = net.procs[cfg.name]
        second = subprocess.run(
            [sys.executable, "-m", "tianfu", "node", "start", "--home", str(cfg.home)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        out = second.stdout + second.stderr
        assert second.returncode != 0, out
        assert "is in use by another process" in out and f"pid {first.pid}" in out, out
        assert (cfg.data / LOCK_FILE).read_text().strip() == str(first.pid)
        # The running node goes on: it answers, and nothing of the second start reached it.
        assert first.poll() is None
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(net.url(cfg) + "/v1/status", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the running node stopped answering"
            time.sleep(0.2)
        assert first.poll() is None
        assert "in use" not in net.log_path(cfg).read_text(errors="replace")
    finally:
        net.stop()
