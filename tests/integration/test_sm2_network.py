"""A 4-validator network of the SM2/SM3 suite (`tianfu network init --scheme sm2`), real node
processes on loopback, one network shared by every check of this module (in order): commits
agreed by all, the other suite's transactions refused, proofs verified by the SDK, the spec
verifier and the console's verifier, every
application's demo and scenario, kill -9 and catch-up, and a fifth organisation (with its
SM2 CA) admitted by vote whose validator then takes part in consensus."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tianfu.apps.registry import NAMES as APPS
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
from tianfu.client.verify import verify_document_json
from tianfu.codec import SM3, encode, hash_domain_with
from tianfu.consensus.privval import SIGNER_FILE, FilePrivValidator
from tianfu.crypto import ED25519, SM2, current_suite, sign_tx
from tianfu.identity import Identity, OrgCA
from tianfu.node.config import NodeConfig
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.testing.appruns import AppRuns
from tianfu.types import TxBody

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "spec_verifier"))
import specverify  # noqa: E402

NODE = shutil.which("node")
RUNNER = ROOT / "tests" / "js" / "verify_runner.mjs"

pytestmark = pytest.mark.timeout(900)

WAIT_S = 180.0


def wait_for(pred, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    api, p2p = free_base_ports(5)
    home = tmp_path_factory.mktemp("sm2") / "net"
    network, _ = LocalNetwork.prepare(
        home, 4, True, api_base_port=api, p2p_base_port=p2p, scheme=SM2
    )
    network.start()
    try:
        network.wait_ready(timeout=120)
        yield network
    finally:
        network.stop()


def urls(net: LocalNetwork) -> list[str]:
    return [net.url(c) for c in net.configs]


def users(net: LocalNetwork) -> list[Identity]:
    return [Identity.load(net.home / c.org / "identities" / "user") for c in net.configs[:4]]


def admin_client(net: LocalNetwork, i: int = 0) -> Client:
    c = net.configs[i]
    return Client(
        net.url(c), Identity.load(net.home / c.org / "identities" / "admin"), genesis=net.genesis
    )


def start_load(net: LocalNetwork, targets: list[str] | None = None) -> Load:
    return Load(
        targets or urls(net)[:4],
        users(net),
        net.genesis,
        "governance",
        "get_identity",
        ("x",),
        threads=4,
    ).start()


def check_acked(url: str, acked: list[str]) -> None:
    counts = committed_tx_counts(url)
    assert all(counts[h] == 1 for h in acked), "an acknowledged transaction is missing or twice"


def test_the_chain_is_sm2_and_its_validators_agree(net: LocalNetwork) -> None:
    genesis = net.genesis
    assert genesis.suite == "sm2" and {v.scheme for v in genesis.validators} == {SM2}
    assert current_suite().name == "standard"  # this test process: every check is scoped
    load = start_load(net)
    wait_for(lambda: len(load.acked) >= 8, "8 acknowledged transactions")
    acked = load.stop()
    wait_height(urls(net), max(height(u) for u in urls(net)), WAIT_S)
    assert_identical(urls(net))
    check_acked(urls(net)[0], acked)
    status = httpx.get(urls(net)[0] + "/v1/status", timeout=10).json()
    assert status["genesis_hash"] == genesis.hash.hex()


def test_a_transaction_of_the_other_suite_is_refused(net: LocalNetwork) -> None:
    ed = OrgCA.create("org1", ED25519).issue("mallory", "member")
    body = TxBody(
        1,
        net.genesis.chain_id,
        ED25519,
        ed.keypair.public_key,
        7,
        height(urls(net)[0]) + 20,
        "governance",
        "get_identity",
        ["x"],
        ed.cert_der,
    )
    r = httpx.post(
        urls(net)[1] + "/v1/txs",
        content=encode(sign_tx(ed.keypair, body)),
        headers={"content-type": "application/octet-stream"},
        timeout=30,
    )
    assert 400 <= r.status_code < 500, r.text
    assert "ed25519 signatures are not accepted on this chain" in r.text


def test_proofs_verify_with_sm3_in_the_sdk(net: LocalNetwork, tmp_path) -> None:
    admin = admin_client(net, 1)
    r = admin.invoke("governance", "get_identity", "proof")
    assert r.ok
    tx = admin.get_tx(r.tx_hash)
    body_hash = hash_domain_with(SM3, "tianfu/tx/v1", encode(tx.tx.body))
    assert body_hash.hex() == r.tx_hash
    assert admin.verify_tx_inclusion(r.tx_hash).height == r.height
    address = admin.identity.info.address
    value = admin.read_state("governance", f"cert/{address}")
    assert value.value is not None and value.height >= r.height
    doc = admin.prove_state("governance", f"cert/{address}").document
    assert doc["suite"] == "sm2"
    # Offline, against the genesis alone, in a process that otherwise hashes with SHA-256.
    assert verify_document_json(doc, net.genesis).kind == "state"
    tampered = dict(doc, suite="standard")
    with pytest.raises(Exception, match="suite"):
        verify_document_json(tampered, net.genesis)
    # The spec verifier and the console's (under Node) take the document and refuse the
    # tampered one: the 4 validators' SM2 precommits verify in all three.
    genesis_bytes = (net.home / "genesis.bin").read_bytes()
    assert specverify.verify_document(doc, genesis_bytes)["kind"] == "state"
    with pytest.raises(specverify.Invalid):
        specverify.verify_document(tampered, genesis_bytes)
    if NODE is not None:
        cases = [{"cert": json.dumps(d), "genesis_hex": genesis_bytes.hex(), "file_hex": None,
                  "kind": "state"} for d in (doc, tampered)]  # fmt: skip
        out = subprocess.run([NODE, str(RUNNER)], input=json.dumps(cases), capture_output=True,
                             text=True, timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr
        ok, bad = json.loads(out.stdout)
        assert ok["ok"] and not bad["ok"], (ok, bad)
    # The command line, offline: `tianfu verify-proof FILE --genesis G`.
    from typer.testing import CliRunner

    from tianfu.cli.main import app

    (tmp_path / "doc.json").write_text(json.dumps(doc))
    (tmp_path / "bad.json").write_text(json.dumps(tampered))
    genesis_file = str(net.home / "genesis.bin")
    ok = CliRunner().invoke(
        app, ["verify-proof", str(tmp_path / "doc.json"), "--genesis", genesis_file]
    )
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(
        app, ["verify-proof", str(tmp_path / "bad.json"), "--genesis", genesis_file]
    )
    assert bad.exit_code == 1 and "suite" in bad.output


@pytest.fixture(scope="module")
def app_runs(net: LocalNetwork) -> Iterator[AppRuns]:
    """Every application's demo and scenario, started at once (they share the blocks)."""
    runs = AppRuns(LocalnetEnv(net))
    try:
        yield runs
    finally:
        runs.close()


@pytest.mark.parametrize("app", APPS)
def test_every_application_demo_and_scenario(app_runs: AppRuns, app: str) -> None:
    app_runs.result(app)


def test_kill9_validator_restarts_and_catches_up(net: LocalNetwork) -> None:
    load = start_load(net)
    wait_for(lambda: len(load.acked) >= 2, "the load to get going")
    victim = net.configs[2]
    net.stop_node(victim.name, sig=signal.SIGKILL)
    before = len(load.acked)
    wait_for(lambda: len(load.acked) >= before + 4, "commits by the three others")
    net.start_node(victim)
    restarted = net.url(victim)
    earlier = set(dict(load.acked_where))
    wait_for(
        lambda: any(
            where[0] == restarted and h not in earlier
            for h, where in dict(load.acked_where).items()
        ),
        "a transaction acknowledged by the restarted node",
    )
    acked = load.stop()
    wait_height(urls(net), max(height(u) for u in urls(net)), WAIT_S)
    assert_identical(urls(net))
    check_acked(urls(net)[0], acked)


def test_fifth_org_with_an_sm2_ca_admitted_by_vote_joins_consensus(net: LocalNetwork) -> None:
    ca5 = OrgCA.create("org5", SM2)
    admin5 = ca5.issue("admin", "admin")
    node5 = ca5.issue("node5", "node")
    assert node5.keypair.scheme == SM2
    a0 = admin_client(net, 0)
    pid = gov.propose_add_org(a0, "org5", ca5.cert_der)
    for i in range(3):
        gov.vote(admin_client(net, i), pid)
    wait_for(lambda: "org5" in [o["name"] for o in a0.orgs()], "org5 at node 1")
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
    pid = gov.propose_add_validator(a0, "node5", "org5", node5.keypair.public_key, 1, scheme=SM2)
    a5 = Client(net.url(cfg5), admin5, genesis=net.genesis)
    # node5 admits its admin's vote once it has synced the block that admitted org5.
    wait_for(lambda: "org5" in [o["name"] for o in a5.orgs()], "org5 at node5")
    for c in [a0, admin_client(net, 1), admin_client(net, 2), a5]:
        gov.vote(c, pid)
    wait_for(lambda: any(v["name"] == "node5" for v in gov.list_validators(a0)), "node5 at node 1")
    # With node1 down, 4 of 5 validators remain, exactly a quorum: blocks commit only if
    # node5 votes.
    wait_height(urls(net), height(urls(net)[0]) + 3, WAIT_S)
    net.stop_node(net.configs[0].name)
    live = [net.url(c) for c in net.configs[1:]]
    h0 = max(height(u) for u in live)
    c3 = Client(live[0], users(net)[2], genesis=net.genesis)
    r = c3.invoke("governance", "get_identity", "x")
    assert r.ok and r.height > h0
    wait_height(live, r.height, WAIT_S)
    assert_identical(live)
    # The validators document after the change still verifies against the genesis alone.
    doc = Client(live[0], genesis=net.genesis).prove_validators().document
    assert any(v["name"] == "node5" for v in doc["validators"])
    assert verify_document_json(doc, net.genesis).kind == "validators"


def test_dev_chain_with_sm2(tmp_path) -> None:
    """`tianfu dev --scheme sm2`: a one-validator SM2 chain that commits and proves."""
    from tianfu.node.dev import load_genesis
    from tianfu.testing.processes import NodeProcess

    home = tmp_path / "dev"
    port = free_base_ports(1)[0] + 1
    node = NodeProcess(
        home, port, ["dev", "--home", str(home), "--port", str(port), "--scheme", "sm2"]
    ).start(timeout=WAIT_S)
    try:
        status = httpx.get(node.url + "/v1/status", timeout=10).json()
        assert status["suite"] == "sm2"
        genesis = load_genesis(home)
        admin = Client(node.url, Identity.load(home / "identities" / "admin"), genesis=genesis)
        assert admin.identity is not None and admin.identity.keypair.scheme == SM2
        r = admin.invoke("governance", "get_identity", "x")
        assert r.ok and admin.verify_tx_inclusion(r.tx_hash).height == r.height
    finally:
        node.stop()
    # Resuming the same home with another suite is refused with a clear message.
    again = NodeProcess(
        home, port, ["dev", "--home", str(home), "--port", str(port), "--scheme", "ed25519"]
    )
    again.start_process()
    assert again.proc is not None and again.proc.wait(60) != 0
    assert "uses the 'sm2' crypto suite" in again.log()
