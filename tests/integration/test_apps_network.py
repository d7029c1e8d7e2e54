"""Every shipped application's demo and end-to-end scenario on a real 4-validator network:
each organisation's members talk to their own node, and all four nodes end up with the
same blocks and state roots."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import httpx
import pytest
from rich.console import Console

from tianfu.apps.registry import NAMES as APPS
from tianfu.apps.registry import application
from tianfu.bench.netcheck import assert_identical, free_base_ports, height, wait_height
from tianfu.node.demo import create_demos
from tianfu.node.localnet import LocalnetEnv, LocalNetwork

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    api, p2p = free_base_ports(4)
    home = tmp_path_factory.mktemp("apps") / "net"
    network, _ = LocalNetwork.prepare(home, 4, True, api_base_port=api, p2p_base_port=p2p)
    network.start()
    try:
        network.wait_ready(timeout=90)
        yield network
    finally:
        network.stop()


@pytest.fixture(scope="module")
def env(net: LocalNetwork) -> LocalnetEnv:
    return LocalnetEnv(net)


@pytest.mark.parametrize("app", APPS)
def test_demo_then_scenario(env: LocalnetEnv, app: str) -> None:
    entry = application(app)
    t0 = time.monotonic()
    summary = entry.create_demo(env)
    assert summary, f"{app}: the demo returned an empty summary"
    t1 = time.monotonic()
    entry.run_scenario(env)
    print(f"{app}: demo {t1 - t0:.1f}s, scenario {time.monotonic() - t1:.1f}s")


def committed_txs_after(url: str, start: int) -> int:
    """Transactions in the blocks after height `start` (the chain also makes empty blocks)."""
    total, h = 0, start + 1
    while h <= height(url):
        doc = httpx.get(url + "/v1/blocks", params={"from": h, "limit": 100}, timeout=10).json()
        total += sum(b["tx_count"] for b in doc["blocks"])
        h += 100
    return total


def test_up_demo_again_finds_the_data_and_writes_nothing(net: LocalNetwork) -> None:
    """What `tianfu up --demo` does on a resumed chain: every demo is found, none recreated."""
    url = net.url(net.configs[0])
    start = height(url)
    console = Console(record=True, width=120, file=io.StringIO())
    summaries = create_demos(net, console)
    out = console.export_text()
    assert list(summaries) == list(APPS), out
    assert "failed" not in out, out
    assert all(app in out for app in APPS), out
    assert out.count("try: tianfu ") == len(APPS), "each app should say what to try next"
    # A transaction sent by mistake would be pending in a node's mempool or committed since.
    mempools = [
        httpx.get(net.url(c) + "/v1/status", timeout=30).json()["mempool"] for c in net.configs
    ]
    assert mempools == [0] * len(net.configs), "a second demo run sent transactions"
    # Demo transactions wait for their commit; three more blocks leave none in flight.
    wait_height([url], height(url) + 3, 60)
    assert committed_txs_after(url, start) == 0, "a second demo run wrote transactions"


def test_all_nodes_hold_the_same_chain(net: LocalNetwork) -> None:
    urls = [net.url(c) for c in net.configs]
    wait_height(urls, max(height(u) for u in urls), 120)
    top = assert_identical(urls)
    assert top > 20, f"the applications should have written many blocks, got {top}"
