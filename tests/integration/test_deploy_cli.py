"""The multi-machine deployment flow of docs/ops/deploy.md, through the CLI: each org makes
its own CA and identities, the genesis is assembled from public certificates, each node is
configured with `node init` and started with `node start`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tianfu.bench.netcheck import assert_identical, free_base_ports, wait_height
from tianfu.testing.processes import NodeProcess

pytestmark = pytest.mark.timeout(240)


def tianfu(*args: str, cwd) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "tianfu", *args], cwd=cwd, capture_output=True, text=True
    )
    assert r.returncode == 0, f"tianfu {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_four_orgs_from_separate_cas_make_a_chain(tmp_path):
    api, p2p = free_base_ports(4)
    for i in range(1, 5):
        tianfu("ca", "create", f"org{i}", "--out", f"org{i}/ca", cwd=tmp_path)
        tianfu(
            "identity",
            "issue",
            "--ca",
            f"org{i}/ca",
            "--name",
            "admin",
            "--kind",
            "admin",
            "--out",
            f"org{i}/identities/admin",
            cwd=tmp_path,
        )
        tianfu(
            "identity",
            "issue",
            "--ca",
            f"org{i}/ca",
            "--name",
            f"node{i}",
            "--kind",
            "node",
            "--out",
            f"org{i}/node{i}-identity",
            cwd=tmp_path,
        )
    args = ["genesis", "create", "--chain-id", "acme", "--out", "shared/genesis.bin"]
    for i in range(1, 5):
        args += [
            "--org",
            f"org{i}=org{i}/ca/ca.pem",
            "--validator",
            f"org{i}/node{i}-identity/cert.pem",
        ]
    tianfu(*args, cwd=tmp_path)
    # A member certificate is refused as a validator.
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "tianfu",
            "genesis",
            "create",
            "--org",
            "org1=org1/ca/ca.pem",
            "--validator",
            "org1/identities/admin/cert.pem",
            "--out",
            "x/genesis.bin",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "node certificate" in bad.stderr
    nodes = []
    for i in range(1, 5):
        peers = [a for j in range(1, 5) if j != i for a in ("--peer", f"127.0.0.1:{p2p + j}")]
        tianfu(
            "node",
            "init",
            "--home",
            f"org{i}/node",
            "--identity",
            f"org{i}/node{i}-identity",
            "--genesis",
            "shared/genesis.bin",
            "--api",
            f"127.0.0.1:{api + i}",
            "--p2p",
            f"127.0.0.1:{p2p + i}",
            *peers,
            cwd=tmp_path,
        )
        nodes.append(
            NodeProcess(
                tmp_path / f"org{i}" / "node",
                api + i,
                ["node", "start", "--home", str(tmp_path / f"org{i}" / "node")],
            )
        )
    try:
        for n in nodes:  # start all before waiting: no block commits without a quorum
            n.start_process()
        urls = [n.url for n in nodes]
        wait_height(urls, 3, 90)
        assert_identical(urls)
    finally:
        for n in nodes:
            n.stop()
