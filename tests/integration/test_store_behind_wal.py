"""A validator alone in its set whose store is behind its consensus WAL (blocks it decided are
lost: a `chain.db` restored from a copy, or its `-wal` file lost after a kill -9 between a
block's COMMIT and its checkpoint). Nobody else holds those blocks and the signer refuses to
sign there again, so the node decides them again from the proposals and votes its WAL
logged: the same blocks, then the chain goes on."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from tianfu.bench.netcheck import free_base_ports, height
from tianfu.node.localnet import LocalNetwork

pytestmark = pytest.mark.timeout(300)


def block_hash(url: str, h: int) -> str:
    return str(httpx.get(f"{url}/v1/blocks/{h}", timeout=5).json()["hash"])


def test_single_validator_with_store_behind_its_wal_decides_the_lost_blocks_again(
    tmp_path: Path,
) -> None:
    api, p2p = free_base_ports(1)
    net, _ = LocalNetwork.prepare(tmp_path / "net", 1, True, api_base_port=api, p2p_base_port=p2p)
    cfg = net.configs[0]
    url = net.url(cfg)
    db = cfg.home / "data" / "chain.db"
    try:
        net.start()
        net.wait_ready(timeout=120, min_height=2)
        net.stop_node(cfg.name)
        old = tmp_path / "chain.db.old"
        shutil.copy(db, old)
        net.start_node(cfg)
        net.wait_ready(timeout=120)
        behind = height(url)
        net.wait_ready(timeout=120, min_height=behind + 3)
        net.stop_node(cfg.name)
        net.start_node(cfg)  # (read the hashes the node decided, then stop it again)
        net.wait_ready(timeout=120)
        decided = {h: block_hash(url, h) for h in range(behind + 1, behind + 4)}
        net.stop_node(cfg.name)

        shutil.copy(old, db)  # the store goes back: blocks behind+1.. are lost
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        net.start_node(cfg)
        deadline = time.monotonic() + 120
        while height(url) < behind + 5:
            proc = net.procs[cfg.name]
            assert proc.poll() is None, net.log_path(cfg).read_text()[-3000:]
            assert time.monotonic() < deadline, (
                f"stuck at {height(url)}:\n{net.log_path(cfg).read_text()[-3000:]}"
            )
            time.sleep(0.3)
        assert {h: block_hash(url, h) for h in decided} == decided
        # the blocks decided again carry the precommit times of their first decision: no
        # clock warning about them
        restarted = net.log_path(cfg).read_text().rsplit(" up: api ", 1)[1]
        assert "ahead of the network's time" not in restarted, restarted
    finally:
        net.stop()
