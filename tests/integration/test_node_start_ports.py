"""`tianfu node start` on a port another process holds: one line naming the port, the
node.toml setting to change, exit code 1, and nothing started. The node logged "up",
started its p2p links and consensus, then printed Uvicorn's bind error and exited 3 when
its API port was taken, and a raw `[Errno 98]` line when its p2p port was."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tianfu.bench.netcheck import free_base_ports
from tianfu.client.transport import http_get
from tianfu.testing.processes import NodeProcess

pytestmark = pytest.mark.timeout(240)


def _ports() -> tuple[int, int]:
    """An API and a p2p port, free now and below the ephemeral range (no other test's
    bind(0) nor an outgoing connection takes them before the node binds them)."""
    api, p2p = free_base_ports(1)
    return api + 1, p2p + 1


def _held(port: int) -> socket.socket:
    """A socket listening on `port` (held until closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def _one_node(out: Path, api: int, p2p: int) -> Path:
    """A one-organisation network whose node listens on `api` and `p2p`; its home."""
    done = subprocess.run(
        [sys.executable, "-m", "tianfu", "network", "init", "--out", str(out), "--orgs", "1",
         "--api-base-port", str(api - 1), "--p2p-base-port", str(p2p - 1), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return Path(json.loads(done.stdout)["nodes"][0]["home"])


def _start(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tianfu", "node", "start", "--home", str(home)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_taken_api_port_stops_the_start_before_anything_runs(tmp_path: Path) -> None:
    api_port, p2p_port = _ports()
    home = _one_node(tmp_path / "net", api_port, p2p_port)
    with _held(api_port):  # only the API's port is taken
        r = _start(home)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip().splitlines() == [
        f"error: the node's API port {api_port} on 127.0.0.1 is already in use — another "
        "node or program listens there: stop it, or give this node another port ([api] "
        f"port in {home / 'node.toml'})"
    ], r.stderr
    assert " up: " not in r.stdout + r.stderr  # no p2p links, no consensus
    assert not (home / "data" / "chain.db").exists()  # the store was not even opened


def test_a_taken_p2p_port_is_named_and_the_node_starts_once_it_is_free(
    tmp_path: Path,
) -> None:
    api_port, p2p_port = _ports()
    home = _one_node(tmp_path / "net", api_port, p2p_port)
    with _held(p2p_port):
        r = _start(home)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip().splitlines() == [
        f"error: the node's p2p port {p2p_port} on 127.0.0.1 is already in use — another "
        "node or program listens there: stop it, or give this node another port ([p2p] "
        f"port in {home / 'node.toml'})"
    ], r.stderr
    assert not (home / "data" / "chain.db").exists()
    # Both ports free: the node serves its API on the socket it took first.
    node = NodeProcess(home, api_port, ["node", "start", "--home", str(home)])
    try:
        node.start(timeout=120)
        assert http_get(node.url + "/v1/status", timeout=30).json()["height"] >= 1
    finally:
        node.stop()
