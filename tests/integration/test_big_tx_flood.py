"""On a real 4-validator network, a member flooding 200 KB transactions (about the largest
whose bytes fit `max_gas_per_tx`: `tianfu.execution.costs.tx_gas`), with a block gas budget
raised so that they make a backlog of full 8 MB blocks, never stops the chain: heights keep coming within a deadline and the flood
commits. Short timeouts stand in for a loaded machine (a full block cannot be built,
moved and executed within round 0's timeouts); before proposals shrank per failed round,
were re-sent with backoff and waited for while being executed, such a network stayed at
one height for tens of seconds."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tianfu.bench.netcheck import free_base_ports, height
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.types import ConsensusParams

pytestmark = pytest.mark.timeout(400)

HELLO = "def greet(ctx, name):\n    return len(name)\n"
SIZE = 200_000


def flood(tmp_path, seconds: float, backlog: int, max_gap: float) -> None:
    api, p2p = free_base_ports(5)
    params = ConsensusParams(timeout_propose_ms=500, timeout_delta_ms=50, max_block_gas=40_000_000)
    net, _ = LocalNetwork.prepare(
        tmp_path / "net", 4, True, api_base_port=api, p2p_base_port=p2p, params=params
    )
    net.start()
    try:
        net.wait_ready(timeout=120)
        env = LocalnetEnv(net)
        env.deploy("hello", HELLO)
        urls = [net.url(c) for c in net.configs]
        member = env.admin("org2")
        sent: list[str] = []

        def one(i: int) -> None:
            r = member.invoke("hello", "greet", f"{i}" + "x" * SIZE, check=False, wait=False)
            sent.append(r.tx_hash)

        start = height(urls[0])
        t0 = last_change = time.monotonic()
        last, gaps = start, []
        with ThreadPoolExecutor(4) as pool:
            i = 0
            while time.monotonic() - t0 < seconds:
                more = backlog - member.status()["mempool"]  # keep the backlog full
                if more > 0:
                    list(pool.map(one, range(i, i + more)))
                    i += more
                h = height(urls[0])
                now = time.monotonic()
                if h != last:
                    gaps.append(now - last_change)
                    last, last_change = h, now
                time.sleep(0.3)
        gaps.append(time.monotonic() - last_change)
        print(f"heights {start}..{last}, longest {max(gaps):.1f}s, {len(sent)} sent")
        assert len(sent) >= 2 * backlog
        assert max(gaps) < max_gap, f"a height took {max(gaps):.1f}s (gaps {gaps})"
        # the flood is committed, not stuck in the mempool
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and member.status()["mempool"] > 0:
            time.sleep(0.5)
        assert member.status()["mempool"] == 0
        assert height(urls[0]) >= start + 10
    finally:
        net.stop()


def test_a_member_flooding_large_transactions_does_not_stop_the_chain(tmp_path):
    flood(tmp_path, seconds=40, backlog=96, max_gap=10.0)


@pytest.mark.slow
def test_a_long_flood_of_large_transactions_does_not_stop_the_chain(tmp_path):
    flood(tmp_path, seconds=180, backlog=96, max_gap=10.0)
