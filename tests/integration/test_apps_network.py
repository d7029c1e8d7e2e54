"""Every shipped application's demo and end-to-end scenario on a real 4-validator network:
each organisation's members talk to their own node, and all four nodes end up with the
same blocks and state roots."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator

import pytest

from tianfu.node.demo import APPS
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.testing.netcheck import assert_identical, free_base_ports, height, wait_height

pytestmark = pytest.mark.timeout(300)


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
    demo = importlib.import_module(f"tianfu.apps.{app}.demo")
    scenario = importlib.import_module(f"tianfu.apps.{app}.scenario")
    t0 = time.monotonic()
    summary = demo.create_demo(env)
    assert summary, f"{app}: the demo returned an empty summary"
    t1 = time.monotonic()
    scenario.run_scenario(env)
    print(f"{app}: demo {t1 - t0:.1f}s, scenario {time.monotonic() - t1:.1f}s")


def test_all_nodes_hold_the_same_chain(net: LocalNetwork) -> None:
    urls = [net.url(c) for c in net.configs]
    wait_height(urls, max(height(u) for u in urls), 30)
    top = assert_identical(urls)
    assert top > 20, f"the applications should have written many blocks, got {top}"
