"""Proofs survive membership changes, on a real 4-validator network of node processes.

The consortium changes its validator set several times by governance votes (a fifth
organisation is admitted and its validator added, a validator's power changed, a validator
removed). After each change a state read, a transaction with its receipt, an evidence
certificate and a traceability lookup are issued and saved; at the end every one of them
is verified against the genesis alone, with the command line (separate processes) and with
the SDK — and a light client that trusts only the genesis follows every change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tianfu.apps.evidence import demo as evidence_demo
from tianfu.apps.evidence.certificate import verify_certificate
from tianfu.apps.evidence.sdk import Evidence
from tianfu.apps.traceability import demo as trace_demo
from tianfu.apps.traceability.sdk import Traceability
from tianfu.bench.netcheck import free_base_ports, height, wait_height
from tianfu.client import Client
from tianfu.client import governance as gov
from tianfu.crypto import generate_keypair
from tianfu.identity import OrgCA
from tianfu.node.localnet import LocalnetEnv, LocalNetwork
from tianfu.proofs.documents import dump_document, verify_document

pytestmark = pytest.mark.timeout(900)

TIANFU = str(Path(sys.executable).with_name("tianfu"))


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    api, p2p = free_base_ports(4)
    home = tmp_path_factory.mktemp("proofs") / "net"
    network, _ = LocalNetwork.prepare(home, 4, True, api_base_port=api, p2p_base_port=p2p)
    network.start()
    try:
        network.wait_ready(timeout=90)
        yield network
    finally:
        network.stop()


def cli(*args: Any, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TIANFU, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TIANFU_URL": url},
    )


def passed(admins: list[Client], pid: str) -> int:
    """Vote a proposal through with `admins`; the height it was decided at."""
    for admin in admins:
        r = gov.vote(admin, pid)
        if r.result["status"] == "activated":
            assert r.height is not None
            return r.height
    raise AssertionError(f"proposal {pid} was not activated")


def test_every_proof_issued_after_each_change_verifies_against_the_genesis(net, tmp_path):
    env = LocalnetEnv(net)
    urls = [net.url(c) for c in net.configs]
    url = urls[0]
    genesis_file = net.home / "genesis.bin"
    admins = [env.admin(o) for o in env.orgs]
    ev_summary = evidence_demo.create_demo(env)
    trace_demo.create_demo(env)
    depositor = Evidence(env.client(evidence_demo.cast(env)["depositor"]))
    public = Client(url, None, genesis=net.genesis)
    issued: list[dict[str, Any]] = []

    def issue(stage: str, changes: int, after: int) -> None:
        """Issue and save the four proofs after a change effective at block `after`."""
        wait_height(urls, after + 1, 60)
        data = f"evidence of stage {stage}".encode()
        did = depositor.deposit(data, f"Stage {stage}")
        files = {
            "data": tmp_path / f"{stage}.bin",
            "evidence": tmp_path / f"{stage}-evidence.json",
            "state": tmp_path / f"{stage}-state.json",
            "tx": tmp_path / f"{stage}-tx.json",
            "trace": tmp_path / f"{stage}-trace.json",
        }
        files["data"].write_bytes(data)
        cert = depositor.certificate(did)
        files["evidence"].write_text(dump_document(cert))
        tx_hash = depositor.get(did)["tx"]
        # The state read and the transaction with its receipt through the command line.
        r = cli("state", "evidence", f"dep:{did}", "--prove", "--genesis", genesis_file,
                "--out", files["state"], url=url)  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = cli("tx", "proof", tx_hash, "--genesis", genesis_file, "--out", files["tx"], url=url)
        assert r.returncode == 0, r.stderr
        lookup = Traceability(public).lookup_document("LJ-TIN-001")
        files["trace"].write_text(dump_document(lookup))
        assert cert["height"] >= after and lookup["height"] >= after
        issued.append({"stage": stage, "changes": changes, "files": files})

    issue("start", 0, height(url))
    # 1. A fifth organisation is admitted, then its validator (5 members: 4 approvals).
    ca5 = OrgCA.create("org5")
    passed(admins, gov.propose_add_org(admins[0], "org5", ca5.cert_der))
    key5 = generate_keypair()
    h = passed(admins, gov.propose_add_validator(admins[0], "node5", "org5", key5.public_key, 1))
    issue("org5-added", 1, h + 2)
    # 2. A validator's voting power changes.
    h = passed(admins, gov.propose_set_power(admins[1], "node1", 3))
    issue("power-changed", 2, h + 2)
    # 3. A validator is removed.
    h = passed(admins, gov.propose_remove_validator(admins[2], "node5"))
    issue("node5-removed", 3, h + 2)

    genesis = net.genesis
    for item in issued:
        files, changes = item["files"], item["changes"]
        for name in ("state", "tx", "trace", "evidence"):
            doc = json.loads(files[name].read_text())
            assert len(doc["validator_changes"]) == changes + 1, (item["stage"], name)
            # The SDK, trusting only the genesis.
            verify_document(doc, genesis)
            # The command line, offline, in another process.
            r = cli(
                "verify-proof",
                files[name],
                "--genesis",
                genesis_file,
                "--json",
                url="http://127.0.0.1:9",
            )
            assert r.returncode == 0, (item["stage"], name, r.stderr)
            assert json.loads(r.stdout)["verified"] is True
        proven = verify_certificate(
            files["evidence"].read_text(), files["data"].read_bytes(), genesis
        )
        assert proven.validator_changes == changes
        r = cli("evidence", "verify", files["data"], files["evidence"], "--genesis", genesis_file,
                url="http://127.0.0.1:9")  # fmt: skip
        assert r.returncode == 0 and "verified" in r.stdout, r.stderr
        r = cli("app", "traceability", "verify", files["trace"], "--genesis", genesis_file,
                url="http://127.0.0.1:9")  # fmt: skip
        assert r.returncode == 0, r.stderr

    # A light client that trusts only the genesis follows every change on its own.
    top = height(url)
    light = Client(url, None, genesis=genesis)
    assert light.read_state("evidence", f"dep:{ev_summary['deposit_id']}").height >= top
    assert [v["name"] for v in light.prove_validators().document["validators"]] == [
        "node1",
        "node2",
        "node3",
        "node4",
    ]
    history = light.prove_history("governance", "validators").document
    assert len(history["versions"]) == 4 and history["complete"]
    trusted = light.light_client.trusted_sets()
    assert len(trusted) == 4  # the genesis set and three changes
    batches = list(light.stream_block_events(top - 2, top))
    assert [b.height for b in batches] == [top - 2, top - 1, top]
    r = cli("tx", "absent", "ab" * 32, "--genesis", genesis_file, url=url)
    assert r.returncode == 0 and "not committed" in r.stdout, r.stderr
