"""The CLI chooses the crypto suite: network init, genesis create, ca/identity with SM2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tianfu.cli.main import app
from tianfu.codec import decode
from tianfu.crypto import SM2
from tianfu.identity import Identity
from tianfu.types import Genesis

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_network_init_with_sm2_makes_an_sm2_chain(tmp_path: Path) -> None:
    r = run(
        "network", "init", "--out", tmp_path / "net", "--orgs", "2", "--scheme", "sm2", "--json"
    )
    assert r.exit_code == 0, r.output
    g = decode((tmp_path / "net" / "genesis.bin").read_bytes(), Genesis)
    assert g.suite == "sm2" and {v.scheme for v in g.validators} == {SM2}
    admin = Identity.load(tmp_path / "net" / "org1" / "identities" / "admin")
    assert admin.keypair.scheme == SM2


def test_genesis_create_takes_the_certificates_suite_and_refuses_a_mix(tmp_path: Path) -> None:
    for org, scheme in (("org1", "sm2"), ("org2", "sm2"), ("org3", "ed25519")):
        assert (
            run("ca", "create", org, "--out", tmp_path / org / "ca", "--scheme", scheme).exit_code
            == 0
        )
        r = run(
            "identity",
            "issue",
            "--ca",
            tmp_path / org / "ca",
            "--name",
            f"node-{org}",
            "--kind",
            "node",
            "--out",
            tmp_path / org / "node",
        )
        assert r.exit_code == 0, r.output
    sm2_orgs = [
        "--org",
        f"org1={tmp_path / 'org1/ca/ca.pem'}",
        "--org",
        f"org2={tmp_path / 'org2/ca/ca.pem'}",
    ]
    sm2_vals = [
        "--validator",
        tmp_path / "org1/node/cert.pem",
        "--validator",
        tmp_path / "org2/node/cert.pem",
    ]
    r = run(
        "genesis", "create", *sm2_orgs, *sm2_vals, "--out", tmp_path / "g1/genesis.bin", "--json"
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["suite"] == "sm2"
    made = decode((tmp_path / "g1/genesis.bin").read_bytes(), Genesis)
    assert made.suite == "sm2"
    assert made.version == 2  # its votes sign its hash (ADR 0039)
    # A standard organisation among SM2 ones, or --scheme naming the other suite: refused.
    mixed = [*sm2_orgs, "--org", f"org3={tmp_path / 'org3/ca/ca.pem'}"]
    r = run("genesis", "create", *mixed, *sm2_vals, "--out", tmp_path / "g2/genesis.bin")
    assert r.exit_code != 0 and "org3" in r.output and "not accepted" in r.output
    r = run(
        "genesis",
        "create",
        *sm2_orgs,
        *sm2_vals,
        "--scheme",
        "ed25519",
        "--out",
        tmp_path / "g3/genesis.bin",
    )
    assert r.exit_code != 0 and "sm2 signatures are not accepted" in r.output
    assert not (tmp_path / "g2/genesis.bin").exists() and not (tmp_path / "g3/genesis.bin").exists()


def test_an_sm2_ca_issues_sm2_identities_only(tmp_path: Path) -> None:
    assert run("ca", "create", "org1", "--out", tmp_path / "ca", "--scheme", "sm2").exit_code == 0
    r = run(
        "identity",
        "issue",
        "--ca",
        tmp_path / "ca",
        "--name",
        "u",
        "--kind",
        "member",
        "--out",
        tmp_path / "u",
        "--scheme",
        "ed25519",
    )
    assert r.exit_code != 0 and "SM2 keys only" in r.output


def test_up_makes_an_sm2_network_and_refuses_to_switch_a_resumed_one(tmp_path: Path) -> None:
    from tianfu.node.localnet import LocalNetwork

    home = tmp_path / "localnet"
    net, created = LocalNetwork.prepare(home, 2, False, scheme=SM2)
    assert created and net.genesis.suite == "sm2"
    # Resuming it with another suite is refused before any node starts (exit 2, says why).
    r = run("up", "--home", home, "--scheme", "ed25519")
    assert r.exit_code == 2, r.output
    assert "'sm2' chain" in r.output and "--fresh" in r.output
    assert decode((home / "genesis.bin").read_bytes(), Genesis).suite == "sm2"


def test_genesis_create_refuses_a_validator_key_that_can_never_sign(tmp_path: Path) -> None:
    """A node certificate its organisation's CA signed over a small-order Ed25519 point (the
    identity here): such a validator would hold quorum power it can never sign with, for
    the chain's life (bond and add_validator refuse the same key)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from tianfu.identity.certs import issue_cert
    from tianfu.identity.files import OrgCA

    ca = OrgCA.create("org1")
    ca.save(tmp_path / "ca")
    good = run(
        "identity",
        "issue",
        "--ca",
        tmp_path / "ca",
        "--name",
        "node1",
        "--kind",
        "node",
        "--out",
        tmp_path / "node1",
    )
    assert good.exit_code == 0, good.output
    identity_point = Ed25519PublicKey.from_public_bytes(bytes([1]) + bytes(31))
    der = issue_cert(ca.keypair, ca.cert_der, "node2", "node", identity_point)
    bad = tmp_path / "node2.der"
    bad.write_bytes(der)
    args = ["genesis", "create", "--org", f"org1={tmp_path / 'ca/ca.pem'}"]
    ok = run(*args, "--validator", tmp_path / "node1/cert.pem", "--out", tmp_path / "g1.bin")
    assert ok.exit_code == 0, ok.output
    r = run(
        *args,
        "--validator",
        tmp_path / "node1/cert.pem",
        "--validator",
        bad,
        "--out",
        tmp_path / "g2.bin",
    )
    assert r.exit_code == 2, r.output
    assert "node2" in r.output and "ed25519" in r.output.lower()
    assert not (tmp_path / "g2.bin").exists()
