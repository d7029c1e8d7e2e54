"""Proofs survive membership changes, on a real 4-validator network of node processes.

The consortium changes its validator set several times by governance votes (a fifth
organisation is admitted and its validator added, a validator's power changed, a validator
removed). After each change a state read, a transaction with its receipt, an evidence
certificate and a traceability lookup are issued and saved; at the end every one of them
is verified against the genesis alone, with the command line (separate processes), with
the SDK and with the independent verifier written only from docs/spec — and a light client
that trusts only the genesis follows every change. Every readable field and every byte of
the last certificate, changed, is refused by the project's verifier and the independent one."""

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
from tianfu.proofs.errors import VerificationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "spec_verifier"))
import specverify  # noqa: E402
import specwire  # noqa: E402

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
    genesis_bytes = genesis_file.read_bytes()
    for item in issued:
        files, changes = item["files"], item["changes"]
        for name in ("state", "tx", "trace", "evidence"):
            doc = json.loads(files[name].read_text())
            assert len(doc["validator_changes"]) == changes + 1, (item["stage"], name)
            # The SDK, trusting only the genesis.
            verify_document(doc, genesis)
            # The verifier written only from the specification, from the saved file.
            proven = specverify.verify_document(files[name].read_bytes(), genesis_bytes)
            assert len(proven["validator_changes"]) == changes + 1
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
        deposit = verify_certificate(
            files["evidence"].read_text(), files["data"].read_bytes(), genesis
        )
        assert deposit.validator_changes == changes
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


def readable_changes(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document with one readable field changed, renamed, deleted, or one added."""

    def walk(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(
            node, list) else ()  # fmt: skip
        for k, v in items:
            if path or k != "raw":
                yield from walk(v, (*path, k))

    for path, node in list(walk(doc, ())):
        if not path:
            yield {**doc, "extra": 1}
            continue
        *up, last = path
        other = {bool: lambda v: not v, int: lambda v: v + 1, str: lambda v: v + "0"}.get(
            type(node), lambda v: None if v is not None else 0)(node)  # fmt: skip
        for how in ("change", "rename", "delete"):
            if how == "rename" and not isinstance(last, str):
                continue
            mutated = json.loads(json.dumps(doc))
            parent = mutated
            for p in up:
                parent = parent[p]
            if how == "change":
                parent[last] = other
            elif how == "rename":
                parent[last + "_"] = parent.pop(last)
            else:
                del parent[last]
            yield mutated


def refused_by_both(doc: Any, genesis: Any, genesis_bytes: bytes) -> bool:
    try:
        verify_document(doc, genesis)
        return False
    except VerificationError:
        pass
    try:
        specverify.verify_document(doc, genesis_bytes)
        return False
    except specwire.Invalid:
        return True


def test_every_change_of_the_last_certificate_is_refused(net, tmp_path):
    """After every membership change of the test above (this module's network): the
    latest evidence certificate, each readable field changed and every 5th byte of its
    bundle flipped, is refused by both verifiers (0 accepted)."""
    env = LocalnetEnv(net)
    depositor = Evidence(env.client(evidence_demo.cast(env)["depositor"]))
    did = depositor.deposit(b"tamper target", "Tamper target")
    cert = json.loads(json.dumps(depositor.certificate(did)))
    genesis, genesis_bytes = net.genesis, (net.home / "genesis.bin").read_bytes()
    assert len(cert["validator_changes"]) >= 2  # issued after the changes of the test above
    specverify.verify_document(cert, genesis_bytes)
    changes = list(readable_changes(cert))
    accepted = [c for c in changes if not refused_by_both(c, genesis, genesis_bytes)]
    raw = bytes.fromhex(cert["raw"])
    flips = range(0, len(raw), 5)
    accepted_bytes = [
        i for i in flips if not refused_by_both(
            {**cert, "raw": (raw[:i] + bytes([raw[i] ^ 0xFF]) + raw[i + 1 :]).hex()},
            genesis, genesis_bytes)
    ]  # fmt: skip
    print(f"{len(changes)} readable changes, {len(flips)} bytes flipped: "
          f"{len(accepted)} and {len(accepted_bytes)} accepted")  # fmt: skip
    assert len(changes) > 100 and not accepted and not accepted_bytes
