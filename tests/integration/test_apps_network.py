"""Every shipped application's demo and end-to-end scenario on a real 4-validator network:
each organisation's members talk to their own node, and all four nodes end up with the
same blocks and state roots."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from rich.console import Console

from tianfu.apps import photo_sharing
from tianfu.apps.common.scenario import ensure_deployed
from tianfu.apps.photo_sharing import demo
from tianfu.apps.photo_sharing.certificate import ImageMismatch, verify_certificate
from tianfu.apps.photo_sharing.scenario import fresh_picture
from tianfu.apps.photo_sharing.sdk import PhotoSharing, licence_terms
from tianfu.apps.registry import NAMES as APPS
from tianfu.bench.netcheck import assert_identical, free_base_ports, height, wait_height
from tianfu.cli.common import load_genesis_file
from tianfu.client import Client
from tianfu.node.demo import create_demos
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.testing.appruns import AppRuns

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


@pytest.fixture(scope="module")
def app_runs(env: LocalnetEnv) -> Iterator[AppRuns]:
    """Every application's demo and scenario, started at once (they share the blocks)."""
    runs = AppRuns(env)
    try:
        yield runs
    finally:
        runs.close()


@pytest.mark.parametrize("app", APPS)
def test_demo_then_scenario(app_runs: AppRuns, app: str) -> None:
    run = app_runs.result(app)
    print(f"{app}: demo {run.demo_s:.1f}s, scenario {run.scenario_s:.1f}s")


def committed_txs_after(url: str, start: int) -> int:
    """Transactions in the blocks after height `start` (the chain also makes empty blocks)."""
    total, h = 0, start + 1
    while h <= height(url):
        doc = httpx.get(url + "/v1/blocks", params={"from": h, "limit": 100}, timeout=10).json()
        total += sum(b["tx_count"] for b in doc["blocks"])
        h += 100
    return total


def test_up_demo_again_finds_the_data_and_writes_nothing(
    net: LocalNetwork, app_runs: AppRuns
) -> None:
    """What `tianfu up --demo` does on a resumed chain: every demo is found, none recreated."""
    app_runs.wait_all()
    url = net.url(net.configs[0])
    start = height(url)
    console = Console(record=True, width=120, file=io.StringIO())
    summaries = create_demos(net, console)
    out = console.export_text()
    assert list(summaries) == list(APPS), out
    assert "failed" not in out, out
    assert all(app in out for app in APPS), out
    assert out.count("try: tianfu ") == len(APPS), "each app should say what to try next"
    # The hints name this network (its genesis file and its URL), not the default one.
    assert ".tianfu/localnet/genesis.bin" not in out, out
    assert str(net.home / "genesis.bin") in out.replace("\n", ""), out
    assert f"--url {url}" in out, out
    # A transaction sent by mistake would be pending in a node's mempool or committed since.
    mempools = [
        httpx.get(net.url(c) + "/v1/status", timeout=30).json()["mempool"] for c in net.configs
    ]
    assert mempools == [0] * len(net.configs), "a second demo run sent transactions"
    # Demo transactions wait for their commit; three more blocks leave none in flight.
    wait_height([url], height(url) + 3, 60)
    assert committed_txs_after(url, start) == 0, "a second demo run wrote transactions"


def test_photo_sharing_across_nodes(env: LocalnetEnv, net: LocalNetwork) -> None:
    """A photo registered through one node, its retouched copy through another: the copy is
    flagged to both authors; the bytes uploaded to one node and checked there reach every
    other node (announced over p2p, fetched and checked again there) with no upload to
    them; a third node's certificate verifies offline against the genesis file."""
    author_id = env.identity(env.orgs[0], "net-photographer")
    copier_id = env.identity(env.orgs[1], "net-copier")
    author, copier = PhotoSharing(env.client(author_id)), PhotoSharing(env.client(copier_id))
    ensure_deployed(env, author.client, photo_sharing.NAME, photo_sharing.source())
    seed, photo = fresh_picture(author)
    pid = author.register(photo.image, "Chunxi road", licence_terms("cc-by"))
    seed_copy = demo.retouched(seed)
    cid = copier.register(seed_copy, "Chunxi road, edited")
    assert copier.get(cid)["near"][0][0] == pid
    assert [f["photo"] for f in author.flags(pid)] == [cid]
    node3 = Client(net.url(net.configs[2]), genesis=net.genesis)
    assert PhotoSharing(node3).flags(cid)[0]["author"] == author_id.info.address
    # Bytes: uploaded to the author's node only; every other node gets them from its peers
    # (pushed by announcement: the files appear before anyone asks that node for them).
    assert author.download(photo.sha256) == photo.image
    others = [c for c in net.configs if net.url(c) != author.client.url]
    assert len(others) == 3
    blobs = {photo.sha256: photo.image, photo.thumb_sha256: photo.thumbnail}
    wanted = [c.data / "photos" / sha[:2] / sha for c in others for sha in blobs]
    deadline = time.monotonic() + 120
    while not all(p.is_file() for p in wanted):
        assert time.monotonic() < deadline, [str(p) for p in wanted if not p.is_file()]
        time.sleep(0.2)
    for cfg in others:
        node = PhotoSharing(Client(net.url(cfg), genesis=net.genesis))
        for sha, data in blobs.items():
            assert node.download(sha) == data, (cfg.name, sha)
    # An upload there now finds the bytes held already.
    assert [a["stored"] for a in author.upload(photo, node3)] == [False, False]
    # Authorship: exported by node 3, verified with nothing but the genesis file.
    cert = json.loads(json.dumps(PhotoSharing(node3).certificate(pid)))
    trusted = load_genesis_file(net.home / "genesis.bin")
    proven = verify_certificate(cert, photo.image, trusted)
    assert (proven.photo_id, proven.author) == (pid, author_id.info.address)
    with pytest.raises(ImageMismatch):
        verify_certificate(cert, seed_copy, trusted)


def test_all_nodes_hold_the_same_chain(net: LocalNetwork) -> None:
    urls = [net.url(c) for c in net.configs]
    wait_height(urls, max(height(u) for u in urls), 120)
    top = assert_identical(urls)
    assert top > 20, f"the applications should have written many blocks, got {top}"
