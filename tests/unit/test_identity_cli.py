"""`tianfu cert revoke` / `tianfu identity revoke` (by address, certificate file, fingerprint,
serial), the supervisory-role commands of `tianfu gov`, and their SDK helpers."""

import hashlib
import json

import pytest
from test_governance_cli import chain, gov_cli  # noqa: F401 (fixture)
from typer.testing import CliRunner

from tianfu.cli.main import app
from tianfu.client import ClientError
from tianfu.client import governance as gov
from tianfu.identity.certs import der_to_pem

runner = CliRunner()


def cli(group, *args):
    return runner.invoke(app, [group, *(str(a) for a in args)])


def test_revoke_commands_refuse_certificates_that_never_transacted(chain, tmp_path):  # noqa: F811
    ids = tmp_path / "ids"
    by_file = chain.identity("org1", "leaked-file")
    by_fp = chain.identity("org1", "leaked-fp")
    by_serial = chain.identity("org1", "leaked-serial")
    (tmp_path / "leaked.pem").write_bytes(der_to_pem(by_file.cert_der))
    r = cli(
        "cert", "revoke", "--cert", tmp_path / "leaked.pem", "--identity", ids / "org1", "--json"
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["result"]["fingerprint"] == hashlib.sha256(by_file.cert_der).hexdigest()
    fp = hashlib.sha256(by_fp.cert_der).hexdigest()
    colons = ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper()
    r = cli("identity", "revoke", "--fingerprint", colons, "--identity", ids / "org1")
    assert r.exit_code == 0, r.output
    r = cli(
        "identity", "revoke", "--serial", hex(by_serial.info.serial), "--identity", ids / "org1"
    )
    assert r.exit_code == 0, r.output
    for who in (by_file, by_fp, by_serial):
        receipt = chain.call(who, "governance", "list_orgs")
        assert not receipt.ok and "revoked" in receipt.error
    # Usage errors exit 2; a failed transaction exits 1.
    r = cli("cert", "revoke", "--identity", ids / "org1")
    assert r.exit_code == 2 and "exactly one of" in r.output
    r = cli("cert", "revoke", "--fingerprint", "xyz", "--identity", ids / "org1")
    assert r.exit_code == 2
    r = cli("cert", "revoke", "--serial", "twelve", "--identity", ids / "org1")
    assert r.exit_code == 2
    r = cli("cert", "revoke", "--cert", tmp_path / "leaked.pem", "--identity", ids / "org1")
    assert r.exit_code == 1 and "already revoked" in r.output
    r = cli("cert", "revoke", "--cert", tmp_path / "leaked.pem", "--identity", ids / "org2")
    assert r.exit_code == 1 and "not a certificate issued by org2" in r.output
    # By address, as before, for a registered identity.
    user = chain.identity("org1", "registered")
    assert chain.call(user, "governance", "list_orgs").ok
    r = cli("cert", "revoke", user.info.address, "--identity", ids / "org1")
    assert r.exit_code == 0, r.output
    assert not chain.call(user, "governance", "list_orgs").ok


def test_revoke_by_a_file_that_is_no_certificate_sends_nothing(chain, tmp_path):  # noqa: F811
    """`cert revoke --cert` with a file that holds no certificate was sent as a transaction
    and failed on chain with the parser's 'error parsing asn1 value: ...'."""
    notes = tmp_path / "notes.txt"
    notes.write_text("the leaked key is on the old laptop\n")
    height = chain.ledger.height
    r = cli("cert", "revoke", "--cert", notes, "--identity", tmp_path / "ids" / "org1")
    assert r.exit_code == 1, r.output
    assert f"error: {notes} is not an X.509 certificate (PEM or DER)" in r.stderr
    assert chain.ledger.height == height


def test_supervisory_role_commands(chain, tmp_path):  # noqa: F811
    ids = tmp_path / "ids"
    user = chain.identity("org2", "auditor-to-be")
    assert chain.call(user, "governance", "list_orgs").ok
    r = cli("role", "grant", user.info.address, "auditor", "--identity", ids / "org2")
    assert r.exit_code == 1 and "supervisory" in r.output
    r = gov_cli("supervisory-roles", "--json")
    assert "auditor" in json.loads(r.stdout)
    r = gov_cli(
        "propose", "grant-role", user.info.address, "auditor", "--identity", ids / "org2", "--json"
    )
    assert r.exit_code == 0, r.output
    pid = json.loads(r.stdout)["result"]
    for org in ("org1", "org2", "org3"):
        r = gov_cli("vote", pid, "--identity", ids / org, "--json")
    assert json.loads(r.stdout)["result"]["status"] == "activated"
    assert "auditor" in chain.query("governance", "get_identity", user.info.address)["roles"]
    r = gov_cli(
        "propose", "supervisory-roles", "regulator", "court", "--identity", ids / "org1", "--json"
    )
    assert r.exit_code == 0, r.output
    r = gov_cli("show", json.loads(r.stdout)["result"], "--json")
    assert json.loads(r.stdout)["args"] == {"roles": ["court", "regulator"]}


def test_sdk_grant_role_and_revocation_helpers(chain):  # noqa: F811
    admins = [chain.client(chain.admins[o]) for o in chain.orgs]
    user = chain.identity("org1", "sdk-user")
    assert chain.call(user, "governance", "list_orgs").ok
    assert "regulator" in gov.supervisory_roles(admins[0])
    assert gov.grant_role(admins, user.info.address, "shipper").ok  # ordinary: one admin
    pid = gov.grant_role(admins, user.info.address, "regulator")  # supervisory: a vote
    assert gov.get_proposal(admins[0], pid)["status"] == "activated"
    roles = chain.query("governance", "get_identity", user.info.address)["roles"]
    assert roles == ["regulator", "shipper"]
    with pytest.raises(ClientError):
        gov.grant_role(admins[:1], user.info.address, "court")  # one approval is not enough
    other = chain.identity("org1", "sdk-leak")
    assert not gov.is_revoked(admins[0], other.cert_der)
    gov.revoke_certificate(admins[0], der_to_pem(other.cert_der))
    assert gov.is_revoked(admins[0], other.cert_der)
    third = chain.identity("org1", "sdk-serial")
    gov.revoke_serial(admins[0], third.info.serial)
    assert gov.is_revoked(admins[0], third.cert_der)
    assert gov.fingerprint(third.cert_der) == hashlib.sha256(third.cert_der).hexdigest()
