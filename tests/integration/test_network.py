"""A 4-organisation network of real node processes on loopback: agreement, crashes, quorum
loss, partitions, and a fifth organisation admitted by vote while the network runs."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from tianfu.bench.netcheck import (
    Load,
    assert_identical,
    committed_tx_counts,
    free_base_ports,
    height,
    wait_height,
)
from tianfu.client import Client
from tianfu.client import governance as gov
from tianfu.client.errors import ClientError, TxTimeout
from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator
from tianfu.identity import Identity, OrgCA
from tianfu.node import faults
from tianfu.node.config import NodeConfig
from tianfu.node.localnet import LocalNetwork

pytestmark = pytest.mark.timeout(600)

# Deadlines for what a test waits for: generous, so that a busy machine only makes a test
# slower, never failing (each wait ends as soon as its condition holds).
WAIT_S = 180.0


def wait_for(pred, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def net(tmp_path, monkeypatch) -> Iterator[LocalNetwork]:
    monkeypatch.setenv(faults.ENV, "1")
    api, p2p = free_base_ports(5)
    network, _ = LocalNetwork.prepare(
        tmp_path / "net", 4, True, api_base_port=api, p2p_base_port=p2p
    )
    network.start()
    try:
        network.wait_ready(timeout=90)
        yield network
    finally:
        network.stop()


def urls(net: LocalNetwork) -> list[str]:
    return [net.url(c) for c in net.configs]


def users(net: LocalNetwork) -> list[Identity]:
    return [Identity.load(net.home / c.org / "identities" / "user") for c in net.configs]


def admin_client(net: LocalNetwork, i: int = 0) -> Client:
    c = net.configs[i]
    return Client(
        net.url(c), Identity.load(net.home / c.org / "identities" / "admin"), genesis=net.genesis
    )


def start_load(net: LocalNetwork, threads: int = 4) -> Load:
    # Every user calls a state-changing governance view-free method that always succeeds:
    # registering (first use) and then reading its own identity record through a tx.
    ids = users(net)
    return Load(
        urls(net), ids, net.genesis, "governance", "get_identity", ("x",), threads=threads
    ).start()


def check_acked(net: LocalNetwork, acked: list[str]) -> None:
    counts = committed_tx_counts(urls(net)[0])
    missing = [h for h in acked if counts[h] == 0]
    assert not missing, f"{len(missing)} acknowledged transactions are missing"
    assert all(counts[h] == 1 for h in acked), "an acknowledged transaction was committed twice"


def probe_stays_pending(net: LocalNetwork, i: int, seconds: float = 20.0) -> bool:
    """Submit a fresh transaction to node `i` and ask the node to wait `seconds` for its
    commit: True when the node answers that it is still pending (202)."""
    c = net.configs[i]
    who = Identity.load(net.home / c.org / "identities" / "admin")
    client = Client(net.url(c), who, genesis=net.genesis, timeout=seconds)
    try:
        return not client.invoke("governance", "get_identity", "probe", check=False).committed
    except TxTimeout:
        return True
    finally:
        client.close()


def test_four_validators_agree_on_txs_sent_to_every_node(net):
    load = start_load(net)
    wait_for(lambda: len(load.acked) >= 8, "8 acknowledged transactions")
    acked = load.stop()
    wait_height(urls(net), max(height(u) for u in urls(net)), WAIT_S)
    assert_identical(urls(net))
    check_acked(net, acked)


def test_kill9_validator_under_load_restarts_and_catches_up(net):
    load = start_load(net)
    wait_for(lambda: len(load.acked) >= 2, "the load to get going")
    victim = net.configs[2]
    net.stop_node(victim.name, sig=signal.SIGKILL)
    killed_at = time.monotonic()
    before = len(load.acked)
    wait_for(lambda: len(load.acked) >= before + 4, "commits by the three others")
    time.sleep(max(0.0, killed_at + 10.5 - time.monotonic()))  # down for >= 10 s
    net.start_node(victim)
    restarted = net.url(victim)
    # The restarted node serves again: a transaction sent to it is acknowledged by it,
    # which it does only once it has caught up and committed that transaction itself.
    earlier = set(dict(load.acked_where))
    wait_for(
        lambda: (
            any(
                where[0] == restarted and h not in earlier
                for h, where in dict(load.acked_where).items()
            )
            and len(load.acked) >= 10
        ),
        "a transaction acknowledged by the restarted node",
    )
    acked = load.stop()
    top = max(height(u) for u in urls(net))
    wait_height(urls(net), top, WAIT_S)  # the restarted node catches up
    assert_identical(urls(net))
    check_acked(net, acked)
    assert len(acked) >= 10


def test_two_of_four_down_halts_then_resumes(net):
    a, b = net.configs[2], net.configs[3]
    net.stop_node(a.name)  # both processes have exited when these return: no quorum left,
    net.stop_node(b.name)  # only a block already in flight may still commit
    live = urls(net)[:2]
    h0 = max(height(u) for u in live)
    admin = admin_client(net)
    r = admin.invoke("governance", "grant_role", admin.identity.info.address, "clerk", wait=False)
    # Each live node waits 20 s for a commit of a fresh transaction and sees none.
    assert probe_stays_pending(net, 0) and probe_stays_pending(net, 1)
    assert max(height(u) for u in live) <= h0 + 1, "blocks were committed without a quorum"
    net.start_node(a)  # 3 of 4: progress resumes
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            if admin.get_tx(r.tx_hash).receipt.ok:
                break
        except ClientError:  # not committed yet (404), or the node is still starting
            pass
        time.sleep(0.3)
    else:
        raise AssertionError("the pending transaction did not commit after quorum returned")
    net.start_node(b)
    wait_height(urls(net), max(height(u) for u in live), WAIT_S)
    assert_identical(urls(net))


def test_partition_2_2_no_fork_then_heals(net):
    load = start_load(net)
    wait_for(lambda: len(load.acked) >= 2, "the load to get going")
    left, right = net.configs[:2], net.configs[2:]
    for c in left:
        faults.set_partition(c.data, [r.org for r in right])
    for c in right:
        faults.set_partition(c.data, [x.org for x in left])
    # The split is in effect once a node on each side waits 20 s for a commit in vain
    # (the filter re-reads its file once a second).
    wait_for(lambda: probe_stays_pending(net, 0) and probe_stays_pending(net, 2), "the split")
    h_split = max(height(u) for u in urls(net))
    assert probe_stays_pending(net, 1) and probe_stays_pending(net, 3)
    assert max(height(u) for u in urls(net)) == h_split, "a 2|2 split committed blocks"
    for c in net.configs:
        faults.heal(c.data)
    acked = load.stop()
    wait_height(urls(net), h_split + 2, WAIT_S)
    assert_identical(urls(net))
    check_acked(net, acked)


def test_isolated_node_rejoins_without_fork(net):
    lone = net.configs[0]
    faults.set_partition(lone.data, [c.org for c in net.configs[1:]])
    for c in net.configs[1:]:
        faults.set_partition(c.data, [lone.org])
    load = Load(
        urls(net)[1:], users(net)[1:], net.genesis, "governance", "get_identity", ("x",), threads=3
    ).start()
    wait_for(lambda: len(load.acked) >= 5, "commits by the three connected nodes")
    for c in net.configs:
        faults.heal(c.data)
    acked = load.stop()
    wait_height(urls(net), max(height(u) for u in urls(net)[1:]), WAIT_S)
    assert_identical(urls(net))
    check_acked(net, acked)


def test_fifth_org_admitted_by_vote_joins_consensus(net, tmp_path):
    # org5 prepares its CA, admin and node identity on its own machine.
    ca5 = OrgCA.create("org5")
    admin5 = ca5.issue("admin", "admin")
    node5 = ca5.issue("node5", "node")
    # The members vote: more than 2/3 of 4 organisations, i.e. 3 approvals.
    a0 = admin_client(net, 0)
    pid = gov.propose_add_org(a0, "org5", ca5.cert_der)
    for i in range(3):
        gov.vote(admin_client(net, i), pid)
    # the last vote committed at node 3; node 1 (a0's) applies that block a moment later
    wait_for(lambda: "org5" in [o["name"] for o in a0.orgs()], "org5 at node 1")
    # Start org5's node as a (not yet voting) member: it syncs the chain.
    api, p2p = free_base_ports(1)
    home5 = net.home / "org5" / "node5"
    node5.save(home5 / "identity")
    cfg5 = NodeConfig(
        home=home5,
        name="node5",
        org="org5",
        validator=True,
        genesis=(net.home / "genesis.bin").resolve(),
        identity=(home5 / "identity").resolve(),
        data=(home5 / "data").resolve(),
        api_port=api + 1,
        p2p_port=p2p + 1,
        peers=[(c.p2p_host, c.p2p_port) for c in net.configs],
    )
    cfg5.save()
    # What `tianfu node init` does for a validator: a signer file that has signed nothing
    # (a validator without one refuses to start, unless --new-signer-state).
    FilePrivValidator.initialise(node5.keypair, cfg5.data / SIGNER_FILE)
    net.configs.append(cfg5)
    net.start_node(cfg5)
    net.wait_ready(timeout=WAIT_S)
    # Then its validator is added by the same vote (now 4 of 5 needed: > 2/3 of 5).
    pid = gov.propose_add_validator(a0, "node5", "org5", node5.keypair.public_key, 1)
    a5 = Client(net.url(cfg5), admin5, genesis=net.genesis)
    for c in [a0, admin_client(net, 1), admin_client(net, 2), a5]:
        gov.vote(c, pid)
    wait_for(lambda: any(v["name"] == "node5" for v in gov.list_validators(a0)), "node5 at node 1")
    # It takes part: with node1 down, 4 of 5 validators remain — exactly a quorum (> 2/3 of 5),
    # so blocks commit only if node5 votes.
    wait_height(urls(net), height(urls(net)[0]) + 3, WAIT_S)
    net.stop_node(net.configs[0].name)
    live = [net.url(c) for c in net.configs[1:]]
    h0 = max(height(u) for u in live)
    c3 = Client(
        live[0], Identity.load(net.home / "org3" / "identities" / "user"), genesis=net.genesis
    )
    r = c3.invoke("governance", "get_identity", "x")
    assert r.ok and r.height > h0
    wait_height(live, r.height, WAIT_S)
    assert_identical(live)
